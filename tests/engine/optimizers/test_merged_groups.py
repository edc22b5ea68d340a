"""MergedGroupsOptimWrapperConstructor: mmengine's paramwise options in as few groups as needed.

Checked against mmengine's own DefaultOptimWrapperConstructor on the pre-training config's
optimizer: every parameter gets the same options, and a few fused-AdamW steps with gradient
clipping leave the same weights.
"""
import copy

import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope

import mim_scaling  # noqa: F401  (registers the constructor and the model)
from mim_scaling.engine.optimizers import merge_param_groups

CONFIG = 'configs/pretrain/simmim_swinv2-b_125k_in1k.py'
TINY = dict(embed_dims=16, depths=[2, 2, 2, 2], num_heads=[1, 2, 2, 4])


def tiny_simmim_and_optim_cfg():
    cfg = Config.fromfile(CONFIG)
    init_default_scope('mmpretrain')
    cfg.model.backbone.update(arch=TINY, img_size=64, window_size=4)
    cfg.model.neck.in_channels = 16 * 8
    from mmpretrain.registry import MODELS
    return MODELS.build(cfg.model), cfg.optim_wrapper


def options_by_name(model, wrapper):
    names = {id(p): n for n, p in model.named_parameters()}
    defaults = wrapper.optimizer.defaults
    return {names[id(p)]: {k: group.get(k, defaults.get(k)) for k in ('lr', 'weight_decay')}
            for group in wrapper.optimizer.param_groups for p in group['params']}


def test_merge_keeps_order_and_options():
    a, b, c, d = (torch.nn.Parameter(torch.zeros(1)) for _ in range(4))
    groups = [dict(params=[a]), dict(params=[b], weight_decay=0.),
              dict(params=[c]), dict(params=[d], weight_decay=0., lr=1.)]
    merged = merge_param_groups(groups)
    assert [g['params'] for g in merged] == [[a, c], [b], [d]]
    assert [{k: v for k, v in g.items() if k != 'params'} for g in merged] == \
        [{}, {'weight_decay': 0.}, {'weight_decay': 0., 'lr': 1.}]


def test_pretraining_optimizer_has_three_groups_with_mmengines_options_and_updates():
    torch.manual_seed(0)
    model, optim_cfg = tiny_simmim_and_optim_cfg()
    reference_model = copy.deepcopy(model)
    reference_cfg = copy.deepcopy(optim_cfg)
    reference_cfg.pop('constructor')  # mmengine's DefaultOptimWrapperConstructor
    # with the no-weight-decay rule of the reference's pre-training written out
    reference_cfg.paramwise_cfg = dict(
        norm_decay_mult=0., bias_decay_mult=0., flat_decay_mult=0.,
        custom_keys={'mask_token': dict(decay_mult=0.)})
    ours = build_optim_wrapper(model, optim_cfg)
    theirs = build_optim_wrapper(reference_model, reference_cfg)

    assert len(theirs.optimizer.param_groups) == len(list(model.parameters()))
    # Decay; no decay for norms and biases; no decay through custom_keys (mmengine writes
    # lr and decay_mult into those groups too).
    assert len(ours.optimizer.param_groups) == 3
    assert options_by_name(model, ours) == options_by_name(reference_model, theirs)

    for step in range(3):
        for m, wrapper in ((model, ours), (reference_model, theirs)):
            generator = torch.Generator().manual_seed(step)
            loss = sum((p * torch.randn(p.shape, generator=generator)).sum() * 10
                       for p in m.parameters())
            wrapper.update_params(loss)  # backward, clipping to 5.0, fused AdamW
    # The clipping sums the gradients' norms in the order of the groups, which differs: the
    # same weights up to the rounding of that sum (1e-9 here, against updates of 4e-4).
    for (name, p), q in zip(model.named_parameters(), reference_model.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-8, msg=name)
