"""The study's figures and tables from a table of results.

A results table is a list of rows with the fields of ``mim_scaling.study.StudyResult``
(``model``, ``data``, ``length``, ``backbone_params``, ``val_loss``, ``top1``,
``pretrain_work_dir``): the runs of a sweep (``tools/sweep.py`` writes them) or the released
zoo (``mim_scaling.study.released_results()``).

- Figure 1: fine-tuned top-1 against the relative training cost, one line per data set
  (joining each model's schedules), bigger markers for bigger models (drawable from the
  released table alone);
- Figure 2: training and validation loss against iterations, a row of two panels (training,
  validation) per model, one line per data set;
- Figure 3: the same with a row per data set and a line per model.

Functions return the matplotlib ``Figure``; :func:`save_figure` writes and closes it.
"""
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

import matplotlib

matplotlib.use('Agg')  # no display on training nodes
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from mim_scaling.study.observations import ordered, parse_count  # noqa: E402
from mim_scaling.study.seeds import summarise, summarise_by_row  # noqa: E402
from mim_scaling.zoo import MODEL_NAMES, load_zoo  # noqa: E402

from .loss_curves import read_loss_curves  # noqa: E402


def marker_area(params: float, smallest: float) -> float:
    """The marker area of Figure 1 (and the scaling report's) for a model of ``params``
    parameters, growing with it: 30 for the ``smallest`` model of the figure."""
    return 30 * (params / smallest)**0.6


def _released_models(results: Sequence) -> bool:
    zoo_names = {name for name, _ in MODEL_NAMES.values()}
    return all(r.model in zoo_names for r in results)


def relative_training_cost(results: Sequence) -> List[float]:
    """Training cost of each row relative to SwinV2-S at 125k iterations.

    All the study's models have the same depths, input size and batch, so the compute of an
    iteration grows with the parameter count (up to the small attention term): the cost is
    taken as parameters x iterations. Rows of other models (a grid of one's own) are
    measured against the cheapest row instead.
    """
    missing = [f'{r.model} {r.data} {r.length}' for r in results if not r.backbone_params]
    if missing:
        raise ValueError(f'no backbone_params for {", ".join(missing)}: the relative '
                         'training cost needs the parameter count of every model')
    costs = [parse_count(r.backbone_params) * parse_count(r.length) for r in results]
    if _released_models(results):
        small = next(e for e in load_zoo() if e.model == 's' and e.length == '125k')
        unit = parse_count(small.backbone_params) * small.iters
    else:
        unit = min(costs)
    return [cost / unit for cost in costs]


# How Figure 1 names a control level drawn from the pre-trained rows' own field.
_CONTROL_LABELS = {'knn_top1_init': 'random init (iteration 0)'}
_Y_LABELS = {'top1': 'top-1 accuracy (%)',
             'knn_top1': 'k-NN top-1 of the frozen features (%)'}


def figure_1(results: Sequence, title: Optional[str] = None, value: str = 'top1',
             control: Optional[str] = None) -> Figure:
    """Top-1 against relative training cost: a line per pre-training data set joining the
    schedules of each model, marker area growing with the parameter count.

    ``value`` is the field plotted: ``'top1'`` (fine-tuned) or ``'knn_top1'`` (the frozen
    features' k-NN top-1). A row run with several seeds is one point, the mean, with an
    error bar of one standard deviation; the legend says over how many seeds. Rows without
    pre-training (length 0, e.g. ``FROM_SCRATCH`` rows of a grid) have no cost to plot: they
    are drawn as a grey horizontal line per model, the level pre-training has to beat; so is
    ``control``, a field of the pre-trained rows themselves (e.g. ``'knn_top1_init'``, the
    same runs' k-NN top-1 at iteration 0), with a band of one standard deviation.
    """
    summaries = summarise_by_row(results, value)
    rows = {key: s for key, s in summaries.items() if parse_count(key[2]) > 0}
    if not rows:
        what = 'fine-tuned top-1' if value == 'top1' else value
        raise ValueError(f'no {what} of a pre-trained model in the results: Figure 1 needs '
                         'finished fine-tunings, k-NN probes (value=\'knn_top1\') or the '
                         'released table')
    first = {}  # a result per row: what the cost and the marker need
    for r in results:
        first.setdefault((r.model, r.data, r.length), r)
    released = _released_models([first[key] for key in rows])
    costs = dict(zip(rows, relative_training_cost([first[key] for key in rows])))
    params = {key: parse_count(first[key].backbone_params) for key in rows}
    smallest = min(params.values())
    seeds = sorted({s.n for s in rows.values()})
    fig, ax = plt.subplots(figsize=(7.5, 5), dpi=120)
    for i, data in enumerate(ordered(key[1] for key in rows)):
        # One line per data set, in pieces: each model's schedules joined by increasing cost
        # (NaN breaks the line between models).
        xs, ys, errors, sizes = [], [], [], []
        for model in ordered(key[0] for key in rows if key[1] == data):
            points = sorted((costs[key], rows[key].mean, rows[key].std, params[key])
                            for key in rows if key[:2] == (model, data))
            if xs:
                xs.append(float('nan'))
                ys.append(float('nan'))
            xs += [c for c, _, _, _ in points]
            ys += [m for _, m, _, _ in points]
            errors += [e for _, _, e, _ in points]
            sizes += [p for _, _, _, p in points]
        ax.plot(xs, ys, '-', color=f'C{i}', alpha=0.8, label=data)
        visible = [(x, y) for x, y in zip(xs, ys) if x == x]  # without the breaks
        if seeds != [1]:
            ax.errorbar(*zip(*visible), yerr=errors, fmt='none', ecolor=f'C{i}', elinewidth=1,
                        capsize=3, zorder=2)
        ax.scatter(*zip(*visible), s=[marker_area(p, smallest) for p in sizes], color=f'C{i}',
                   edgecolors='white', linewidths=0.5, zorder=3)
    levels = [(f'{key[0]}, no pre-training', s)
              for key, s in summaries.items() if parse_count(key[2]) == 0]
    if control is not None:
        # One level per model over its seeds: the untrained weights of a seed are the same
        # whatever the row's data and length, so each seed counts once.
        by_seed = {(r.model, r.seed): getattr(r, control) for r in results
                   if parse_count(r.length) > 0 and getattr(r, control) is not None}
        for model in ordered(m for m, _ in by_seed):
            levels.append((f'{model}, {_CONTROL_LABELS.get(control, control)}',
                           summarise([v for (m, _), v in by_seed.items() if m == model])))
    for j, (label, s) in enumerate(levels):
        style = ('--', ':', '-.')[j % 3]
        ax.axhline(s.mean, color='0.45', linestyle=style, linewidth=1.2, label=label)
        if s.n > 1:
            ax.axhspan(s.mean - s.std, s.mean + s.std, color='0.45', alpha=0.12, linewidth=0)
    ax.set_xscale('log')
    ax.set_xlabel('relative training cost (' + (
        'SwinV2-S, 125k iterations = 1)' if released else 'cheapest run = 1)'))
    ax.set_ylabel(_Y_LABELS.get(value, value))
    ax.set_title(title or (('ImageNet-1K top-1' if released else 'top-1') + ' after fine-tuning'
                           if value == 'top1' else _Y_LABELS.get(value, value)))
    ax.grid(alpha=0.3, which='both')
    spread = ('' if seeds == [1] else
              f'\nmean ± std over {"/".join(map(str, seeds))} seeds')
    ax.legend(title='pre-training data' + spread, fontsize=8)
    fig.tight_layout()
    return fig


def _loss_grid(results: Sequence, rows_by: str, lines_by: str, length: Optional[str],
               title: str) -> Figure:
    runs = []
    for r in results:
        if r.pretrain_work_dir:
            train, val = read_loss_curves(r.pretrain_work_dir)
            if train or val:
                runs.append((r, train, val))
    if not runs:
        raise FileNotFoundError(
            'no training logs (*/vis_data/scalars.json) in the pre-training work dirs of the '
            'results: run the sweep first, or check the work dirs in the table')
    if length is None:  # the longest schedule shows the most of the dynamics
        length = max(ordered(r.length for r, _, _ in runs), key=parse_count)
    runs = [run for run in runs if run[0].length == length]
    if not runs:
        raise ValueError(f'no run with logs has the length {length!r}')
    groups = ordered(getattr(r, rows_by) for r, _, _ in runs)
    colors: Dict[str, str] = {
        name: f'C{i}' for i, name in enumerate(ordered(getattr(r, lines_by) for r, _, _ in runs))}
    fig, axes = plt.subplots(len(groups), 2, figsize=(10, 2.6 * len(groups) + 0.8), dpi=110,
                             squeeze=False, sharex=True)
    for row, group in enumerate(groups):
        for r, train, val in runs:
            if getattr(r, rows_by) != group:
                continue
            name = getattr(r, lines_by)
            for ax, curve, style in ((axes[row][0], train, '-'), (axes[row][1], val, '-o')):
                if curve:
                    steps = sorted(curve)
                    ax.plot(steps, [curve[s] for s in steps], style, color=colors[name],
                            markersize=3, label=name)
        axes[row][0].set_title(f'{group}: training loss', fontsize=9)
        axes[row][1].set_title(f'{group}: validation loss', fontsize=9)
        for ax in axes[row]:
            ax.set_ylabel('loss')
            ax.grid(alpha=0.3)
        axes[row][1].legend(fontsize=7)
    for ax in axes[-1]:
        ax.set_xlabel('iteration')
    fig.suptitle(f'{title}, {parse_count(length):,.0f} iterations')
    fig.tight_layout()
    return fig


def figure_2(results: Sequence, length: Optional[str] = None) -> Figure:
    """Training and validation loss: a row per model, a line per pre-training data set.
    ``length`` picks the schedule when the table has several (default: the longest)."""
    return _loss_grid(results, 'model', 'data', length, 'SimMIM loss by model')


def figure_3(results: Sequence, length: Optional[str] = None) -> Figure:
    """Training and validation loss: a row per pre-training data set, a line per model."""
    return _loss_grid(results, 'data', 'model', length, 'SimMIM loss by pre-training data')


def study_table(results: Sequence, value: str = 'val_loss', digits: int = 4) -> str:
    """A Markdown table of one field of the results (e.g. ``val_loss``, ``top1``): a row per
    model and length, a column per pre-training data set, as the paper tabulates them. A
    cell run with several seeds gives their mean ± standard deviation and n. Rows and
    columns without any value (e.g. fine-tunings from scratch in a table of validation
    losses) are left out."""
    cells = summarise_by_row(results, value)
    shown = [r for r in results if getattr(r, value) is not None] or results
    datas = ordered(r.data for r in shown)
    lines = ['| model | iterations | ' + ' | '.join(datas) + ' |',
             '|---|---|' + '---|' * len(datas)]
    for model, length in ordered((r.model, r.length) for r in shown):
        summaries = [cells.get((model, d, length)) for d in datas]
        lines.append(f'| {model} | {length} | ' + ' | '.join(
            '-' if s is None else s.format(digits) for s in summaries) + ' |')
    return '\n'.join(lines) + '\n'


def save_figure(fig: Figure, out_file: Union[str, Path]) -> Path:
    """Writes ``fig`` as PNG and closes it."""
    out_file = Path(out_file)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_file)
    plt.close(fig)
    return out_file
