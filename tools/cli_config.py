"""The command line shared by tools/train.py and tools/test.py: arguments and the config.

Importing it imports ``mim_scaling``, which registers the package's modules under the scope
``mim_scaling`` and installs safe checkpoint loading. The tools build the config's
``runner_type`` (:class:`mim_scaling.engine.Runner` for every mim_scaling config, and for
a config that names none), which carries out what the config promises; the config's
``default_scope`` (mmpretrain, mmdet or mmseg) decides which library's registries it
builds from.
"""
import argparse
import os
import os.path as osp
import sys

from mmengine.config import Config, DictAction
from mmengine.registry import RUNNERS

import mim_scaling  # noqa: F401
from mim_scaling.engine.config import ConfigError

LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')


def add_common_args(parser):
    """The arguments both tools share, spelled as in mmdet's tools."""
    parser.add_argument(
        '--work-dir', help='directory for logs and checkpoints '
        '(default: the config\'s work_dir, else ./work_dirs/<config name>)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE',
        help='override config entries, e.g. train_cfg.max_iters=100 tensorboard=True; '
        'lists as key="[a,b]", nesting without spaces')
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
    return cfg


def build_runner(cfg):
    """The config's ``runner_type``, else ``mim_scaling.Runner`` (e.g. for a config of
    another project that imports mim_scaling). A config the Runner refuses (a misspelt key,
    a checkpoint to resume from that cannot be read, ...) ends the tool with the problems,
    not a traceback."""
    cfg.setdefault('runner_type', 'mim_scaling.Runner')
    try:
        return RUNNERS.build(cfg)
    except ConfigError as error:
        raise SystemExit(f'{osp.basename(sys.argv[0])}: {error}') from None
