"""Distributed runs on gloo: the config of a run without GPU, and the group itself.

A distributed run on a machine without a GPU needs gloo, DDP without ``device_ids`` and
BatchNorm for the config's SyncBN: :func:`use_gloo_without_gpu` rewrites the config so.
mmengine 0.10.7's ``init_dist`` calls ``torch.cuda.set_device`` whatever the backend, so on
such a machine (or when a config asks for ``env_cfg.dist_cfg.backend='gloo'``)
:class:`mim_scaling.engine.Runner` starts the group with :func:`start_gloo_group` before
mmengine looks for one. The variables of slurm and MPI launchers are translated into those
of ``init_process_group('env://')``; torchrun sets these itself.
"""
import atexit
import datetime
import os
import subprocess
from typing import Dict, List

import torch
import torch.distributed as dist
from mmengine.device import get_device

from .sync_bn import sync_bn_to_bn

__all__ = ['use_gloo_without_gpu', 'needs_own_gloo_group', 'start_gloo_group']


def use_gloo_without_gpu(cfg) -> List[str]:
    """For a distributed run on a machine without GPU: gloo, DDP without ``device_ids``
    (mmengine's default pins the model to device LOCAL_RANK, which fails for CPU modules)
    and BatchNorm for the config's SyncBN (DDP refuses SyncBN on the CPU), in place.
    Returns notes for the run's log."""
    if cfg.get('launcher', 'none') == 'none' or get_device() != 'cpu':
        return []
    env_cfg = cfg.setdefault('env_cfg', {})
    env_cfg.setdefault('dist_cfg', {})['backend'] = 'gloo'  # shown in the log as used
    wrapper = cfg.get('model_wrapper_cfg')
    if wrapper is None:
        cfg.model_wrapper_cfg = dict(
            type='MMDistributedDataParallel', device_ids=None, broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False))
    elif wrapper.get('type', 'MMDistributedDataParallel') == 'MMDistributedDataParallel':
        wrapper.setdefault('device_ids', None)  # a config's own DDP settings, on the CPU
    converted = sync_bn_to_bn(cfg)
    if converted:
        return [f'No GPU: SyncBatchNorm runs on GPUs only, so {", ".join(converted)} '
                'build BatchNorm instead (statistics of each process\'s own batch).']
    return []


def needs_own_gloo_group(dist_cfg: Dict) -> bool:
    """Whether the group must be started here rather than by mmengine's ``init_dist``."""
    return get_device() == 'cpu' or dist_cfg.get('backend') == 'gloo'


def _launcher_env(launcher: str, *names: str) -> List[str]:
    missing = [name for name in names if name not in os.environ]
    if missing:
        raise RuntimeError(f'launcher={launcher!r} needs the variables its launcher sets; '
                           f'missing: {", ".join(missing)}')
    return [os.environ[name] for name in names]


def _export_rank_env(launcher: str, port) -> None:
    """Translates the slurm / MPI variables into those of ``init_process_group('env://')``."""
    env = os.environ
    if launcher == 'slurm':
        rank, world_size, local_rank, nodes = _launcher_env(
            launcher, 'SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_LOCALID', 'SLURM_NODELIST')
        if 'MASTER_ADDR' not in env:
            hosts = subprocess.check_output(['scontrol', 'show', 'hostnames', nodes], text=True)
            env['MASTER_ADDR'] = hosts.split()[0]
    elif launcher == 'mpi':
        rank, world_size, local_rank, _ = _launcher_env(
            launcher, 'OMPI_COMM_WORLD_RANK', 'OMPI_COMM_WORLD_SIZE',
            'OMPI_COMM_WORLD_LOCAL_RANK', 'MASTER_ADDR')
    else:  # torchrun exports everything itself
        return
    if port is not None:
        env['MASTER_PORT'] = str(port)
    env.setdefault('MASTER_PORT', '29500')
    env.update(RANK=rank, WORLD_SIZE=world_size, LOCAL_RANK=local_rank)


def start_gloo_group(launcher: str, dist_cfg: Dict) -> None:
    """Starts the default process group on gloo, from the launcher's variables.

    ``dist_cfg`` is the config's ``env_cfg.dist_cfg``: its ``port`` (slurm, MPI) and
    ``timeout`` (seconds) are used as mmengine's ``init_dist`` uses them.
    """
    _export_rank_env(launcher, dist_cfg.get('port'))
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ['LOCAL_RANK']))
    timeout = dist_cfg.get('timeout')
    dist.init_process_group(
        'gloo', timeout=None if timeout is None else datetime.timedelta(seconds=timeout))
    # Left to the interpreter's teardown, gloo's threads can outlive the objects they use
    # ("terminate called without an active exception", SIGABRT after a finished run).
    atexit.register(_destroy_group)


def _destroy_group() -> None:
    if dist.is_initialized():
        # Ranks leave together: a group destroyed while another rank is still finishing its
        # last exchange closes that rank's connections under gloo's threads, which abort it.
        # Bounded, as a rank that died or left early never arrives.
        try:
            dist.monitored_barrier(timeout=datetime.timedelta(seconds=30))
        except RuntimeError:
            pass
        dist.destroy_process_group()
