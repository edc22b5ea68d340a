"""Dataloader worker set-up: mmengine's seeding, dying with the training process, and
leaving preemption signals to it."""
import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import warnings
from functools import partial
from typing import Optional, Sequence

from mmengine.dataset import worker_init_fn as mmengine_worker_init_fn
from mmengine.dist import get_rank

__all__ = ['worker_init_fn', 'ignore_signals_of_others', 'with_worker_init']

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def die_with_parent(parent_pid: int) -> None:
    """Has the kernel kill this process when ``parent_pid`` dies (Linux; elsewhere a no-op).

    A training process killed with SIGKILL cannot stop its dataloader workers, and workers
    blocked on a full pipe then outlive it for minutes, holding memory and shared memory.
    """
    if not sys.platform.startswith('linux'):
        return
    libc = ctypes.CDLL(ctypes.util.find_library('c'), use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        warnings.warn(f'prctl(PR_SET_PDEATHSIG) failed: {os.strerror(ctypes.get_errno())}; '
                      'this dataloader worker may outlive a killed training process')
    if os.getppid() != parent_pid:  # the parent died before the request took effect
        os._exit(1)


def _exit_on_sigterm_from(parent_pid: int) -> None:
    while True:
        if signal.sigwaitinfo({signal.SIGTERM}).si_pid == parent_pid:
            os._exit(0)  # what torch's own SIGTERM handler of workers does


def ignore_signals_of_others(numbers: Sequence[int], parent_pid: int) -> None:
    """Ignores ``numbers``, except a SIGTERM that ``parent_pid`` sends (its shutdown).

    Slurm signals every process of a job; a worker that SIGTERM killed would make the
    training process fail ("DataLoader worker is killed by signal") before it could save
    its checkpoint. SIGTERM cannot simply be ignored: Python's multiprocessing stops the
    workers with it when the training process exits. So SIGTERM is blocked and a thread
    takes it, exiting only when the sender is ``parent_pid``.
    """
    for number in numbers:
        if number == signal.SIGTERM:
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
            threading.Thread(target=_exit_on_sigterm_from, args=(parent_pid, ),
                             name='sigterm', daemon=True).start()
        else:
            signal.signal(number, signal.SIG_IGN)


def worker_init_fn(worker_id: int, num_workers: int, rank: int, seed: Optional[int],
                   parent_pid: int, disable_subprocess_warning: bool = False,
                   ignored_signals: Sequence[int] = ()) -> None:
    """:func:`die_with_parent`, :func:`ignore_signals_of_others` for ``ignored_signals`` (the
    training process's preemption signals), then mmengine's ``worker_init_fn`` (seeding by
    rank and worker) when there is a ``seed``. Bind all but ``worker_id`` with
    ``functools.partial`` (as mmengine's Runner does).
    """
    die_with_parent(parent_pid)
    ignore_signals_of_others(ignored_signals, parent_pid)
    if seed is not None:
        mmengine_worker_init_fn(worker_id, num_workers, rank, seed, disable_subprocess_warning)


def with_worker_init(dataloader_cfg: dict, seed: Optional[int],
                     ignored_signals: Sequence[int] = ()) -> dict:
    """A copy of a dataloader config whose workers run :func:`worker_init_fn` (the
    config as it is when it has no workers or a ``worker_init_fn`` of its own)."""
    if not dataloader_cfg.get('num_workers') or 'worker_init_fn' in dataloader_cfg:
        return dataloader_cfg
    cfg = dict(dataloader_cfg)
    cfg['worker_init_fn'] = dict(
        type=partial(worker_init_fn, parent_pid=os.getpid(),
                     ignored_signals=tuple(ignored_signals)),
        num_workers=cfg['num_workers'], rank=get_rank(), seed=seed,
        disable_subprocess_warning=cfg.pop('disable_subprocess_warning', False))
    return cfg
