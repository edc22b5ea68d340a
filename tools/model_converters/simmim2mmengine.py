"""Convert a SwinV2 / SimMIM checkpoint into an mmengine checkpoint of ``mim_scaling``.

Sources understood:
- the authors' released SimMIM checkpoints (``swinv2_base_1k_500k.pth`` ...): ``model`` holds
  ``encoder.*`` and ``decoder.0.*`` tensors (some with the old ``rpe_mlp`` name) next to a
  pickled config object, which is read as an inert placeholder: nothing in the file runs;
- a timm ``swinv2_*`` state dict (``torch.save(model.state_dict(), ...)``);
- a checkpoint written by our own pre-training (``tools/train.py`` on a configs/pretrain file).

Output: ``state_dict`` with ``backbone.*`` and, when the source has a decoder,
``neck.decoder.0.*`` keys: a checkpoint of ``mim_scaling.SimMIM`` (``load_from``), or with
``--backbone-only`` the ``backbone.*`` tensors alone, for the ``init_cfg`` of a downstream
backbone (``init_cfg=dict(type='Pretrained', checkpoint=DST)``) or ``load_from`` of any model
that holds the backbone as ``.backbone``.

Example::

    python tools/model_converters/simmim2mmengine.py swinv2_base_1k_500k.pth \\
        work_dirs/pretrained/swinv2_base_1k_500k_backbone.pth --backbone-only
"""
import argparse
import sys
from pathlib import Path

import torch

from mim_scaling.checkpoint import UnsafeCheckpointError, load_foreign_checkpoint
from mim_scaling.models.backbones.swinv2_state_dict import (to_backbone_state_dict,
                                                            unwrap_state_dict)


def convert(checkpoint: dict, backbone_only: bool = False) -> dict:
    """mmengine checkpoint dict (``meta`` and ``state_dict``) from a loaded source checkpoint."""
    backbone = to_backbone_state_dict(checkpoint)
    if not any(k.startswith('layers.') for k in backbone):
        raise ValueError('no SwinV2 weights found (expected keys like '
                         'layers.0.blocks.0.attn.qkv.weight, possibly under encoder. or backbone.)')
    state = {f'backbone.{k}': v for k, v in backbone.items()}
    if not backbone_only:
        tensors = unwrap_state_dict(checkpoint)
        for prefix in ('decoder.', 'neck.decoder.'):
            state.update({f'neck.decoder.{k[len(prefix):]}': v
                          for k, v in tensors.items() if k.startswith(prefix)})
    return dict(meta=dict(converted_by='tools/model_converters/simmim2mmengine.py',
                          backbone_only=backbone_only), state_dict=state)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='released SimMIM/SwinV2 checkpoint, timm state dict, '
                        'or our own pre-training checkpoint')
    parser.add_argument('dst', help='output mmengine checkpoint (.pth)')
    parser.add_argument('--backbone-only', action='store_true',
                        help='keep only the backbone.* weights (for downstream init_cfg)')
    args = parser.parse_args(argv)

    if not Path(args.src).is_file():
        sys.exit(f'error: {args.src} does not exist')
    try:
        converted = convert(load_foreign_checkpoint(args.src), args.backbone_only)
    except UnsafeCheckpointError as e:
        sys.exit(f'error: {e}')
    except ValueError as e:
        sys.exit(f'error: {args.src}: {e}')
    Path(args.dst).parent.mkdir(parents=True, exist_ok=True)
    torch.save(converted, args.dst)
    state = converted['state_dict']
    n_decoder = sum(k.startswith('neck.') for k in state)
    print(f'wrote {args.dst}: {len(state) - n_decoder} backbone and {n_decoder} decoder tensors')


if __name__ == '__main__':
    main()
