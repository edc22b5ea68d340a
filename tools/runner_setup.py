"""Set-up shared by tools/train.py and tools/test.py: config, work dir, process group, Runner.

Importing it imports ``mim_scaling``, which registers the package's modules under the scope
``mim_scaling`` and installs safe checkpoint loading; the config's ``default_scope``
(mmpretrain, mmdet or mmseg) then decides which library's registries the Runner builds from.
"""
import argparse
import datetime
import os
import os.path as osp
import subprocess

import torch
import torch.distributed as dist
from mmengine.config import Config, DictAction
from mmengine.device import get_device
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

import mim_scaling  # noqa: F401
from mim_scaling.datasets import apply_skip_unreadable_images
from mim_scaling.engine.config_checks import check_config
from mim_scaling.engine.memory_saving import apply_memory_saving
from mim_scaling.engine.sync_bn import sync_bn_to_bn

LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')


def add_common_args(parser):
    """The arguments both tools share, spelled as in mmdet's tools."""
    parser.add_argument(
        '--work-dir', help='directory for logs and checkpoints '
        '(default: the config\'s work_dir, else ./work_dirs/<config name>)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE',
        help='override config entries, e.g. train_cfg.max_iters=100 '
        'env_cfg.dist_cfg.backend=gloo; lists as key="[a,b]", nesting without spaces')
    parser.add_argument('--launcher', choices=LAUNCHERS, default='none', help='job launcher')
    # Older torch.distributed.launch passes --local-rank; torchrun sets LOCAL_RANK instead.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0,
                        help=argparse.SUPPRESS)


def load_config(args):
    """Reads ``args.config`` and applies --launcher, --cfg-options and --work-dir."""
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    if cfg.get('tensorboard', False):
        add_tensorboard(cfg)
    if cfg.get('compile'):
        # mmengine compiles model.train_step; the optimizer update must stay eager.
        cfg.custom_hooks = list(cfg.get('custom_hooks') or []) + [
            dict(type='mim_scaling.EagerOptimizerUpdateHook')]
    return cfg


def add_tensorboard(cfg):
    """``tensorboard=True`` (in a config, or --cfg-options tensorboard=True) adds mmengine's
    TensorBoard backend to the visualizer, next to the json logs; events go to
    ``<work_dir>/<timestamp>/vis_data/``."""
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        raise SystemExit('tensorboard=True needs the tensorboard package: '
                         'pip install -e ".[tensorboard]"') from None
    # Without a visualizer in the config, the Runner's default one (json scalars).
    visualizer = cfg.get('visualizer') or dict(
        type='Visualizer', vis_backends=[dict(type='LocalVisBackend')])
    backends = visualizer.setdefault('vis_backends', [])
    if not any(backend.get('type') == 'TensorboardVisBackend' for backend in backends):
        backends.append(dict(type='TensorboardVisBackend'))
    cfg.visualizer = visualizer


def _launcher_env(launcher, *names):
    missing = [name for name in names if name not in os.environ]
    if missing:
        raise RuntimeError(f'--launcher {launcher} needs the variables its launcher sets; '
                           f'missing: {", ".join(missing)}')
    return [os.environ[name] for name in names]


def _export_rank_env(launcher, port):
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


def init_distributed(cfg):
    """Starts a gloo process group where mmengine's ``init_dist`` would fail.

    mmengine 0.10.7 calls ``torch.cuda.set_device`` whatever the backend, so without a GPU
    (or when the config asks for ``env_cfg.dist_cfg.backend='gloo'``) the group is started
    here; the Runner then finds it and goes on. A model on the CPU is wrapped in DDP without
    ``device_ids``: mmengine's default pins it to device LOCAL_RANK, which fails for CPU
    modules, and SyncBN norm layers of the config become BatchNorm (DDP refuses SyncBN on
    the CPU). On GPUs with nccl, nothing is done and mmengine starts the group as usual.
    Returns notes for the run's log.
    """
    if cfg.launcher == 'none' or dist.is_initialized():
        return
    dist_cfg = cfg.get('env_cfg', {}).get('dist_cfg', {})
    if torch.cuda.is_available() and dist_cfg.get('backend') != 'gloo':
        return
    _export_rank_env(cfg.launcher, dist_cfg.get('port'))
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ['LOCAL_RANK']))
    timeout = dist_cfg.get('timeout')
    dist.init_process_group(
        'gloo', timeout=None if timeout is None else datetime.timedelta(seconds=timeout))
    wrapper = cfg.get('model_wrapper_cfg')
    if (get_device() == 'cpu' and wrapper is not None
            and wrapper.get('type', 'MMDistributedDataParallel') == 'MMDistributedDataParallel'):
        wrapper.setdefault('device_ids', None)  # a config's own DDP settings, on the CPU
    if get_device() == 'cpu' and cfg.get('model_wrapper_cfg') is None:
        cfg.model_wrapper_cfg = dict(
            type='MMDistributedDataParallel', device_ids=None, broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False))
    converted = sync_bn_to_bn(cfg) if get_device() == 'cpu' else []
    if converted:
        return [f'No GPU: SyncBatchNorm runs on GPUs only, so {", ".join(converted)} '
                'build BatchNorm instead (statistics of each process\'s own batch).']


def build_runner(cfg):
    """The config's ``runner_type`` if it names one, else mmengine's Runner.

    The config is checked first (``mim_scaling.engine.config_checks``); every run records
    the backbone's pre-training windows in its checkpoints, and ``skip_unreadable_images``
    is applied (``mim_scaling.datasets.skip_unreadable``).
    """
    notes = init_distributed(cfg) or []
    if dist.is_initialized():  # the log's runtime environment shows the backend in use
        cfg.env_cfg = cfg.get('env_cfg') or {}
        cfg.env_cfg.dist_cfg = dict(cfg.env_cfg.get('dist_cfg') or {},
                                    backend=dist.get_backend())
    apply_memory_saving(cfg, distributed=cfg.launcher != 'none')
    check_config(cfg)
    apply_skip_unreadable_images(cfg)
    cfg.custom_hooks = [*(cfg.get('custom_hooks') or []),
                        dict(type='mim_scaling.PretrainedWindowsHook')]
    runner = RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)
    for note in notes:
        runner.logger.warning(note)
    return runner
