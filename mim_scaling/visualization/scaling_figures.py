"""Figures of the scaling report (``tools/analysis/scaling_report.py``): validation loss
against top-1, the over-fitting heat map, and a fitted law's predictions against the
measurements. Functions return the matplotlib ``Figure``; ``save_figure`` writes it."""
from typing import Sequence

import matplotlib

matplotlib.use('Agg')  # no display on training nodes
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch, Rectangle  # noqa: E402

from mim_scaling.study.observations import ordered  # noqa: E402

from .study_figures import marker_area  # noqa: E402


def _sizes(params: Sequence[float]) -> list:
    return [marker_area(p, min(params)) for p in params]


def _count(value: float) -> str:
    return f'{value / 1e9:.3g}B' if value >= 1e9 else f'{value / 1e6:.3g}M'


def _size_handles(observations: Sequence) -> list:
    """Legend entries for the marker areas: one per model size."""
    sizes = sorted({o.params for o in observations})
    return [Line2D([], [], marker='o', linestyle='', color='0.5', label=_count(p),
                   markersize=np.sqrt(marker_area(p, sizes[0]))) for p in sizes]


def loss_vs_top1(observations: Sequence) -> Figure:
    """Fine-tuned top-1 against pre-training validation loss, a colour per data set, marker
    area growing with model size."""
    rows = [o for o in observations if o.val_loss is not None and o.top1 is not None]
    if not rows:
        raise ValueError('no row has both a validation loss and a top-1')
    sizes = dict(zip(rows, _sizes([o.params for o in rows])))
    fig, ax = plt.subplots(figsize=(6.5, 4.5), dpi=100)
    for i, data in enumerate(ordered(o.data for o in rows)):
        group = [o for o in rows if o.data == data]
        ax.scatter([o.val_loss for o in group], [o.top1 for o in group],
                   s=[sizes[o] for o in group], color=f'C{i}', edgecolors='white',
                   linewidths=0.5, label=data)
    ax.set_xlabel('pre-training validation loss')
    ax.set_ylabel('fine-tuned top-1 (%)')
    ax.set_title('Validation loss against fine-tuned top-1')
    ax.grid(alpha=0.3)
    data_legend = ax.legend(title='colour: pre-training data', fontsize=7, title_fontsize=7,
                            loc='upper right')
    for handle in data_legend.legend_handles:  # one size: area is the other legend's
        handle.set_sizes([30])
    ax.add_artist(data_legend)
    ax.legend(handles=_size_handles(rows), title='area: parameters', fontsize=7,
              title_fontsize=7, loc='lower left')
    fig.tight_layout()
    return fig


def overfitting_heatmap(cells: Sequence) -> Figure:
    """The change of validation loss from each length to the next: a panel per step, a row
    per model, a column per data set; red where the loss rises, blue where it falls, grey
    where the grid has no such cell, a black frame where the cell starts to over-fit (its
    rise exceeds the cells' threshold). Cells are ``OverfittingCell`` s."""
    if not cells:
        raise ValueError('no model and data set has validation losses at two lengths')
    models = ordered(c.model for c in cells)
    datas = ordered(c.data for c in cells)
    steps = ordered((a, b) for c in cells for a, b in zip(c.lengths, c.lengths[1:]))
    grids = {step: np.full((len(models), len(datas)), np.nan) for step in steps}
    for c in cells:
        for step, change in zip(zip(c.lengths, c.lengths[1:]), c.changes):
            grids[step][models.index(c.model), datas.index(c.data)] = change
    limit = max(np.nanmax(np.abs(g)) for g in grids.values()) or 1.0
    fig, axes = plt.subplots(1, len(steps), figsize=(1.2 * len(datas) * len(steps) + 2,
                                                     0.6 * len(models) + 2.4),
                             dpi=100, squeeze=False, layout='constrained')
    for ax, step in zip(axes[0], steps):
        grid = grids[step]
        ax.set_facecolor('0.85')
        image = ax.imshow(np.ma.masked_invalid(grid), cmap='RdBu_r', vmin=-limit, vmax=limit)
        for (row, col), change in np.ndenumerate(grid):
            if change == change:
                ax.text(col, row, f'{change:+.4f}', ha='center', va='center', fontsize=7,
                        color='white' if abs(change) > 0.6 * limit else 'black')
        for c in cells:
            if c.onset == step[1]:
                ax.add_patch(Rectangle((datas.index(c.data) - 0.5, models.index(c.model) - 0.5),
                                       1, 1, fill=False, edgecolor='black', linewidth=2))
        ax.set_xticks(range(len(datas)), datas, rotation=30, ha='right', fontsize=8)
        ax.set_yticks(range(len(models)), models, fontsize=8)
        ax.set_title(f'{step[0]} -> {step[1]}', fontsize=9)
    fig.colorbar(image, ax=list(axes[0]), shrink=0.8, label='change of validation loss')
    threshold = cells[0].threshold
    fig.legend(handles=[Patch(facecolor='none', edgecolor='black', linewidth=2,
                              label=f'over-fitting starts: the loss exceeds a shorter '
                              f'length\'s by more than {threshold:.4f}'),
                        Patch(facecolor='0.85', label='no such run in the grid')],
               loc='outside lower center', ncols=2, fontsize=8, frameon=False)
    fig.suptitle('Validation loss from one length to the next (red: rises, blue: falls)')
    return fig


def measured_vs_predicted(panels: Sequence) -> Figure:
    """A panel per ``(title, fit, observations)``: the law's prediction (filled: fitted to
    all rows; open: fitted without the row, leave-one-out) against the measurement, a colour
    per data set, marker area growing with model size, and the line of perfect
    prediction."""
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.6), dpi=100,
                             squeeze=False)
    for ax, (title, fit, observations) in zip(axes[0], panels):
        sizes = _sizes([o.params for o in observations])
        fitted = fit.fitted
        for i, data in enumerate(ordered(o.data for o in observations)):
            pick = [k for k, o in enumerate(observations) if o.data == data]
            ax.scatter(fit.y[pick], fitted[pick], s=[sizes[k] for k in pick], color=f'C{i}',
                       edgecolors='white', linewidths=0.5, label=data)
            if fit.loo is not None:
                ax.scatter(fit.y[pick], fit.loo[pick], s=[sizes[k] for k in pick],
                           facecolors='none', edgecolors=f'C{i}', linewidths=0.8)
        low = min(fit.y.min(), fitted.min())
        high = max(fit.y.max(), fitted.max())
        ax.plot([low, high], [low, high], 'k--', linewidth=0.8,
                label='prediction = measurement')
        ax.set_xlabel('measured')
        ax.set_ylabel('predicted')
        ax.set_title(title, fontsize=9)
        ax.grid(alpha=0.3)
        markers = [Line2D([], [], marker='o', linestyle='', color='0.4',
                          label='fitted to all rows'),
                   Line2D([], [], marker='o', linestyle='', markerfacecolor='none',
                          markeredgecolor='0.4', label='row held out (leave-one-out)')]
        ax.legend(handles=ax.get_legend_handles_labels()[0] + markers
                  + _size_handles(observations), fontsize=6, ncols=2,
                  title='colour: data; area: parameters', title_fontsize=6)
    fig.tight_layout()
    return fig
