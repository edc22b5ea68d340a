"""Time SimMIM's normalised target: our box filter against the avg-pool formula it replaces.

The avg-pool formula is run in float32 with ``F.avg_pool2d``, as the reference SimMIM code
computes it. Prints the median time of each after warm-up, the speed-up, and the largest
difference to that formula and to the same formula in float64.

Example::

    python tools/analysis/benchmark_target.py --batch 8 --size 192 --repeats 5
"""
import argparse
import os
import platform
import statistics
import time

import torch
import torch.nn.functional as F

from mim_scaling.models.targets import SlidingWindowNormTarget

WINDOW_SIZE = 47
EPS = 1e-6
WARMUP = 2


def avg_pool_target(x: torch.Tensor, window_size: int = WINDOW_SIZE,
                    eps: float = EPS) -> torch.Tensor:
    """The normalised target computed with avg_pool2d, in the input's dtype."""
    pad = window_size // 2
    mean = F.avg_pool2d(x, window_size, stride=1, padding=pad, count_include_pad=False)
    mean_sq = F.avg_pool2d(x**2, window_size, stride=1, padding=pad, count_include_pad=False)
    count = F.avg_pool2d(torch.ones_like(x), window_size, stride=1, padding=pad,
                         count_include_pad=True) * window_size**2
    var = ((mean_sq - mean**2) * count / (count - 1)).clamp(min=0)
    return (x - mean) / (var + eps).sqrt()


def median_times(fns, x: torch.Tensor, repeats: int) -> list:
    """Median wall time in seconds of each ``fn(x)``, after a warm-up.

    The functions take turns in every repeat, so that a change of load on a shared machine
    weighs on all of them alike.
    """
    def sync():
        if x.device.type == 'cuda':
            torch.cuda.synchronize(x.device)

    for fn in fns:
        for _ in range(WARMUP):
            fn(x)
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, fn_times in zip(fns, times):
            sync()
            start = time.perf_counter()
            fn(x)
            sync()
            fn_times.append(time.perf_counter() - start)
    return [statistics.median(fn_times) for fn_times in times]


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--batch', type=int, default=8, help='images per batch')
    parser.add_argument('--size', type=int, default=192, help='image side in pixels')
    parser.add_argument('--repeats', type=int, default=5, help='timed runs of each method')
    parser.add_argument('--device', default='cpu', help='e.g. cpu or cuda')
    parser.add_argument('--threads', type=int,
                        help="CPU threads of torch (defaults to torch's choice); on CPUs "
                        'shared with other jobs one thread avoids waiting at thread barriers')
    args = parser.parse_args()
    for name in ('batch', 'size', 'repeats', 'threads'):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f'--{name} must be at least 1, got {getattr(args, name)}')
    return args


def main():
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(args.batch, 3, args.size, args.size, generator=generator).to(device)
    target = SlidingWindowNormTarget(WINDOW_SIZE, EPS).to(device)

    # The load average tells whether other work shared the CPUs during the timing.
    load = f', load average {os.getloadavg()[0]:.1f}' if hasattr(os, 'getloadavg') else ''
    print(f'torch {torch.__version__}, device {device}, {platform.machine()} with '
          f'{os.cpu_count()} CPUs, {torch.get_num_threads()} torch threads{load}')
    print(f'input {tuple(x.shape)} float32, window {WINDOW_SIZE}, '
          f'median of {args.repeats} alternating runs after {WARMUP} warm-up runs')
    ours, reference = median_times([target, avg_pool_target], x, args.repeats)
    print(f'cumulative-sum box filter (ours): {ours * 1e3:10.2f} ms')
    print(f'avg_pool2d formula (float32):     {reference * 1e3:10.2f} ms')
    print(f'speed-up:                         {reference / ours:10.1f}x')

    out = target(x).double()
    diff32 = (out - avg_pool_target(x).double()).abs().max().item()
    diff64 = (out - avg_pool_target(x.double())).abs().max().item()
    print(f'max abs difference to the formula in float32: {diff32:.2e}, in float64: {diff64:.2e}')


if __name__ == '__main__':
    main()
