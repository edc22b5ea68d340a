"""The weight decay of SimMIM pre-training, parameter by parameter, under both rules.

'as_released' is the rule the reference's pre-training ran with: its ``set_weight_decay``
exempts 1-D parameters, names ending in ``.bias``, the exact names of ``no_weight_decay()``
and names containing a keyword of ``no_weight_decay_keywords()``; its SimMIM wrapper prefixes
both with ``encoder.``, so that of the keywords (``encoder.cpb_mlp``, ...) none matches and of
the names ``encoder.mask_token`` does. 'as_intended' exempts the keywords as well.
"""
import pytest
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope

import mim_scaling  # noqa: F401  (registers the constructor and the model)
from mim_scaling.engine.optimizers import MergedGroupsOptimWrapperConstructor

CONFIG = 'configs/pretrain/simmim_swinv2-b_125k_in1k.py'
TINY = dict(embed_dims=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 2, 2])
WEIGHT_DECAY = 0.05  # Table 1's
BLOCKS = [f'backbone.layers.{stage}.blocks.0.' for stage in range(4)]

# Decayed under either rule.
ALWAYS_DECAYED = (
    ['backbone.patch_embed.proj.weight', 'neck.decoder.0.weight']
    + [block + weight for block in BLOCKS for weight in (
        'attn.qkv.weight', 'attn.proj.weight', 'mlp.fc1.weight', 'mlp.fc2.weight')]
    + [f'backbone.layers.{stage}.downsample.reduction.weight' for stage in range(3)])
# The position bias MLPs' weights and the logit scales: decayed as released, not as intended.
POSITION_BIAS_AND_SCALE = [block + name for block in BLOCKS for name in (
    'attn.cpb_mlp.0.weight', 'attn.cpb_mlp.2.weight', 'attn.logit_scale')]
# Never decayed: the mask token, the norms, the biases, the q and v biases.
NEVER_DECAYED = (
    ['backbone.mask_token', 'backbone.patch_embed.proj.bias',
     'backbone.patch_embed.norm.weight', 'backbone.patch_embed.norm.bias',
     'neck.decoder.0.bias']
    + [block + name for block in BLOCKS for name in (
        'attn.q_bias', 'attn.v_bias', 'attn.cpb_mlp.0.bias', 'attn.proj.bias',
        'norm1.weight', 'norm1.bias', 'norm2.weight', 'norm2.bias',
        'mlp.fc1.bias', 'mlp.fc2.bias')]
    + [f'backbone.layers.{stage}.downsample.norm.{kind}'
       for stage in range(3) for kind in ('weight', 'bias')]
    + ['backbone.norm.weight', 'backbone.norm.bias'])


def tiny_simmim():
    cfg = Config.fromfile(CONFIG)
    init_default_scope('mmpretrain')
    cfg.model.backbone.update(arch=TINY, img_size=64, window_size=4)
    cfg.model.neck.in_channels = 16 * 8
    from mmpretrain.registry import MODELS
    return MODELS.build(cfg.model), cfg.optim_wrapper


def weight_decay_by_name(model, optim_wrapper_cfg) -> dict:
    wrapper = build_optim_wrapper(model, optim_wrapper_cfg)
    names = {id(p): n for n, p in model.named_parameters()}
    return {names[id(p)]: group['weight_decay']
            for group in wrapper.optimizer.param_groups for p in group['params']}


def reference_decays(name: str, ndim: int) -> bool:
    """The reference's ``get_pretrain_param_groups`` for the parameter of its SimMIM model
    that carries our parameter's name (``encoder.`` for our ``backbone.``)."""
    name = name.replace('backbone.', 'encoder.', 1).replace('neck.', '', 1)
    skip = {'encoder.' + n for n in ('absolute_pos_embed', 'mask_token')}
    skip_keywords = {'encoder.' + k for k in ('cpb_mlp', 'logit_scale',
                                              'relative_position_bias_table')}
    return not (ndim == 1 or name.endswith('.bias') or name in skip
                or any(keyword in name for keyword in skip_keywords))


def test_pretraining_decays_position_bias_mlps_and_logit_scales_as_released():
    model, optim_cfg = tiny_simmim()
    assert optim_cfg.paramwise_cfg.no_decay_rule == 'as_released'  # the configs' default
    decay = weight_decay_by_name(model, optim_cfg)

    assert sorted(decay) == sorted(ALWAYS_DECAYED + POSITION_BIAS_AND_SCALE + NEVER_DECAYED)
    for name in ALWAYS_DECAYED + POSITION_BIAS_AND_SCALE:
        assert decay[name] == WEIGHT_DECAY, name
    for name in NEVER_DECAYED:
        assert decay[name] == 0., name
    # Parameter by parameter, the reference's rule on the reference's names.
    shapes = dict(model.named_parameters())
    for name, value in decay.items():
        assert value == (WEIGHT_DECAY if reference_decays(name, shapes[name].ndim) else 0.), name


def test_as_intended_exempts_position_bias_mlps_and_logit_scales():
    model, optim_cfg = tiny_simmim()
    optim_cfg.paramwise_cfg.no_decay_rule = 'as_intended'
    decay = weight_decay_by_name(model, optim_cfg)
    for name in ALWAYS_DECAYED:
        assert decay[name] == WEIGHT_DECAY, name
    for name in POSITION_BIAS_AND_SCALE + NEVER_DECAYED:
        assert decay[name] == 0., name


def test_an_unknown_rule_is_named():
    with pytest.raises(ValueError, match=r"no_decay_rule must be one of \['as_intended', "
                                         r"'as_released'\], got 'as_run'"):
        MergedGroupsOptimWrapperConstructor(
            dict(optimizer=dict(type='AdamW', lr=1e-3, weight_decay=WEIGHT_DECAY)),
            dict(no_decay_rule='as_run'))
