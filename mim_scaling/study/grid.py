"""The runs of a study: every pre-training of a grid and the fine-tuning that follows it.

Two kinds of grid give the same :class:`StudyRun` s:

- the released one, :func:`zoo_grid`: a row of ``mim_scaling.zoo`` per run, with the paper's
  figures attached for comparison;
- one's own, :func:`grid_from_file`: a small config file that names config templates and the
  values to fill in, e.g. the CPU miniature ``configs/demo/sweep_grid_skimage.py``::

      pretrain_config = 'configs/demo/simmim_swinv2-demo-{model}_{length}_{data}.py'
      finetune_config = None  # or e.g. 'configs/imagenet/swinv2-{model}_ft_in1k.py'
      models = ['w16', 'w32']
      data = ['skimage-50pct', 'skimage']
      lengths = ['60it']

Work dirs follow from the configs: ``<root>/<pre-training config name>`` for a pre-training
and ``<root>/<fine-tuning config name>/<pre-training config name>`` for its fine-tuning.
"""
import argparse
import itertools
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, List, Optional, Sequence, Tuple, Union

from mmengine.config import Config, DictAction

from mim_scaling.zoo import DATASETS, MODELS, ZooEntry, select

PathLike = Union[str, Path]


@dataclass(frozen=True)
class StudyRun:
    """One cell of a grid: a pre-training and, if the grid has one, its fine-tuning."""
    model: str
    data: str
    length: str
    pretrain_config: str
    finetune_config: Optional[str] = None
    released: Optional[ZooEntry] = None  # the paper's run of this cell, if it has one

    @property
    def name(self) -> str:
        return Path(self.pretrain_config).stem

    @property
    def model_label(self) -> str:
        """The model as the zoo file writes it (``SwinV2-Small``), else the grid's name."""
        return MODELS[self.model][0] if self.released else self.model

    @property
    def data_label(self) -> str:
        """The data set as the zoo file writes it (``ImageNet-1K 10%``), else the grid's name."""
        return DATASETS[self.data][0] if self.released else self.data

    def pretrain_work_dir(self, root: PathLike) -> Path:
        return Path(root) / self.name

    def finetune_work_dir(self, root: PathLike) -> Optional[Path]:
        if self.finetune_config is None:
            return None
        return Path(root) / Path(self.finetune_config).stem / self.name


def zoo_grid(models: Optional[Iterable[str]] = None, data: Optional[Iterable[str]] = None,
             lengths: Optional[Iterable[str]] = None) -> List[StudyRun]:
    """The released grid (all 63 rows, or those matching the filters), in the zoo's order."""
    return [StudyRun(e.model, e.data, e.length, e.pretrain_config, e.finetune_config, e)
            for e in select(models, data, lengths)]


def grid_from_file(path: PathLike, models: Optional[Iterable[str]] = None,
                   data: Optional[Iterable[str]] = None,
                   lengths: Optional[Iterable[str]] = None) -> List[StudyRun]:
    """Every models x data x lengths combination of a grid file (see the module docstring),
    or those matching the filters."""
    cfg = Config.fromfile(str(path))
    for key in ('pretrain_config', 'models', 'data', 'lengths'):
        if key not in cfg:
            raise ValueError(f'grid file {path} does not set {key!r}; it needs '
                             'pretrain_config, models, data and lengths')
    axes = {}
    for key, wanted in (('models', models), ('data', data), ('lengths', lengths)):
        values = cfg[key]
        if isinstance(values, str) or not values:
            raise ValueError(f'grid file {path}: {key} must be a non-empty list of names')
        values = [str(v) for v in values]
        unknown = sorted(set(wanted or ()) - set(values))
        if unknown:
            raise ValueError(f'unknown {key} {unknown} for the grid of {path}; '
                             f'it has {values}')
        axes[key] = [v for v in values if wanted is None or v in wanted]
    finetune = cfg.get('finetune_config')
    runs = []
    for model, length, data_name in itertools.product(axes['models'], axes['lengths'],
                                                      axes['data']):
        names = dict(model=model, data=data_name, length=length)
        try:
            runs.append(StudyRun(model, data_name, length, cfg.pretrain_config.format(**names),
                                 finetune.format(**names) if finetune else None))
        except KeyError as e:
            raise ValueError(f'grid file {path}: unknown placeholder {e} in a config '
                             'template; use {model}, {data} and {length}') from None
    configs = [run.pretrain_config for run in runs]
    if len(set(configs)) != len(configs):
        raise ValueError(f'grid file {path}: pretrain_config gives several runs the same '
                         'config; put every name that varies into the template')
    return runs


def parse_cfg_options(options: Sequence[str]) -> dict:
    """``['a.b=1', 'c=[1,2]']`` as mmengine's ``--cfg-options`` reads it."""
    namespace = argparse.Namespace()
    DictAction(option_strings=[], dest='options')(None, namespace, list(options))
    return namespace.options


@lru_cache(maxsize=None)
def read_run_config(config: str, cfg_options: Tuple[str, ...] = ()) -> Config:
    """The config as ``tools/train.py CONFIG --cfg-options ...`` reads it (read once; do not
    modify the returned object)."""
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(parse_cfg_options(cfg_options))
    return cfg


def final_checkpoint(config: PathLike, work_dir: PathLike,
                     cfg_options: Sequence[str] = ()) -> Path:
    """The checkpoint the Runner saves at the end of training with ``config`` (and the
    ``--cfg-options`` given to tools/train.py) in ``work_dir``; a run is finished when it
    exists."""
    cfg = read_run_config(str(config), tuple(cfg_options))
    train_cfg = cfg.get('train_cfg') or {}
    by_epoch = (cfg.get('default_hooks') or {}).get('checkpoint', {}).get('by_epoch', True)
    if 'max_iters' in train_cfg:
        name = f'iter_{train_cfg["max_iters"]}.pth'
    elif 'max_epochs' in train_cfg and by_epoch:
        name = f'epoch_{train_cfg["max_epochs"]}.pth'
    else:
        raise ValueError(f'{config}: cannot tell the name of the final checkpoint (train_cfg '
                         'has neither max_iters nor max_epochs with epoch checkpoints)')
    return Path(work_dir) / name
