"""A gloo process group started where mmengine's ``init_dist`` would fail.

mmengine 0.10.7's ``init_dist`` calls ``torch.cuda.set_device`` whatever the backend, so on
a machine without a GPU (or when a config asks for ``env_cfg.dist_cfg.backend='gloo'``)
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

__all__ = ['needs_own_gloo_group', 'start_gloo_group']


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
        dist.destroy_process_group()
