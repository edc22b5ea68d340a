"""Every value of Table 1 (SimMIM pre-training) holds in every pre-training config."""
import re
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import PARAM_SCHEDULERS, init_default_scope

from mim_scaling.registry import MODELS

ROOT = Path(__file__).parents[2]
MODELS_OF_STUDY = {'s': 'small', 'b': 'base', 'l': 'large', 'h': 'huge', 'g': 'giant'}
EMBED_DIMS = {'s': 96, 'b': 128, 'l': 192, 'h': 352, 'g': 448}
LENGTHS = {125: 109_375, 250: 218_750, 500: 437_500}  # iterations -> step iteration
TINY = dict(embed_dims=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 2, 2])


def config_path(model: str, kiters: int) -> Path:
    return ROOT / f'configs/pretrain/simmim_swinv2-{model}_{kiters}k_in1k.py'


CONFIGS = [(m, k) for m in MODELS_OF_STUDY for k in LENGTHS]


@pytest.mark.parametrize('model,kiters', CONFIGS)
def test_table_1(model, kiters):
    cfg = Config.fromfile(config_path(model, kiters))
    backbone = cfg.model.backbone
    assert backbone.type == 'mim_scaling.SwinV2'
    assert backbone.arch == MODELS_OF_STUDY[model]
    assert (backbone.img_size, backbone.window_size, backbone.patch_size) == (192, 12, 4)
    assert backbone.drop_path_rate == 0.1
    assert backbone.use_mask_token
    assert cfg.model.neck.in_channels == 8 * EMBED_DIMS[model]
    assert cfg.model.neck.encoder_stride == 32
    assert cfg.model.target_generator == dict(type='mim_scaling.SlidingWindowNormTarget',
                                              window_size=47)
    assert cfg.model.head.loss.criterion == 'L1'

    steps = {t['type']: t for t in cfg.train_dataloader.dataset.pipeline}
    assert steps['mim_scaling.SimMIMMaskGenerator'] == dict(
        type='mim_scaling.SimMIMMaskGenerator', input_size=192, mask_patch_size=32,
        model_patch_size=4, mask_ratio=0.6)
    crop = steps['mim_scaling.LoadImageRandomResizedCrop']  # reads and crops in one step
    assert crop.scale == 192
    assert crop.crop_ratio_range == (0.67, 1.0)
    assert crop.aspect_ratio_range == pytest.approx((3 / 4, 4 / 3))
    assert steps['RandomFlip'].prob == 0.5

    assert cfg.train_cfg.type == 'mim_scaling.ResumableIterBasedTrainLoop'
    assert cfg.train_cfg.max_iters == kiters * 1000
    optimizer = cfg.optim_wrapper.optimizer
    assert optimizer == dict(type='AdamW', lr=4e-4, weight_decay=0.05, eps=1e-8,
                             betas=(0.9, 0.999), fused=True)
    assert cfg.optim_wrapper.clip_grad == dict(max_norm=5.0)
    assert cfg.auto_scale_lr.base_batch_size == 2048

    # The comment states GPUs x per-GPU batch; together they make Table 1's 2048.
    gpus, per_gpu = map(int, re.search(r'2048 = (\d+) GPUs x (\d+)',
                                       config_path(model, kiters).read_text()).groups())
    assert gpus * per_gpu == 2048
    assert cfg.train_dataloader.batch_size == per_gpu


@pytest.mark.parametrize('kiters', LENGTHS)
def test_learning_rate_follows_warm_up_and_step_decay(kiters):
    """6250 warm-up iterations to 4e-4, x0.1 at the step iteration of Table 1."""
    cfg = Config.fromfile(config_path('b', kiters))
    optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=4e-4)
    schedulers = [PARAM_SCHEDULERS.build(dict(s, optimizer=optimizer))
                  for s in cfg.param_scheduler]
    step_at = LENGTHS[kiters]
    lr = {}
    for it in range(step_at + 1):
        lr[it] = optimizer.param_groups[0]['lr']
        for s in schedulers:
            s.step()
    assert lr[0] == pytest.approx(4e-4 * 0.005)  # the reference's 5e-7 per 512 images
    assert lr[3125] < lr[6249] < 4e-4
    assert lr[6250] == pytest.approx(4e-4)
    assert lr[step_at - 1] == pytest.approx(4e-4)
    assert lr[step_at] == pytest.approx(4e-5)


def test_no_weight_decay_on_norms_biases_mask_token_cpb_mlp_and_logit_scale():
    cfg = Config.fromfile(config_path('b', 125))
    init_default_scope('mmpretrain')
    cfg.model.backbone.arch = TINY
    cfg.model.neck.in_channels = 16 * 8
    model = MODELS.build(cfg.model)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    decay = {}
    names = {id(p): n for n, p in model.named_parameters()}
    for group in wrapper.optimizer.param_groups:
        for p in group['params']:
            decay[names[id(p)]] = group['weight_decay']
    no_decay = [n for n in decay if n.endswith('.bias') or '.norm' in n or 'mask_token' in n
                or 'cpb_mlp' in n or 'logit_scale' in n or n.endswith(('q_bias', 'v_bias'))]
    assert no_decay and all(decay[n] == 0 for n in no_decay)
    assert decay['backbone.layers.0.blocks.0.attn.qkv.weight'] == 0.05
    assert decay['neck.decoder.0.weight'] == 0.05
    assert all(v == 0.05 for n, v in decay.items() if n not in no_decay)
