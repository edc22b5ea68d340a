"""The SwinV2 reference's no-weight-decay rule, as defaults of mmengine's ``paramwise_cfg``.

Both of the package's optimizer wrapper constructors (pre-training's merged groups and
fine-tuning's layer-wise decay) start from it, so that no config restates it.

The reference's code exempts 1-D parameters and the parameters named in its models'
``no_weight_decay`` (exact names) and ``no_weight_decay_keywords`` (substrings). Its SimMIM
wrapper prefixes the encoder's keywords with ``encoder.`` (``encoder.cpb_mlp``), which no
parameter name contains (``encoder.layers.0.blocks.0.attn.cpb_mlp.0.weight``): its
pre-training, and so every released SimMIM checkpoint, decayed the weights of the position
bias MLPs and the logit scales, and exempted only the 1-D parameters and the mask token. Its
fine-tuning builds the optimizer on the bare SwinV2, whose keywords do match.
"""
from typing import Optional

from mim_scaling.models.backbones import NO_WEIGHT_DECAY_KEYS

NO_DECAY_RULES = {
    # What the reference's code means, and what its fine-tuning did.
    'as_intended': NO_WEIGHT_DECAY_KEYS,
    # What its SimMIM pre-training did: of its exemptions only the exact name
    # 'encoder.mask_token' matched (its other exact name, the absolute position
    # embedding, is not part of the study's SwinV2).
    'as_released': ('mask_token', ),
}


def with_no_weight_decay_defaults(paramwise_cfg: Optional[dict]) -> dict:
    """``paramwise_cfg`` with the reference's rule as defaults that its own entries override:
    no weight decay for 1-D parameters (norms, biases and SwinV2's q/v biases, which
    mmengine's ``bias_decay_mult`` misses as they are not named ``bias``) and for those whose
    name contains one of the keys of ``paramwise_cfg['no_decay_rule']``: ``'as_intended'``
    (the default: ``NO_WEIGHT_DECAY_KEYS``) or ``'as_released'`` (the mask token alone, as
    the reference's SimMIM pre-training ran). The returned dict is mmengine's, without the
    ``no_decay_rule`` entry."""
    paramwise_cfg = dict(paramwise_cfg or {})
    rule = paramwise_cfg.pop('no_decay_rule', 'as_intended')
    if rule not in NO_DECAY_RULES:
        raise ValueError(f"paramwise_cfg.no_decay_rule must be one of {sorted(NO_DECAY_RULES)}, "
                         f'got {rule!r}')
    custom_keys = {key: dict(decay_mult=0.) for key in NO_DECAY_RULES[rule]}
    custom_keys.update(paramwise_cfg.get('custom_keys', {}))
    return {'flat_decay_mult': 0., **paramwise_cfg, 'custom_keys': custom_keys}
