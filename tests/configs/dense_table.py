"""Checks shared by the COCO (Table 4) and ADE20K (Table 5) config tests.

The expected values are written in the tests from the paper's Tables 4 and 5 and the reference code,
never read from our configs.
"""
import re

import torch
from config_reading import REPO, load, transform  # noqa: F401
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper


# Embedding widths C of the study's models (reference code); stages have C, 2C, 4C, 8C channels.
WIDTH = dict(small=96, base=128, large=192)
# Depths of SwinV2-S/B/L: layer ids 0 (patch embedding) .. 25 (final norm and heads).
DEPTHS = [2, 2, 18, 2]
PRETRAINED_WINDOW_SIZES = [12, 12, 12, 6]  # 192 px / window 12: the 6x6 last stage uses 6


def check_backbone(cfg: Config, *, arch: str, img_size: int, window_size: int,
                   drop_path: float):
    """SwinV2 with patch 4 and four NCHW outputs, fine-tuned from the checkpoint of init_cfg."""
    assert cfg.custom_imports == dict(imports=['mim_scaling'], allow_failed_imports=False)
    backbone = cfg.model.backbone
    assert backbone.type == 'mim_scaling.SwinV2'
    assert backbone.arch == arch
    assert backbone.img_size == img_size
    assert backbone.patch_size == 4
    assert backbone.window_size == window_size
    assert list(backbone.pretrained_window_sizes) == PRETRAINED_WINDOW_SIZES
    assert backbone.drop_path_rate == drop_path
    assert tuple(backbone.out_indices) == (0, 1, 2, 3)
    # The pre-trained encoder comes from one place: the backbone's init_cfg.
    assert backbone.init_cfg == dict(type='Pretrained', checkpoint=cfg.pretrained)
    assert cfg.pretrained.endswith('.pth')
    assert cfg.get('load_from') is None


def check_adamw(cfg: Config, *, lr: float, weight_decay: float, layer_decay: float):
    optim = cfg.optim_wrapper
    assert optim.type == 'OptimWrapper'
    assert optim.optimizer == dict(type='AdamW', lr=lr, betas=(0.9, 0.999), eps=1e-8,
                                   weight_decay=weight_decay)
    assert optim.get('clip_grad') is None  # no gradient clipping in Tables 4 and 5
    assert optim.constructor == 'mim_scaling.LayerDecayOptimWrapperConstructor'
    assert optim.paramwise_cfg.layer_decay_rate == layer_decay


def check_total_batch(cfg: Config, config: str, total: int):
    """Declared for --auto-scale-lr, and made of the comment's GPUs x per-GPU batch."""
    assert cfg.auto_scale_lr == dict(base_batch_size=total, enable=False)
    text = (REPO / config).read_text()
    declared, gpus, per_gpu = map(int, re.search(
        r'Total batch (\d+) = (\d+) GPUs x (\d+) images', text).groups())
    assert declared == total == gpus * per_gpu
    assert cfg.train_dataloader.batch_size == per_gpu
    assert f'tools/dist_train.sh {config} {gpus}' in text


def param_groups(cfg: Config, registry, width: int = 8):
    """Optimizer groups of the config's model with its backbone narrowed to ``width``.

    The depths stay those of SwinV2-S/B/L, so the layer ids and lr scales are the real ones.
    """
    model_cfg = cfg.model.copy()
    model_cfg.backbone = dict(model_cfg.backbone, init_cfg=None, img_size=64,
                              arch=dict(embed_dims=width, depths=DEPTHS, num_heads=[1, 1, 1, 1]))
    widths = [width * 2**i for i in range(4)]
    if 'neck' in model_cfg:
        model_cfg.neck.in_channels = widths
    else:
        model_cfg.decode_head.in_channels = widths
        model_cfg.auxiliary_head.in_channels = widths[2]
    model = registry.build(model_cfg)
    groups = build_optim_wrapper(model, cfg.optim_wrapper).optimizer.param_groups
    by_name = {g['param_name']: g for g in groups}
    assert len(by_name) == sum(1 for p in model.parameters() if p.requires_grad)
    return by_name


def no_weight_decay(name: str, param: torch.nn.Parameter) -> bool:
    """The reference's rule: 1-D parameters (norms, biases, q/v biases) and these keys."""
    return param.ndim == 1 or any(
        key in name for key in ('mask_token', 'cpb_mlp', 'logit_scale'))
