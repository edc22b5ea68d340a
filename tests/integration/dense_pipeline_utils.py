"""Helpers of the COCO and ADE20K pipeline tests: a tiny backbone, training as a user would.

Configs are shrunk only through ``tools/train.py --cfg-options``, the mechanism a user has.
"""
import json
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import torch

REPO = Path(__file__).resolve().parents[2]

# Heads must divide the stage widths 16, 32, 64, 128.
TINY_ARCH = dict(embed_dims=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 2, 2])


def tiny_backbone_options(key: str = 'model.backbone') -> Dict[str, object]:
    """cfg-options that replace the arch preset name at ``key`` by :data:`TINY_ARCH`."""
    options = {f'{key}.arch._delete_': True}
    options.update({f'{key}.arch.{k}': v for k, v in TINY_ARCH.items()})
    return options


def narrow_mask_rcnn_options(width: int = 32) -> Dict[str, object]:
    """cfg-options that narrow mmdet's Mask R-CNN FPN and heads from 256 to ``width`` channels
    and sample fewer RoIs: at 256 channels the heads, not the backbone, take most of the time."""
    return {
        'model.neck.out_channels': width,
        'model.rpn_head.in_channels': width,
        'model.rpn_head.feat_channels': width,
        'model.roi_head.bbox_roi_extractor.out_channels': width,
        'model.roi_head.bbox_head.in_channels': width,
        'model.roi_head.bbox_head.fc_out_channels': 2 * width,
        'model.roi_head.mask_roi_extractor.out_channels': width,
        'model.roi_head.mask_head.in_channels': width,
        'model.roi_head.mask_head.conv_out_channels': width,
        'model.train_cfg.rcnn.sampler.num': 64,
        'model.test_cfg.rpn.max_per_img': 100,
        'model.test_cfg.rcnn.max_per_img': 20,
    }


def save_simmim_checkpoint(path: Path) -> Path:
    """A tiny backbone saved as SimMIM pre-training leaves it: 192 px, window 12, ``backbone.``."""
    from mim_scaling.models.backbones import SwinV2
    torch.manual_seed(0)
    backbone = SwinV2(arch=TINY_ARCH, img_size=192, window_size=12, use_mask_token=True)
    backbone.init_weights()
    # Pre-training has moved every block's residual post-norms off their initial zeros,
    # which would otherwise stop all gradient to the attention and MLP in the first update.
    with torch.no_grad():
        for name, param in backbone.named_parameters():
            if '.norm1.' in name or '.norm2.' in name:
                param.normal_(1.0 if name.endswith('weight') else 0.0, 0.02)
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in backbone.state_dict().items()}},
               path)
    return path


def _format(value) -> str:
    """A value as DictAction parses it back: tuples in (), lists in [], no spaces."""
    if isinstance(value, tuple):
        return '(' + ','.join(_format(v) for v in value) + ')'
    if isinstance(value, list):
        return '[' + ','.join(_format(v) for v in value) + ']'
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def train(config: str, work_dir: Path, options: Dict[str, object], timeout: int = 600):
    """Run ``tools/train.py CONFIG --work-dir DIR --cfg-options ...`` and fail with its log."""
    cmd = [sys.executable, 'tools/train.py', config, '--work-dir', str(work_dir),
           '--cfg-options', *(f'{k}={_format(v)}' for k, v in options.items())]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f'{" ".join(cmd)} failed:\n{proc.stdout[-5000:]}\n'
                             f'{proc.stderr[-10000:]}')


def read_scalars(work_dir: Path) -> List[dict]:
    """The records that mmengine's LocalVisBackend logged in the run's ``scalars.json``."""
    files = sorted(Path(work_dir).glob('*/vis_data/scalars.json'))
    assert files, f'no scalars.json under {work_dir}'
    return [json.loads(line) for line in files[-1].read_text().splitlines() if line.strip()]


def load_state_dict(path: Path) -> Dict[str, torch.Tensor]:
    """Model weights of an mmengine checkpoint, loaded safely (weights_only stays on)."""
    import mim_scaling  # noqa: F401  allow-lists the types of mmengine's checkpoints
    return torch.load(path, map_location='cpu', weights_only=True)['state_dict']
