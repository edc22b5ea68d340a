"""Short SimMIM runs of the 192-px photographs' configuration, each changing one thing,
scored against predicting zero.

With the normalised target, predicting zero is predicting the local mean of every hidden
pixel: a model that has learnt nothing about images reaches it. Each variant trains
``configs/demo/simmim_swinv2-demo_300it_skimage.py`` (the first ``make demo``) with its
change, then scores the final model on the held-out photographs, each seen with several
masks, and on centre crops of the training photographs:

- ``loss``: mean masked L1 loss (the validation loss);
- ``zero``: the same for a zero prediction, on the same images and masks;
- ``gain``: ``1 - loss / zero`` (0: the trivial solution);
- ``pred std`` / ``target std``: spread of prediction and target over the masked pixels;
- ``grad norm``: the gradient norm logged at the first and last logged iteration.

``--inpainting`` trains nothing: it scores, for the images, masks and target of each
variant, filling the masked cells by diffusion from the visible pixels (harmonic
inpainting), a model-free reference for how much of the target is predictable at all.

For the raw-pixel target (no ``target_generator``), zero is the data set's mean colour; the
table then also scores the mean colour of each image's visible pixels, the per-image mean.

Usage (on the photographs of ``tools/misc/prepare_sample_images.py data/skimage_samples
--hold-out chelsea coins rocket``)::

    python tools/analysis/demo_variants.py                    # every variant, table on stdout
    python tools/analysis/demo_variants.py --only demo lr-1e-4 --iters 100
    python tools/analysis/demo_variants.py --inpainting --only demo --masks 4
    python tools/analysis/demo_variants.py --list

Results go to ``--work-root`` (one work dir per variant, and ``results.json``); a variant
whose result is there already is not trained again (``--retrain`` to do it anyway).
"""
import argparse
import copy
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import RUNNERS

import mim_scaling  # noqa: F401
from mim_scaling.datasets.transforms import SimMIMMaskGenerator

ROOT = Path(__file__).resolve().parents[2]
DEMO_CONFIG = ROOT / 'configs/demo/simmim_swinv2-demo_300it_skimage.py'


def set_geometry(cfg, image: int, patch: int, window: int, mask_cell: int,
                 target_window: int = None):
    """Image size with the patch, attention window and mask cell that go with it."""
    cfg.model.backbone.update(img_size=image, patch_size=patch, window_size=window)
    cfg.model.neck.encoder_stride = patch * 8
    cfg.model.head.patch_size = patch
    if target_window is not None:
        cfg.model.target_generator.window_size = target_window
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        for step in cfg[loader].dataset.pipeline:
            if step['type'] == 'mim_scaling.SimMIMMaskGenerator':
                step.update(input_size=image, mask_patch_size=mask_cell, model_patch_size=patch)
            elif step['type'] == 'mim_scaling.LoadImageRandomResizedCrop':
                step['scale'] = image
            elif step['type'] == 'ResizeEdge':
                step['scale'] = image
            elif step['type'] == 'CenterCrop':
                step['crop_size'] = image


def set_schedule(cfg, lr: float = None, warmup: int = None):
    if lr is not None:
        cfg.optim_wrapper.optimizer.lr = lr
    if warmup is not None:
        cfg.param_scheduler[0].end = warmup


def set_crop_scale(cfg, low: float):
    for step in cfg.train_dataloader.dataset.pipeline:
        if step['type'] == 'mim_scaling.LoadImageRandomResizedCrop':
            step['crop_ratio_range'] = (low, 1.0)


# name -> (what it tests, function changing the config)
VARIANTS = {
    'demo': ('the configuration as it is (lr 1e-3, warm-up 30)', lambda cfg: None),
    # Table 1's lr is for a batch of 2048; its warm-up is 10 epochs (20 iterations here).
    'authors-lr': ('Table 1\'s lr scaled linearly to batch 8 (1.6e-6), warm-up 20',
                   lambda cfg: set_schedule(cfg, lr=4e-4 * 8 / 2048, warmup=20)),
    'lr-3e-4': ('lr 3e-4', lambda cfg: set_schedule(cfg, lr=3e-4)),
    'lr-1e-4': ('lr 1e-4', lambda cfg: set_schedule(cfg, lr=1e-4)),
    'warmup-150': ('lr 1e-3, warm-up 150 iterations', lambda cfg: set_schedule(cfg, warmup=150)),
    'no-clip': ('no gradient clipping', lambda cfg: cfg.optim_wrapper.update(clip_grad=None)),
    'raw-target': ('raw pixels as target (no local normalisation)',
                   lambda cfg: cfg.model.update(target_generator=None)),
    'mask-16': ('mask cell 16 px (192 px, patch 4)',
                lambda cfg: set_geometry(cfg, 192, 4, 12, 16)),
    'img-96-p2': ('96 px, patch 2, window 12, mask cell 16: every size halved',
                  lambda cfg: set_geometry(cfg, 96, 2, 12, 16, target_window=23)),
    'img-64-p2': ('64 px, patch 2, window 8, mask cell 16',
                  lambda cfg: set_geometry(cfg, 64, 2, 8, 16, target_window=23)),
    'crop-0.08': ('crops of 8-100% of the photograph instead of 67-100%',
                  lambda cfg: set_crop_scale(cfg, 0.08)),
}


def build_cfg(name: str, iters: int, data_root: str, work_root: Path, seed: int,
              config: Path) -> Config:
    cfg = Config.fromfile(config)
    cfg.work_dir = str(work_root / name)
    cfg.train_cfg.max_iters = iters
    cfg.train_cfg.val_interval = iters
    cfg.param_scheduler[1].update(milestones=[int(iters * 5 / 6)], end=iters)
    cfg.default_hooks.checkpoint.interval = iters
    cfg.default_hooks.logger.interval = 5
    cfg.randomness = dict(seed=seed, diff_rank_seed=True)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = data_root
    VARIANTS[name][1](cfg)
    return cfg


def mask_generator_of(cfg) -> dict:
    for step in cfg.val_dataloader.dataset.pipeline:
        if step['type'] == 'mim_scaling.SimMIMMaskGenerator':
            return {k: v for k, v in step.items() if k not in ('type', 'seed')}
    raise ValueError('the config has no SimMIMMaskGenerator in its validation pipeline')


@torch.no_grad()
def score(model, images: torch.Tensor, masks: torch.Tensor) -> dict:
    """Scores of ``model`` on preprocessed ``images`` (N, 3, H, W), each under each of the
    token ``masks`` (M, h, w)."""
    model.eval()
    sums = dict(loss=0., zero=0., visible_mean=0.)
    pred_values, target_values = [], []
    for mask in masks:
        mask = mask.expand(len(images), -1, -1)
        latent = model.backbone(images, mask)
        pred = model.neck(latent[0])
        target = model.target_generator(images) if model.with_target_generator else images
        pixel_mask = F.interpolate(mask[:, None].float(), size=images.shape[-2:])
        visible = 1 - pixel_mask
        visible_mean = (images * visible).sum((2, 3), keepdim=True) / visible.sum(
            (2, 3), keepdim=True)
        for i in range(len(images)):
            def loss_of(p):
                return model.head.loss(p[i:i + 1], target[i:i + 1], mask[i:i + 1]).item()
            sums['loss'] += loss_of(pred)
            sums['zero'] += loss_of(torch.zeros_like(pred))
            sums['visible_mean'] += loss_of(visible_mean.expand_as(pred))
        hidden = pixel_mask.expand_as(pred).bool()
        pred_values.append(pred[hidden])
        target_values.append(target[hidden])
    count = len(masks) * len(images)
    result = {k: v / count for k, v in sums.items()}
    result['gain'] = 1 - result['loss'] / result['zero']
    result['pred_std'] = torch.cat(pred_values).std().item()
    result['target_std'] = torch.cat(target_values).std().item()
    return result


@torch.no_grad()
def inpainting_gain(model, images: torch.Tensor, masks: torch.Tensor, steps: int = 300) -> float:
    """Gain of a model-free reference: each masked cell of the normalised target filled by
    diffusion from the visible pixels around it (harmonic inpainting), times the factor in
    0.25-1 that scores best (L1 prefers a shrunk guess)."""
    target = model.target_generator(images) if model.with_target_generator else images
    losses = {scale: 0. for scale in (0.25, 0.5, 0.75, 1.0)}
    zero = 0.
    for mask in masks:
        mask = mask.expand(len(images), -1, -1)
        hidden = F.interpolate(mask[:, None].float(), size=images.shape[-2:])
        fill = target * (1 - hidden)
        for _ in range(steps):
            around = F.avg_pool2d(F.pad(fill, (1, 1, 1, 1), mode='replicate'), 3, stride=1)
            fill = target * (1 - hidden) + around * hidden
        zero += model.head.loss(torch.zeros_like(target), target, mask).item()
        for scale in losses:
            losses[scale] += model.head.loss(scale * fill, target, mask).item()
    return 1 - min(losses.values()) / zero


def load_images(runner, folder: str) -> torch.Tensor:
    """The images of ``folder`` through the validation pipeline, preprocessed."""
    dataset_cfg = copy.deepcopy(runner.cfg.val_dataloader.dataset)
    dataset_cfg.data_prefix = folder
    dataset = runner.build_dataloader(dict(
        dataset=dataset_cfg, batch_size=64, num_workers=0,
        sampler=dict(type='DefaultSampler', shuffle=False),
        collate_fn=dict(type='default_collate'))).dataset
    batch = dict(inputs=torch.stack([dataset[i]['inputs'] for i in range(len(dataset))]),
                 data_samples=None)
    return runner.model.data_preprocessor(batch, False)['inputs']


def masks_of(cfg, count: int) -> torch.Tensor:
    return torch.stack([
        torch.from_numpy(SimMIMMaskGenerator(**mask_generator_of(cfg), seed=s)
                         .transform({})['mask']) for s in range(count)])


def run_inpainting(name: str, args) -> str:
    cfg = build_cfg(name, args.iters, args.data_root, args.work_root, args.seed, args.config)
    runner = RUNNERS.build(cfg)
    masks = masks_of(cfg, args.masks)
    gains = [inpainting_gain(runner.model, load_images(runner, split), masks)
             for split in ('val', 'train')]
    return f'| {name} | {VARIANTS[name][0]} | {gains[0]:+.3f} | {gains[1]:+.3f} |'


def run_variant(name: str, args) -> dict:
    cfg = build_cfg(name, args.iters, args.data_root, args.work_root, args.seed, args.config)
    runner = RUNNERS.build(cfg)
    start = time.perf_counter()
    model = runner.train()
    seconds = time.perf_counter() - start
    masks = masks_of(cfg, args.masks)
    result = dict(variant=name, what=VARIANTS[name][0], iters=args.iters, seed=args.seed,
                  seconds=round(seconds))
    for split in ('val', 'train'):
        images = load_images(runner, split)
        result[split] = score(model, images, masks)
        result[split]['images'] = len(images)
    grad_norm = runner.message_hub.get_scalar('train/grad_norm').data[0]
    result['grad_norm_first'], result['grad_norm_last'] = float(grad_norm[0]), float(
        np.mean(grad_norm[-5:]))
    return result


def markdown(results) -> str:
    lines = ['| variant | what | val loss | zero | gain | train gain | pred std | target std '
             '| grad norm first -> last |',
             '|---|---|---|---|---|---|---|---|---|']
    for r in results:
        v = r['val']
        gain = f'{v["gain"]:+.3f}'
        if r['variant'] == 'raw-target':
            gain += f' (vs image mean: {1 - v["loss"] / v["visible_mean"]:+.3f})'
        lines.append(
            f'| {r["variant"]} | {r["what"]} | {v["loss"]:.4f} | {v["zero"]:.4f} | {gain} '
            f'| {r["train"]["gain"]:+.3f} | {v["pred_std"]:.3f} | {v["target_std"]:.3f} '
            f'| {r["grad_norm_first"]:.2f} -> {r["grad_norm_last"]:.3f} |')
    return '\n'.join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--config', type=Path, default=DEMO_CONFIG)
    parser.add_argument('--only', nargs='+', choices=list(VARIANTS), metavar='VARIANT')
    parser.add_argument('--iters', type=int, default=200)
    parser.add_argument('--masks', type=int, default=16,
                        help='masks per image when scoring (more: a less noisy score)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--data-root', default='data/skimage_samples/')
    parser.add_argument('--work-root', type=Path, default=Path('work_dirs/demo_variants'))
    parser.add_argument('--retrain', action='store_true')
    parser.add_argument('--list', action='store_true', help='list the variants and stop')
    parser.add_argument('--inpainting', action='store_true',
                        help='no training: the gain of harmonic inpainting of the target, '
                        'for each variant\'s images, masks and target')
    args = parser.parse_args(argv)
    if args.list:
        for name, (what, _) in VARIANTS.items():
            print(f'{name:12s} {what}')
        return
    if args.inpainting:
        print('| variant | what | inpainting gain, val | train |\n|---|---|---|---|')
        for name in args.only or VARIANTS:
            print(run_inpainting(name, args), flush=True)
        return

    results_file = args.work_root / 'results.json'
    results = json.loads(results_file.read_text()) if results_file.exists() else {}
    for name in args.only or VARIANTS:
        key = f'{name}/{args.iters}it/seed{args.seed}'
        if key not in results or args.retrain:
            results[key] = run_variant(name, args)
            results_file.parent.mkdir(parents=True, exist_ok=True)
            results_file.write_text(json.dumps(results, indent=1))
    print(markdown([results[f'{n}/{args.iters}it/seed{args.seed}']
                    for n in args.only or VARIANTS]))


if __name__ == '__main__':
    main()
