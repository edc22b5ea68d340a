"""Records the pre-training windows of a SwinV2 backbone in every checkpoint the Runner saves."""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mim_scaling.models.backbones.swinv2 import SwinV2
from mim_scaling.registry import HOOKS


@HOOKS.register_module()
class PretrainedWindowsHook(Hook):
    """Writes ``meta['pretrained_window_sizes']`` into each saved checkpoint.

    The position-bias MLP of a SwinV2 is trained on offsets normalised by a window per
    stage (e.g. ``[12, 12, 12, 6]`` at 192 px / window 12). Whoever fine-tunes the weights
    must set ``pretrained_window_sizes`` to these values, which the state dict alone does not
    tell (the coordinate tables are rebuilt, not stored). The backbone's ``init_cfg`` loading
    reads the key and warns when a config disagrees; the checkpoint converter writes it too.
    :class:`mim_scaling.engine.Runner` adds this hook to every run.
    """

    priority = 'VERY_LOW'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        backbone = getattr(model, 'backbone', None)
        if isinstance(backbone, SwinV2):
            checkpoint.setdefault('meta', {})['pretrained_window_sizes'] = \
                backbone.position_bias_windows()
