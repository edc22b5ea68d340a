"""Layer-wise lr decay for any model that holds a SwinV2 at ``.backbone``.

mmpretrain's constructor asks the *model* for ``get_layer_depth``, which only its own
classifiers have. Detection and segmentation models (MaskRCNN, EncoderDecoder) do not, so
this constructor asks the backbone instead: a classifier, a detector and a segmentor then
share one rule, and everything outside the backbone (neck, heads) learns at the full rate.
"""
from typing import Callable, List, Optional, Tuple

from mmpretrain.engine.optimizers import LearningRateDecayOptimWrapperConstructor
from torch import nn

from mim_scaling.registry import OPTIM_WRAPPER_CONSTRUCTORS
from .no_weight_decay import with_no_weight_decay_defaults


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class LayerDecayOptimWrapperConstructor(LearningRateDecayOptimWrapperConstructor):
    """Layer-wise lr decay with the no-weight-decay rules of the SwinV2 reference.

    The lr of a parameter with layer id ``k`` out of ``num_layers`` is
    ``lr * layer_decay_rate ** (num_layers - 1 - k)``; ids come from
    ``model.backbone.get_layer_depth(name, 'backbone.')``, and parameters outside the
    backbone get the last id. The reference's no-weight-decay rule
    (:func:`with_no_weight_decay_defaults`, ``'as_intended'``: what the reference's
    fine-tuning ran with) applies; ``paramwise_cfg`` entries override it.

    Example::

        optim_wrapper = dict(
            optimizer=dict(type='AdamW', lr=5e-3, weight_decay=0.05),
            constructor='mim_scaling.LayerDecayOptimWrapperConstructor',
            paramwise_cfg=dict(layer_decay_rate=0.75))
    """

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: Optional[dict] = None):
        # mmpretrain's constructor needs a weight decay to report its groups, and AdamW's
        # implicit default (0.01) is too easy to get by accident: ask for it.
        if optim_wrapper_cfg.get('optimizer', {}).get('weight_decay') is None:
            raise ValueError('LayerDecayOptimWrapperConstructor needs optimizer.weight_decay '
                             '(0 for none)')
        super().__init__(optim_wrapper_cfg, with_no_weight_decay_defaults(paramwise_cfg))

    def add_params(self, params: List[dict], module: nn.Module, prefix: str = '',
                   get_layer_depth: Optional[Callable] = None, **kwargs) -> None:
        # The first call gets the whole model; the recursion passes the rule down.
        if get_layer_depth is None:
            get_layer_depth = self._backbone_layer_depth(module)
        super().add_params(params, module, prefix, get_layer_depth=get_layer_depth, **kwargs)

    @staticmethod
    def _backbone_layer_depth(model: nn.Module) -> Callable[[str], Tuple[int, int]]:
        backbone = getattr(model, 'backbone', None)
        if not hasattr(backbone, 'get_layer_depth'):
            raise TypeError(
                f'Layer-wise lr decay needs a backbone with get_layer_depth at '
                f'{type(model).__name__}.backbone, got {type(backbone).__name__}')

        def get_layer_depth(param_name: str) -> Tuple[int, int]:
            layer_id, num_layers = backbone.get_layer_depth(param_name, 'backbone.')
            if not param_name.startswith('backbone.'):
                layer_id = num_layers - 1  # necks and heads learn at the full rate
            return layer_id, num_layers

        return get_layer_depth
