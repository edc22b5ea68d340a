"""Shared timing, peak-memory and reporting helpers of the benchmark scripts.

Every benchmark in ``tools/benchmarks/`` compares implementations measured side by side in
one run, on a machine that may be shared with other jobs. Three rules make its ratios hold:

* **Interleaved repeats** (:func:`time_interleaved`): after a warm-up of each candidate, the
  candidates take turns in every repeat, so a change of load weighs on all of them alike;
  the median of the repeats is reported, and the median of the *paired* ratios (each repeat's
  time of the reference over the candidate's, measured back to back, so that a slow stretch
  of the run weighs on both sides of a ratio), with their range.
* **Peak memory of the step itself** (:func:`peak_memory`): the largest number of bytes
  allocated during one call *above what was allocated before it* (activations, gradients,
  optimizer states created by the call, temporaries), the same quantity on both devices:

  - CUDA: ``torch.cuda.max_memory_allocated()`` after ``reset_peak_memory_stats()``, minus
    ``torch.cuda.memory_allocated()`` before the call;
  - CPU: PyTorch's own allocation records (``torch.profiler`` with ``profile_memory=True``),
    summed in time order: each allocation and free of the CPU allocator is an event with a
    signed size, and the peak of their running sum is the peak of the call. Unlike the
    process's resident set size (``resource.getrusage``, ``psutil``), this counts tensors
    only, is not hidden by memory that the C library keeps after a free, and can be reset
    between calls. Run it outside the timed repeats: the profiler slows the call down.
* **The machine goes with the figures** (:func:`machine_summary`): device, torch threads and
  the load average at the start, so that a reader can tell a quiet machine from a busy one.

Scripts print their results with :func:`print_results` (figures and the ratio to a
reference) or the plain :func:`format_table`.
"""
import os
import platform
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

import torch

GiB = 2**30
MiB = 2**20


def add_step_args(parser) -> None:
    """The options every training-step benchmark takes, spelled the same in each."""
    parser.add_argument('--repeats', type=int, default=5, help='timed steps of each')
    parser.add_argument('--warmup', type=int, default=2, help='untimed steps before them')
    parser.add_argument('--threads', type=int, help="CPU threads of torch (default: torch's)")
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--dtype', default='float32', choices=['float32', 'bfloat16', 'float16'],
                        help='autocast dtype (float32: none)')


def load_average() -> Optional[float]:
    """The 1-minute load average, or None where the platform has none."""
    return os.getloadavg()[0] if hasattr(os, 'getloadavg') else None


def machine_summary(device: Any = 'cpu') -> str:
    """One line naming the machine: torch, device, CPUs, torch threads and current load."""
    device = torch.device(device)
    if device.type == 'cuda':
        where = f'{torch.cuda.get_device_name(device)} (CUDA {torch.version.cuda})'
    else:
        where = f'{platform.machine()} CPU'
    load = load_average()
    load = f', load average {load:.2f}' if load is not None else ''
    return (f'torch {torch.__version__} on {where}, {os.cpu_count()} CPUs, '
            f'{torch.get_num_threads()} torch threads{load}')


def synchronize(device: Any = 'cpu') -> None:
    """Wait for the device's queued work (a no-op on the CPU)."""
    device = torch.device(device)
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def time_interleaved(fns: Mapping[str, Callable[[], Any]], repeats: int = 5, warmup: int = 2,
                     device: Any = 'cpu') -> Dict[str, List[float]]:
    """Wall times in seconds of ``repeats`` calls of each function, taken in turns.

    Each function first runs ``warmup`` times (caches, lazy initialisation, autotuning,
    compilation), then every repeat calls each function once in the given order.
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f'need repeats >= 1 and warmup >= 0, got {repeats} and {warmup}')
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            synchronize(device)
            start = time.perf_counter()
            fn()
            synchronize(device)
            times[name].append(time.perf_counter() - start)
    return times


def _cpu_peak_memory(fn: Callable[[], Any]) -> int:
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    # The profiler's raw records: every allocation and free of an allocator is a '[memory]'
    # event with a signed size (+ alloc, - free). (Its summary tables fold them into the ops
    # they happen in, which loses their order.)
    events = sorted((e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events()
                    if e.name() == '[memory]' and e.device_type() == torch.autograd.DeviceType.CPU)
    live = peak = 0
    for _, size in events:
        live += size
        peak = max(peak, live)
    return peak


def peak_memory(fn: Callable[[], Any], device: Any = 'cpu') -> int:
    """Bytes of tensor memory a call of ``fn`` holds at its peak beyond what was held before.

    See the module docstring for how each device measures it; results of the two devices are
    comparable. Call ``fn`` at least once before (warm-up) so that lazily created state of a
    first call, e.g. an optimizer's, is not counted unless that is what is wanted.
    """
    device = torch.device(device)
    if device.type == 'cuda':
        synchronize(device)
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        fn()
        synchronize(device)
        return torch.cuda.max_memory_allocated(device) - before
    if device.type == 'cpu':
        return _cpu_peak_memory(fn)
    raise ValueError(f'peak memory is measured on cpu or cuda, not {device.type}')


@dataclass
class Result:
    """Measurements of one candidate: wall times of its calls and what each call processed.

    Attributes:
        name: What was measured, as printed.
        seconds: Wall time of each timed call.
        items: Items (e.g. images) each call processed, for the rate.
        peak_bytes: Peak memory of a call (:func:`peak_memory`), if measured.
        extra: Further columns, printed as given (e.g. parameters, MFU).
    """
    name: str
    seconds: Sequence[float]
    items: int = 1
    peak_bytes: Optional[int] = None
    extra: Dict[str, str] = field(default_factory=dict)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def rate(self) -> float:
        """Items per second of the median call."""
        return self.items / self.median


def paired_ratios(seconds: Sequence[float], reference: Sequence[float]) -> List[float]:
    """Each repeat's rate ratio to the reference (its time over the candidate's), sorted."""
    if len(seconds) != len(reference):
        raise ValueError(f'paired ratios need as many repeats: {len(seconds)} and '
                         f'{len(reference)}')
    return sorted(ref / s for s, ref in zip(seconds, reference))


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table (readable as plain text too), columns padded to their widest cell."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row):
        return '| ' + ' | '.join(c.ljust(w) for c, w in zip(row, widths)) + ' |'

    rule = '|' + '|'.join('-' * (w + 2) for w in widths) + '|'
    return '\n'.join([line(cells[0]), rule] + [line(row) for row in cells[1:]])


def print_results(results: Sequence[Result], reference: Optional[str] = None,
                  unit: str = 'img') -> None:
    """Print each result's median time, rate, peak memory and extra columns, and the ratio of
    its rate (and memory) to the ``reference`` result's (default: the first)."""
    if not results:
        return
    by_name = {r.name: r for r in results}
    ref = by_name[reference] if reference is not None else results[0]
    extra_keys = list(dict.fromkeys(k for r in results for k in r.extra))
    has_memory = any(r.peak_bytes is not None for r in results)
    headers = ['', 's/call', f'{unit}/s', f'{unit}/s ratio', 'paired ratio (range)']
    if has_memory:
        headers += ['peak memory', 'memory ratio']
    headers += extra_keys
    rows = []
    for r in results:
        row = [r.name, f'{r.median:.4g}', f'{r.rate:.4g}', f'{r.rate / ref.rate:.3f}x']
        if len(r.seconds) == len(ref.seconds):
            paired = paired_ratios(r.seconds, ref.seconds)
            row.append(f'{statistics.median(paired):.3f}x ({paired[0]:.3f}-{paired[-1]:.3f})')
        else:
            row.append('-')
        if has_memory:
            row.append(_format_bytes(r.peak_bytes))
            row.append(f'{r.peak_bytes / ref.peak_bytes:.3f}x'
                       if r.peak_bytes is not None and ref.peak_bytes else '-')
        row += [r.extra.get(k, '-') for k in extra_keys]
        rows.append(row)
    print(f'ratios to {ref.name}; median of {len(ref.seconds)} calls')
    print(format_table(headers, rows), flush=True)


def _format_bytes(n: Optional[int]) -> str:
    if n is None:
        return '-'
    return f'{n / GiB:.2f} GiB' if n >= GiB else f'{n / MiB:.1f} MiB'
