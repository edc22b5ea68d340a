"""The runs of a study: every pre-training of a grid and the fine-tuning that follows it.

Two kinds of grid give the same :class:`StudyRun` s:

- the released one, :func:`zoo_grid`: a row of ``mim_scaling.zoo`` per run, with the paper's
  figures attached for comparison;
- one's own, :func:`grid_from_file`: a small config file that names config templates and the
  values to fill in, e.g. the CPU miniature ``configs/demo/sweep_grid_lfw.py``::

      pretrain_config = 'configs/demo/simmim_swinv2-demo-{model}_{length}_{data}.py'
      finetune_config = 'configs/demo/swinv2-demo-{model}_ft_lfw.py'  # or None
      from_scratch = True
      models = ['w16', 'w32']
      data = ['lfw-50pct', 'lfw']
      lengths = ['200it']

``from_scratch = True`` (it needs a fine-tuning template) adds, first among each model's
rows, the fine-tuning of the model with no pre-training (data :data:`FROM_SCRATCH`, length
``'0'``): what the pre-trained rows are measured against.

``seeds = [0, 1, 2]`` repeats every row once per seed (the runs get
``--cfg-options randomness.seed=N``: other initial weights, batches and masks), so that a
table can give each row's mean and spread over the seeds; without it, each row runs once
with its config's seed.

Work dirs follow from the configs: ``<root>/<pre-training config name>`` for a pre-training
and ``<root>/<fine-tuning config name>/<pre-training config name>`` for its fine-tuning
(``<model>-from-scratch`` in place of the pre-training for a row without one), each
followed by ``_seed<N>`` in a grid with seeds.
"""
import argparse
import itertools
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, List, Optional, Sequence, Tuple, Union

from mmengine.config import Config, DictAction

from mim_scaling.zoo import DATA_NAMES, MODEL_NAMES, ZooEntry, select

PathLike = Union[str, Path]

# The data name (and, with length '0', the row) of a fine-tuning with no pre-training.
FROM_SCRATCH = 'from-scratch'


@dataclass(frozen=True)
class StudyRun:
    """One cell of a grid: a pre-training and, if the grid has one, its fine-tuning; or,
    without ``pretrain_config``, a fine-tuning from scratch."""
    model: str
    data: str
    length: str
    pretrain_config: Optional[str]
    finetune_config: Optional[str] = None
    released: Optional[ZooEntry] = None  # the paper's run of this cell, if it has one
    seed: Optional[int] = None  # None: the config's own

    @property
    def from_scratch(self) -> bool:
        return self.pretrain_config is None

    @property
    def name(self) -> str:
        name = (f'{self.model}-{FROM_SCRATCH}' if self.from_scratch else
                Path(self.pretrain_config).stem)
        return name if self.seed is None else f'{name}_seed{self.seed}'

    @property
    def cfg_options(self) -> Tuple[str, ...]:
        """What the run's trainings add to the sweep's ``--cfg-options``: its seed."""
        return () if self.seed is None else (f'randomness.seed={self.seed}', )

    @property
    def model_label(self) -> str:
        """The model as the zoo file writes it (``SwinV2-Small``), else the grid's name."""
        return MODEL_NAMES[self.model][0] if self.released else self.model

    @property
    def data_label(self) -> str:
        """The data set as the zoo file writes it (``ImageNet-1K 10%``), else the grid's name."""
        return DATA_NAMES[self.data][0] if self.released else self.data

    def pretrain_work_dir(self, root: PathLike) -> Optional[Path]:
        return None if self.from_scratch else Path(root) / self.name

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
    finetune = cfg.get('finetune_config')
    from_scratch = cfg.get('from_scratch', False)
    if from_scratch not in (True, False) or (from_scratch and not finetune):
        raise ValueError(f'grid file {path}: from_scratch must be True or False, and True '
                         'needs a finetune_config')
    axes = {}
    for key, wanted in (('models', models), ('data', data), ('lengths', lengths)):
        values = cfg[key]
        if isinstance(values, str) or not values:
            raise ValueError(f'grid file {path}: {key} must be a non-empty list of names')
        values = [str(v) for v in values]
        extra = [FROM_SCRATCH] if key == 'data' and from_scratch else []
        unknown = sorted(set(wanted or ()) - set(values + extra))
        if unknown:
            raise ValueError(f'unknown {key} {unknown} for the grid of {path}; '
                             f'it has {values + extra}')
        axes[key] = [v for v in values if wanted is None or v in wanted]
    seeds = cfg.get('seeds', [None])
    if (isinstance(seeds, (str, int)) or not seeds or len(set(seeds)) != len(seeds)
            or any(s is not None and (not isinstance(s, int) or isinstance(s, bool))
                   for s in seeds)):
        raise ValueError(f'grid file {path}: seeds must be a non-empty list of distinct '
                         f'integers, got {seeds!r}')
    scratch = from_scratch and (data is None or FROM_SCRATCH in data)
    runs = []
    for model in axes['models']:
        if scratch:  # first in each model's rows: what its pre-trainings are measured against
            names = dict(model=model, data=FROM_SCRATCH, length='0')
            runs += [StudyRun(model, FROM_SCRATCH, '0', None, _fill(path, finetune, names),
                              seed=seed) for seed in seeds]
        for length, data_name in itertools.product(axes['lengths'], axes['data']):
            names = dict(model=model, data=data_name, length=length)
            runs += [StudyRun(model, data_name, length,
                              _fill(path, cfg.pretrain_config, names),
                              _fill(path, finetune, names) if finetune else None, seed=seed)
                     for seed in seeds]
    configs = [(run.pretrain_config, run.seed) for run in runs if not run.from_scratch]
    if len(set(configs)) != len(configs):
        raise ValueError(f'grid file {path}: pretrain_config gives several runs the same '
                         'config; put every name that varies into the template')
    return runs


def _fill(grid_file: PathLike, template: str, names: dict) -> str:
    try:
        return template.format(**names)
    except KeyError as e:
        raise ValueError(f'grid file {grid_file}: unknown placeholder {e} in a config '
                         'template; use {model}, {data} and {length}') from None


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
