"""Training and validation loss curves from mmengine's scalar logs
(:func:`mim_scaling.utils.scalar_logs.read_scalars`)."""
from pathlib import Path
from typing import Mapping, Tuple, Union

import matplotlib

matplotlib.use('Agg')  # no display on training nodes
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from mim_scaling.evaluation.reconstruction_loss import (  # noqa: E402
    LOSS_KEY as VAL_KEY, ZERO_PREDICTION_LOSS_KEY)
from mim_scaling.utils.scalar_logs import TRAIN_KEY, Curve, read_scalars  # noqa: E402


# What the figure draws of each run: (logged key, line style, legend label).
_CURVES = ((TRAIN_KEY, '-', 'train'), (VAL_KEY, '--o', 'val'),
           (ZERO_PREDICTION_LOSS_KEY, ':', 'val, predicting zero (the local mean)'))


def read_loss_curves(work_dir: Union[str, Path]) -> Tuple[Curve, Curve]:
    """(train, val) losses by iteration from all scalar logs under ``work_dir``."""
    curves = read_scalars(work_dir, (TRAIN_KEY, VAL_KEY))
    return curves[TRAIN_KEY], curves[VAL_KEY]


def loss_curves_figure(runs: Mapping[str, Union[str, Path]],
                       title: str = 'SimMIM reconstruction loss') -> Figure:
    """Train (solid), validation (dashed, dots) and zero-prediction (dotted) loss of each run.

    The zero prediction's loss is the validation loss of predicting each window's local mean
    (``mim_scaling.ReconstructionLoss``): a validation loss that stays on it belongs to a
    model that has learnt nothing beyond the local mean, however far its training loss fell.
    """
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    plotted = False
    for i, (name, work_dir) in enumerate(runs.items()):
        curves = read_scalars(work_dir, [key for key, _, _ in _CURVES])
        for key, style, label in _CURVES:
            steps = sorted(curves[key])
            if steps:
                ax.plot(steps, [curves[key][s] for s in steps], style, color=f'C{i}',
                        markersize=3, label=f'{name} {label}')
                plotted = True
    if not plotted:
        plt.close(fig)
        raise FileNotFoundError(
            f'no losses found in */vis_data/scalars.json under {list(runs.values())}: '
            'is LocalVisBackend in the visualizer config, and has a log interval passed?')
    ax.set_xlabel('iteration')
    ax.set_ylabel('loss')
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def plot_loss_curves(runs: Mapping[str, Union[str, Path]], out_file: Union[str, Path],
                     title: str = 'SimMIM reconstruction loss') -> Path:
    """:func:`loss_curves_figure` of ``runs`` saved as a PNG."""
    fig = loss_curves_figure(runs, title)
    out_file = Path(out_file)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_file)
    plt.close(fig)
    return out_file
