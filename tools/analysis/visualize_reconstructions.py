"""Reconstructions of the same masked images by several SimMIM checkpoints, side by side.

The study's Figures 4 and 5 put an overfitting model (SwinV2-L pre-trained on 10% of
ImageNet-1K) next to a non-overfitting one (on 100%)::

    python tools/analysis/visualize_reconstructions.py \\
        configs/pretrain/simmim_swinv2-l_500k_in1k.py IMAGE [IMAGE ...] \\
        --checkpoints work_dirs/simmim_swinv2-l_500k_in1k-10pct/iter_500000.pth \\
                      work_dirs/simmim_swinv2-l_500k_in1k/iter_500000.pth \\
        --labels 'IN-1K 10%' 'IN-1K 100%' --out work_dirs/figure4.png

Each row is an image: the original, the masked input, the zero prediction (the local mean
of the visible pixels: what a model that learnt nothing draws), then one reconstruction per
checkpoint. Predictions are mapped back to pixels with the statistics of the visible pixels
alone, so the figure shows nothing of the masked pixels that a model did not predict. The
images go through the config's test pipeline (resize, centre crop and the SimMIM mask,
seeded per image with ``--seed``), once: every checkpoint sees the same crops and the same
masks. Checkpoints are the Runner's pre-training checkpoints or released ones
converted by ``tools/model_converters/simmim2mmengine.py`` (without ``--backbone-only``:
the decoder is needed); ``--model-configs`` gives one config per checkpoint when they are of
different models. Checkpoints load with PyTorch's safe ``weights_only`` loading.
"""
import argparse
import copy
from pathlib import Path

import torch
from mmengine.config import Config
from mmengine.dataset import Compose, default_collate
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint

import mim_scaling  # noqa: F401  (registers the package, installs safe loading)
from mim_scaling.registry import MODELS
from mim_scaling.visualization import display_batch, save_reconstruction_figure


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Original, masked input and the reconstructions of several SimMIM '
        'checkpoints, for the same images and masks (Figures 4 and 5 of the study).')
    parser.add_argument('config', help='pre-training config: test pipeline and model')
    parser.add_argument('images', nargs='+', help='image files')
    parser.add_argument('--checkpoints', nargs='+', required=True, help='SimMIM checkpoints')
    parser.add_argument('--labels', nargs='+', help='column titles, one per checkpoint '
                        '(default: the work dir and file name of each)')
    parser.add_argument('--model-configs', nargs='+',
                        help='one config per checkpoint for its model (default: CONFIG)')
    parser.add_argument('--seed', type=int, default=0, help='seed of the masks (default: 0)')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--out', default='reconstructions.png', help='PNG to write')
    args = parser.parse_args(argv)
    for name in ('labels', 'model_configs'):
        given = getattr(args, name)
        if given is not None and len(given) != len(args.checkpoints):
            parser.error(f'--{name.replace("_", "-")} needs one value per checkpoint '
                         f'({len(args.checkpoints)}), got {len(given)}')
    return args


def masked_batch(cfg: Config, image_paths, seed: int = 0):
    """The images through the config's test pipeline as one batch, each with its mask."""
    missing = [str(p) for p in image_paths if not Path(p).is_file()]
    if missing:
        raise FileNotFoundError(f'no such image file: {", ".join(missing)}')
    transforms = copy.deepcopy(cfg.test_dataloader.dataset.pipeline)
    masks = [t for t in transforms if str(t['type']).endswith('SimMIMMaskGenerator')]
    if not masks:
        raise ValueError(f'{cfg.filename}: the test pipeline has no SimMIMMaskGenerator; '
                         'give the pre-training config')
    for t in masks:
        t['seed'] = seed  # the mask then depends on the seed and the image's index only
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    pipeline = Compose(transforms)
    return default_collate([pipeline(dict(img_path=str(p), sample_idx=i))
                            for i, p in enumerate(image_paths)])


def reconstruct(cfg: Config, batch, checkpoints, model_configs=None, device='cpu'):
    """(images, masks, zero prediction, [reconstruction per checkpoint]) of one batch, RGB
    in [0, 1].

    The zero prediction depends on the images, masks and target alone, not on the weights:
    it is drawn once, as the first checkpoint's model gives it.
    """
    reconstructions, zero_prediction = [], None
    for i, checkpoint in enumerate(checkpoints):
        model_cfg = Config.fromfile(model_configs[i]) if model_configs else cfg
        model = MODELS.build(model_cfg.model).to(device).eval()
        load_checkpoint(model, checkpoint, map_location='cpu', strict=True,
                        revise_keys=[(r'^module\.', '')])
        data = copy.deepcopy(batch)  # predict() writes into the data samples
        with torch.no_grad():
            data = model.data_preprocessor(data, False)
            outputs = model(**data, mode='predict')
        images, masks, zero, recon = display_batch(model, batch['inputs'], outputs)
        zero_prediction = zero if zero_prediction is None else zero_prediction
        reconstructions.append(recon)
    return images, masks, zero_prediction, reconstructions


def default_label(checkpoint: str) -> str:
    path = Path(checkpoint)
    return f'{path.parent.name}\n{path.stem}' if path.parent.name else path.stem


def main(argv=None):
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    try:
        batch = masked_batch(cfg, args.images, args.seed)
    except (FileNotFoundError, ValueError) as e:
        raise SystemExit(f'visualize_reconstructions.py: {e}')
    images, masks, zero_prediction, reconstructions = reconstruct(
        cfg, batch, args.checkpoints, args.model_configs, args.device)
    labels = args.labels or [default_label(c) for c in args.checkpoints]
    out = save_reconstruction_figure(images, masks, zero_prediction, reconstructions, args.out,
                                     titles=labels)
    print(f'Reconstructions written to {out}')


if __name__ == '__main__':
    main()
