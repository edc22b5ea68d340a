"""Results of a grid in the zoo file's columns, side by side with the released figures.

A pre-training's result is its validation loss (``reconstruction/loss``) at its final
iteration, with the loss of predicting zero on the same images and masks
(``reconstruction/zero_prediction_loss``) and the gain over it (``reconstruction/gain``);
a fine-tuning's is its top-1 (``accuracy/top1``) at its final epoch. All are read from
mmengine's scalar logs in the work dirs; a value is filled in only once the run has saved
its final checkpoint. The released rows have no zero-prediction loss or gain. A row
fine-tuned from scratch (``pretrain_data`` is ``FROM_SCRATCH``, ``pretrain_iters`` ``0``)
has a top-1 but no validation loss and no pre-training work dir. The CSV keeps the work
dirs, so figures of the training curves can be drawn from it
(``tools/analysis/plot_study.py``).
"""
import csv
import re
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path
from typing import Iterable, List, Optional, Sequence, Union

import torch

from mim_scaling.evaluation.frozen_features import KNN_TOP1_KEY
from mim_scaling.evaluation.reconstruction_loss import (GAIN_KEY, LOSS_KEY,
                                                        ZERO_PREDICTION_LOSS_KEY)
from mim_scaling.registry import MODELS as MODEL_REGISTRY
from mim_scaling.utils.scalar_logs import TRAIN_KEY, read_scalars
from mim_scaling.zoo import DATA_NAMES, MODEL_NAMES, ZooEntry, load_zoo

from .grid import StudyRun, final_checkpoint, read_run_config

TOP1_KEY = 'accuracy/top1'

# The zoo file's columns, the trivial baseline, then the released figures, then where the
# runs are.
COLUMNS = ('model', 'backbone_params', 'pretrain_data', 'pretrain_iters',
           'imagenet1k_val_loss', 'finetuned_top1', 'zero_prediction_loss', 'gain',
           'released_imagenet1k_val_loss', 'released_finetuned_top1', 'status',
           'pretrain_work_dir', 'finetune_work_dir', 'seed', 'knn_top1', 'knn_top1_init')
# Columns that tables written before them lack: read as empty.
_LATER_COLUMNS = {'zero_prediction_loss', 'gain', 'seed', 'knn_top1', 'knn_top1_init'}


@dataclass
class StudyResult:
    """One row of a results table; names are as the zoo file writes them for its grid."""
    model: str
    data: str
    length: str
    backbone_params: str = ''
    val_loss: Optional[float] = None
    top1: Optional[float] = None
    released_val_loss: Optional[float] = None
    released_top1: Optional[float] = None
    status: str = ''
    pretrain_work_dir: str = ''
    finetune_work_dir: str = ''
    # The validation loss of predicting zero for the normalised target (each window's local
    # mean) on the same images and masks, and 1 - val_loss / zero_prediction_loss.
    zero_prediction_loss: Optional[float] = None
    gain: Optional[float] = None
    # The run's seed in a grid with seeds; the k-NN top-1 of the encoder's frozen features
    # (mim_scaling.KNNProbeHook) after pre-training and at iteration 0 (its initialisation).
    seed: Optional[int] = None
    knn_top1: Optional[float] = None
    knn_top1_init: Optional[float] = None


# StudyResult fields in the order of COLUMNS.
_FIELDS = ('model', 'backbone_params', 'data', 'length', 'val_loss', 'top1',
           'zero_prediction_loss', 'gain', 'released_val_loss', 'released_top1', 'status',
           'pretrain_work_dir', 'finetune_work_dir', 'seed', 'knn_top1', 'knn_top1_init')
_FLOATS = {'val_loss', 'top1', 'zero_prediction_loss', 'gain', 'released_val_loss',
           'released_top1', 'knn_top1', 'knn_top1_init'}
assert set(_FIELDS) == {f.name for f in fields(StudyResult)}


@lru_cache(maxsize=None)
def backbone_params(config: str, cfg_options: Sequence[str] = ()) -> str:
    """The parameter count of a config's backbone, as the zoo file writes it (``87M``).

    The backbone is built on PyTorch's meta device: no memory, no time, whatever its size.
    """
    cfg = read_run_config(config, tuple(cfg_options))
    with torch.device('meta'):
        backbone = MODEL_REGISTRY.build(cfg.model.backbone)
    count = sum(p.numel() for p in backbone.parameters())
    return f'{count / 1e9:.3g}B' if count >= 1e9 else f'{count / 1e6:.3g}M'


def _final_step(checkpoint: Path) -> int:
    return int(re.search(r'(\d+)\.pth$', checkpoint.name).group(1))


# Logged at each validation of a pre-training; the k-NN top-1 only with
# mim_scaling.KNNProbeHook, which also logs it at iteration 0.
_VALIDATION_KEYS = (LOSS_KEY, ZERO_PREDICTION_LOSS_KEY, GAIN_KEY, KNN_TOP1_KEY)


def _pretrain_result(run: StudyRun, work_dir: Path, cfg_options: Sequence[str]):
    """((validation loss, zero-prediction loss, gain, k-NN top-1) at the final iteration
    and the k-NN top-1 at iteration 0, each None where not logged; status) of a
    pre-training."""
    final = final_checkpoint(run.pretrain_config, work_dir, cfg_options)
    curves = read_scalars(work_dir, (TRAIN_KEY, *_VALIDATION_KEYS))
    if not final.exists():
        train = curves[TRAIN_KEY]
        if train:
            return (None, ) * 5, f'pre-training (logged up to step {max(train)})'
        return (None, ) * 5, 'not started'
    step = _final_step(final)
    return ((*(curves[key].get(step) for key in _VALIDATION_KEYS),
             curves[KNN_TOP1_KEY].get(0)), 'pre-trained')


def _finetune_result(run: StudyRun, work_dir: Path, cfg_options: Sequence[str]):
    """(top-1 or None, status) of a fine-tuning."""
    final = final_checkpoint(run.finetune_config, work_dir, cfg_options)
    top1 = read_scalars(work_dir, [TOP1_KEY])[TOP1_KEY]
    if not final.exists():
        if top1:
            return None, 'fine-tuning'
        return None, 'not started' if run.from_scratch else 'pre-trained'
    return top1.get(_final_step(final)), 'done'


def collect_results(runs: Iterable[StudyRun], work_root: Union[str, Path],
                    pretrain_options: Sequence[str] = (),
                    finetune_options: Sequence[str] = ()) -> List[StudyResult]:
    """The results of ``runs`` from their work dirs under ``work_root``.

    ``pretrain_options`` / ``finetune_options`` are the ``--cfg-options`` the runs were
    trained with (they can change the final iteration).
    """
    results = []
    for run in runs:
        pretrain_dir = run.pretrain_work_dir(work_root)
        if run.from_scratch:  # nothing to wait for, no validation loss
            pretrained, status = (None, ) * 5, 'pre-trained'
        else:
            pretrained, status = _pretrain_result(run, pretrain_dir, pretrain_options)
        val_loss, zero_prediction_loss, gain, knn_top1, knn_top1_init = pretrained
        finetune_dir = run.finetune_work_dir(work_root)
        top1 = None
        if finetune_dir is None:
            status = 'done' if status == 'pre-trained' else status
        elif status == 'pre-trained':
            top1, status = _finetune_result(run, finetune_dir, finetune_options)
        released = run.released
        if released:
            params = released.backbone_params
        elif run.from_scratch:  # the classifier's backbone: the encoder without mask token
            params = backbone_params(run.finetune_config, tuple(finetune_options))
        else:
            params = backbone_params(run.pretrain_config, tuple(pretrain_options))
        results.append(StudyResult(
            model=run.model_label, data=run.data_label, length=run.length,
            backbone_params=params,
            val_loss=val_loss, top1=top1, zero_prediction_loss=zero_prediction_loss, gain=gain,
            released_val_loss=released.val_loss if released else None,
            released_top1=released.top1 if released else None,
            status=status, pretrain_work_dir='' if pretrain_dir is None else str(pretrain_dir),
            finetune_work_dir='' if finetune_dir is None else str(finetune_dir),
            seed=run.seed, knn_top1=knn_top1, knn_top1_init=knn_top1_init))
    return results


def released_results(entries: Optional[Iterable[ZooEntry]] = None) -> List[StudyResult]:
    """The released table (or some of its rows) as results: what a study compares to."""
    return [StudyResult(model=MODEL_NAMES[e.model][0], data=DATA_NAMES[e.data][0], length=e.length,
                        backbone_params=e.backbone_params, val_loss=e.val_loss, top1=e.top1,
                        released_val_loss=e.val_loss, released_top1=e.top1, status='released')
            for e in (load_zoo() if entries is None else entries)]


def _cell(value) -> str:
    return '' if value is None else str(value)


def write_results(results: Sequence[StudyResult], csv_file: Union[str, Path],
                  markdown_file: Optional[Union[str, Path]] = None) -> None:
    """The table as CSV (the zoo file's columns first) and, if asked, as Markdown."""
    csv_file = Path(csv_file)
    csv_file.parent.mkdir(parents=True, exist_ok=True)
    with open(csv_file, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        for result in results:
            writer.writerow([_cell(getattr(result, name)) for name in _FIELDS])
    if markdown_file is not None:
        Path(markdown_file).write_text(results_markdown(results))


def read_results(csv_file: Union[str, Path]) -> List[StudyResult]:
    """A table written by :func:`write_results` (also one written before its
    zero-prediction loss and gain columns, read as empty)."""
    with open(csv_file, newline='') as f:
        reader = csv.DictReader(f)
        missing = set(COLUMNS) - _LATER_COLUMNS - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f'{csv_file} is not a results table of tools/sweep.py: '
                             f'it lacks the columns {sorted(missing)}')
        rows = list(reader)
    results = []
    for row in rows:
        values = {}
        for column, name in zip(COLUMNS, _FIELDS):
            text = row.get(column, '')
            values[name] = (float(text) if text else None) if name in _FLOATS else text
        values['seed'] = int(values['seed']) if values['seed'] else None
        results.append(StudyResult(**values))
    return results


def _number(value: Optional[float], digits: int) -> str:
    return '-' if value is None else f'{value:.{digits}f}'


def results_markdown(results: Sequence[StudyResult]) -> str:
    """A Markdown table: own and released validation loss and top-1 side by side, and the
    own run's gain over predicting zero (the local mean)."""
    lines = ['| model | params | pre-training data | iterations | val loss | released | '
             'gain over zero prediction | top-1 | released | status |',
             '|---|---|---|---|---|---|---|---|---|---|']
    for r in results:
        lines.append(
            f'| {r.model} | {r.backbone_params or "-"} | {r.data} | {r.length} | '
            f'{_number(r.val_loss, 4)} | {_number(r.released_val_loss, 4)} | '
            f'{_number(r.gain, 4)} | {_number(r.top1, 2)} | {_number(r.released_top1, 2)} | '
            f'{r.status} |')
    return '\n'.join(lines) + '\n'
