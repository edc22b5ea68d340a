"""Speed and memory of our SwinV2 against timm's and mmpretrain's, measured in one run.

Times one training step (forward + backward of the backbone's last feature map) or a
forward pass, median of ``--repeats`` after warm-up, for the same architecture in the three
implementations, and prints s/iter, images/s and the ratio to ours::

    python tools/analysis/benchmark_backbone.py --arch base --img-size 192 --window 12 --batch 8
    python tools/analysis/benchmark_backbone.py --device cuda --batch 128 --dtype bfloat16

On a GPU the peak memory of each step is printed too.
"""
import argparse
import statistics
import time

import timm
import torch
from mmpretrain.models import SwinTransformerV2 as MMPretrainSwinV2

from mim_scaling.models.backbones import ARCH_SETTINGS, SwinV2

MMPRETRAIN_ARCHS = ('tiny', 'small', 'base', 'large')  # its presets of the same sizes


def build(impl, arch, img_size, window):
    settings = ARCH_SETTINGS[arch]
    if impl == 'mim_scaling':
        return SwinV2(arch=arch, img_size=img_size, window_size=window, drop_path_rate=0.)
    if impl == 'timm':
        return timm.models.swin_transformer_v2.SwinTransformerV2(
            img_size=img_size, window_size=window, embed_dim=settings['embed_dims'],
            depths=settings['depths'], num_heads=settings['num_heads'], num_classes=0,
            drop_path_rate=0.)
    if impl == 'mmpretrain' and arch in MMPRETRAIN_ARCHS:
        # mmpretrain does not shrink a window larger than its stage: pass the windows the
        # reference uses at this size (e.g. [12, 12, 12, 6] at 192 px).
        windows = [min(window, img_size // 4 // 2**i) for i in range(4)]
        return MMPretrainSwinV2(arch=arch, img_size=img_size,
                                window_size=windows, drop_path_rate=0.)
    return None


def last_feature(impl, model, x):
    if impl == 'timm':
        return model.forward_features(x)
    return model(x)[-1]


def measure(impl, model, x, repeats, backward, dtype):
    device = x.device
    model.to(device).train(backward)

    def step():
        with torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
            out = last_feature(impl, model, x)
        if backward:
            out.float().mean().backward()
            model.zero_grad(set_to_none=True)

    def sync():
        if device.type == 'cuda':
            torch.cuda.synchronize()

    with torch.set_grad_enabled(backward):
        for _ in range(2):
            step()
        sync()
        if device.type == 'cuda':
            torch.cuda.reset_peak_memory_stats()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            step()
            sync()
            times.append(time.perf_counter() - start)
    memory = torch.cuda.max_memory_allocated() / 2**30 if device.type == 'cuda' else None
    return statistics.median(times), memory


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--arch', default='base', choices=sorted(ARCH_SETTINGS))
    parser.add_argument('--img-size', type=int, default=192)
    parser.add_argument('--window', type=int, default=12)
    parser.add_argument('--batch', type=int, default=8)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--dtype', default='float32', choices=['float32', 'bfloat16', 'float16'])
    parser.add_argument('--forward-only', action='store_true')
    parser.add_argument('--impls', nargs='+', default=['mim_scaling', 'timm', 'mmpretrain'])
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    device = torch.device(args.device)
    dtype = getattr(torch, args.dtype)
    x = torch.randn(args.batch, 3, args.img_size, args.img_size, device=device)
    mode = 'forward' if args.forward_only else 'forward+backward'
    print(f'SwinV2-{args.arch} {args.img_size}px window {args.window} batch {args.batch} '
          f'{args.dtype} {mode} on {device} (torch {torch.__version__}, '
          f'{torch.get_num_threads()} CPU threads)')
    results = {}
    for impl in args.impls:
        model = build(impl, args.arch, args.img_size, args.window)
        if model is None:
            print(f'{impl:>12}: no {args.arch} preset')
            continue
        params = sum(p.numel() for p in model.parameters()) / 1e6
        seconds, memory = measure(impl, model, x, args.repeats, not args.forward_only, dtype)
        results[impl] = seconds
        mem = f', peak {memory:.2f} GiB' if memory is not None else ''
        ratio = f', {seconds / results["mim_scaling"]:.2f}x our time' \
            if 'mim_scaling' in results and impl != 'mim_scaling' else ''
        print(f'{impl:>12}: {params:.2f}M params, {seconds:.3f} s/iter, '
              f'{args.batch / seconds:.1f} img/s{mem}{ratio}')
        del model
        if device.type == 'cuda':
            torch.cuda.empty_cache()


if __name__ == '__main__':
    main()
