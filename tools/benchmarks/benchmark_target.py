"""Time SimMIM's normalised target: our box filter against the avg-pool formula it replaces.

The avg-pool formula is run in float32 with ``F.avg_pool2d``, as the reference SimMIM code
computes it. Prints the median time of each after warm-up, the speed-up, and the largest
difference to that formula and to the same formula in float64.

Example::

    python tools/benchmarks/benchmark_target.py --batch 8 --size 192 --repeats 5
"""
import argparse

import torch
import torch.nn.functional as F
from benchmark_utils import Result, machine_summary, print_results, time_interleaved

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
    print(machine_summary(device))
    print(f'input {tuple(x.shape)} float32, window {WINDOW_SIZE}, '
          f'median of {args.repeats} alternating runs after {WARMUP} warm-up runs')
    times = time_interleaved({'avg_pool2d formula (float32)': lambda: avg_pool_target(x),
                              'cumulative-sum box filter (ours)': lambda: target(x)},
                             args.repeats, WARMUP, device)
    print_results([Result(name, seconds, args.batch) for name, seconds in times.items()])

    out = target(x).double()
    diff32 = (out - avg_pool_target(x).double()).abs().max().item()
    diff64 = (out - avg_pool_target(x.double())).abs().max().item()
    print(f'max abs difference to the formula in float32: {diff32:.2e}, in float64: {diff64:.2e}')


if __name__ == '__main__':
    main()
