"""Speed and memory of our SwinV2 against timm's and mmpretrain's, measured in one run.

Times one training step of the backbone (forward, and backward of the mean of the last
feature map) or a forward pass, for the same architecture, image size and window in the
three implementations, on the same input, with interleaved repeats after a warm-up; prints
the median s/iter, images/s, the peak memory of a step and the ratios to timm's
(``benchmark_utils``). Before timing it copies timm's weights into ours and prints the
largest difference of the two outputs, so the figures compare the same numerics::

    python tools/benchmarks/benchmark_backbone.py --arch base --img-size 192 --window 12 \
        --batch 8 --threads 2
    # on a GPU: bf16 autocast, with a torch.compile'd copy of ours
    python tools/benchmarks/benchmark_backbone.py --device cuda --batch 128 --dtype bfloat16 \
        --compile mim_scaling
    # the detection input, with and without activation checkpointing
    python tools/benchmarks/benchmark_backbone.py --device cuda --dtype bfloat16 \
        --img-size 1024 --window 14 --batch 2 --impls mim_scaling --with-cp both
"""
import argparse

import timm
import torch
from benchmark_utils import Result, add_step_args, machine_summary, peak_memory, \
    print_results, time_interleaved
from mmpretrain.models import SwinTransformerV2 as MMPretrainSwinV2

from mim_scaling.models.backbones import ARCH_SETTINGS, SwinV2
from mim_scaling.models.backbones.swinv2 import stage_window
from mim_scaling.models.backbones.swinv2_key_mapping import to_backbone_state_dict

MMPRETRAIN_ARCHS = ('tiny', 'small', 'base', 'large')  # its presets of the same sizes
IMPLS = ('mim_scaling', 'timm', 'mmpretrain')


def stage_windows(img_size: int, window: int):
    """The window each stage of ours uses (one that would cover a whole stage shrinks to it)."""
    return [stage_window([img_size // 4 // 2**i] * 2, (window, window))[0][0] for i in range(4)]


def build(impl: str, arch: str, img_size: int, window: int, with_cp: bool = False):
    """The backbone of ``impl`` without drop path (it would make runs differ), or None."""
    settings = ARCH_SETTINGS[arch]
    if impl == 'mim_scaling':
        return SwinV2(arch=arch, img_size=img_size, window_size=window, drop_path_rate=0.,
                      with_cp=with_cp)
    if impl == 'timm':
        model = timm.models.swin_transformer_v2.SwinTransformerV2(
            img_size=img_size, window_size=window, embed_dim=settings['embed_dims'],
            depths=settings['depths'], num_heads=settings['num_heads'], num_classes=0,
            drop_path_rate=0.)
        model.set_grad_checkpointing(with_cp)
        return model
    if impl == 'mmpretrain' and arch in MMPRETRAIN_ARCHS:
        # mmpretrain does not shrink a window larger than its stage: pass the windows the
        # reference uses at this size (e.g. [12, 12, 12, 6] at 192 px).
        return MMPretrainSwinV2(arch=arch, img_size=img_size, with_cp=with_cp,
                                window_size=stage_windows(img_size, window), drop_path_rate=0.)
    return None


def last_feature(impl: str, model, x: torch.Tensor) -> torch.Tensor:
    """The last stage's normalised features, (B, H, W, C) for timm, (B, C, H, W) otherwise."""
    if impl == 'timm':
        return model.forward_features(x)
    return model(x)[-1]


def max_difference_to_timm(arch, img_size, window, device) -> float:
    """Largest output difference of ours to timm's with timm's weights, made random."""
    ref = build('timm', arch, img_size, window).to(device).eval()
    with torch.no_grad():  # timm's initial q/v biases and logit scales are all alike
        for p in ref.parameters():
            p.add_(0.05 * torch.randn_like(p))
    ours = build('mim_scaling', arch, img_size, window).to(device).eval()
    ours.load_state_dict(to_backbone_state_dict(ref.state_dict()), strict=True)
    x = torch.randn(2, 3, img_size, img_size, device=device)
    with torch.no_grad():
        diff = (ours(x)[-1] - ref.forward_features(x).permute(0, 3, 1, 2)).abs().max()
    return diff.item()


def make_step(impl, model, x, backward: bool, dtype):
    def step():
        with torch.autocast(x.device.type, dtype=dtype, enabled=dtype != torch.float32), \
                torch.set_grad_enabled(backward):
            out = last_feature(impl, model, x)
        if backward:
            out.float().mean().backward()
            model.zero_grad(set_to_none=True)

    return step


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--arch', default='base', choices=sorted(ARCH_SETTINGS))
    parser.add_argument('--img-size', type=int, default=192)
    parser.add_argument('--window', type=int, default=12)
    parser.add_argument('--batch', type=int, default=8)
    add_step_args(parser)
    parser.add_argument('--forward-only', action='store_true')
    parser.add_argument('--impls', nargs='+', default=list(IMPLS), choices=IMPLS)
    parser.add_argument('--with-cp', choices=['no', 'yes', 'both'], default='no',
                        help='activation checkpointing of every block (both: each model twice)')
    parser.add_argument('--compile', nargs='*', choices=IMPLS, metavar='IMPL',
                        help="also time torch.compile'd copies of these models (no name: all)")
    parser.add_argument('--no-memory', action='store_true',
                        help='skip the peak-memory pass (on the CPU it runs under the profiler)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device(args.device)
    dtype = getattr(torch, args.dtype)
    backward = not args.forward_only
    print(machine_summary(device))
    print(f'SwinV2-{args.arch}, {args.img_size} px, window {args.window} '
          f'(stages: {stage_windows(args.img_size, args.window)}), batch {args.batch}, '
          f'{args.dtype}, {"forward+backward" if backward else "forward"}; median of '
          f'{args.repeats} interleaved steps after {args.warmup}', flush=True)
    if 'timm' in args.impls:
        diff = max_difference_to_timm(args.arch, args.img_size, args.window, device)
        print(f'largest |ours - timm| of the output with the same weights (fp32): {diff:.2e}')

    x = torch.randn(args.batch, 3, args.img_size, args.img_size, device=device)
    steps, params = {}, {}
    cp_modes = {'no': [False], 'yes': [True], 'both': [False, True]}[args.with_cp]
    for impl in args.impls:
        for with_cp in cp_modes:
            model = build(impl, args.arch, args.img_size, args.window, with_cp)
            if model is None:
                print(f'{impl}: no {args.arch} preset')
                continue
            model.to(device).train(backward)
            name = impl + (' +cp' if with_cp else '')
            params[name] = f'{sum(p.numel() for p in model.parameters()) / 1e6:.2f}M'
            steps[name] = make_step(impl, model, x, backward, dtype)
            if args.compile is not None and (not args.compile or impl in args.compile):
                params[name + ' +compile'] = params[name]
                steps[name + ' +compile'] = make_step(impl, torch.compile(model), x, backward,
                                                      dtype)

    memory = {}
    if not args.no_memory:
        for name, step in steps.items():
            step()  # warm-up: lazy state and compilation are not a step's memory
            memory[name] = peak_memory(step, device)
            print(f'peak memory measured: {name}', flush=True)
    times = time_interleaved(steps, args.repeats, args.warmup, device)
    # Ratios are to timm's eager model where it ran: the figure the targets are set in.
    print_results([Result(name, seconds, args.batch, memory.get(name),
                          extra={'parameters': params[name]})
                   for name, seconds in times.items()],
                  reference='timm' if 'timm' in times else None)


if __name__ == '__main__':
    main()
