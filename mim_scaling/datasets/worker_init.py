"""Dataloader worker set-up: mmengine's seeding, and dying with the training process."""
import ctypes
import ctypes.util
import os
import signal
import sys
import warnings

from mmengine.dataset import worker_init_fn as mmengine_worker_init_fn

__all__ = ['worker_init_fn']

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


def worker_init_fn(worker_id: int, num_workers: int, rank: int, seed: int, parent_pid: int,
                   disable_subprocess_warning: bool = False) -> None:
    """mmengine's ``worker_init_fn`` (seeding by rank and worker), then :func:`die_with_parent`.

    Bind all but ``worker_id`` with ``functools.partial`` (as mmengine's Runner does).
    """
    die_with_parent(parent_pid)
    mmengine_worker_init_fn(worker_id, num_workers, rank, seed, disable_subprocess_warning)
