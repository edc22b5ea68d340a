"""The SwinV2 reference's no-weight-decay rule, as defaults of mmengine's ``paramwise_cfg``.

Both of the package's optimizer wrapper constructors (pre-training's merged groups and
fine-tuning's layer-wise decay) start from it, so that no config restates it.
"""
from typing import Optional

from mim_scaling.models.backbones import NO_WEIGHT_DECAY_KEYS


def with_no_weight_decay_defaults(paramwise_cfg: Optional[dict]) -> dict:
    """``paramwise_cfg`` with the reference's rule as defaults that its own entries override:
    no weight decay for 1-D parameters (norms, biases and SwinV2's q/v biases, which
    mmengine's ``bias_decay_mult`` misses as they are not named ``bias``) and for those whose
    name contains one of ``NO_WEIGHT_DECAY_KEYS``."""
    paramwise_cfg = dict(paramwise_cfg or {})
    custom_keys = {key: dict(decay_mult=0.) for key in NO_WEIGHT_DECAY_KEYS}
    custom_keys.update(paramwise_cfg.get('custom_keys', {}))
    return {'flat_decay_mult': 0., **paramwise_cfg, 'custom_keys': custom_keys}
