"""Convert a SwinV2 / SimMIM checkpoint into an mmengine checkpoint of ``mim_scaling``.

Sources understood:
- the authors' released SimMIM checkpoints (``swinv2_base_1k_500k.pth`` ...): ``model`` holds
  ``encoder.*`` and ``decoder.0.*`` tensors (some with the old ``rpe_mlp`` name) next to a
  pickled config object, which is read as an inert placeholder: nothing in the file runs;
- the authors' released fine-tuned classifiers (``finetune_swinv2_base_1k_500k.pth`` ...):
  the encoder without prefix and the classifier ``head.weight``/``head.bias``;
- a timm ``swinv2_*`` state dict (``torch.save(model.state_dict(), ...)``);
- a checkpoint written by our own pre-training (``tools/train.py`` on a configs/pretrain file).

Output (see ``mim_scaling.models.backbones.swinv2_convert``): ``backbone.*`` and, when the
source has a decoder, ``neck.decoder.0.*`` keys, a checkpoint of ``mim_scaling.SimMIM``
(``load_from``, ``tools/test.py`` on a pre-training config, or a backbone's ``init_cfg``);
when the source has a classifier head, ``head.fc.*`` keys, an mmpretrain ``ImageClassifier``
checkpoint for ``tools/test.py configs/imagenet/swinv2-*_ft_in1k.py``; with
``--backbone-only`` the ``backbone.*`` tensors alone. ``meta['pretrained_window_sizes']``
records the windows of the pre-training.

Examples::

    python tools/model_converters/simmim2mmengine.py swinv2_base_1k_500k.pth \\
        work_dirs/pretrained/swinv2_base_1k_500k_backbone.pth --backbone-only
    python tools/model_converters/simmim2mmengine.py finetune_swinv2_base_1k_500k.pth \\
        work_dirs/pretrained/finetune_swinv2_base_1k_500k.pth
"""
import argparse
import sys
from pathlib import Path

import torch

from mim_scaling.safe_loading import UnsafeCheckpointError, load_foreign_checkpoint
from mim_scaling.models.backbones.swinv2_convert import convert_checkpoint, describe


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='released SimMIM or fine-tuned SwinV2 checkpoint, timm state '
                        'dict, or our own pre-training checkpoint')
    parser.add_argument('dst', help='output mmengine checkpoint (.pth)')
    parser.add_argument('--backbone-only', action='store_true',
                        help='keep only the backbone.* weights (for downstream init_cfg)')
    args = parser.parse_args(argv)

    if not Path(args.src).is_file():
        sys.exit(f'error: {args.src} does not exist')
    try:
        converted = convert_checkpoint(load_foreign_checkpoint(args.src), args.backbone_only)
    except UnsafeCheckpointError as e:
        sys.exit(f'error: {e}')
    except ValueError as e:
        sys.exit(f'error: {args.src}: {e}')
    Path(args.dst).parent.mkdir(parents=True, exist_ok=True)
    torch.save(converted, args.dst)
    print(f'wrote {args.dst}: {describe(converted)}')


if __name__ == '__main__':
    main()
