"""What to run next, from a fitted law of something to minimise (validation loss, top-1
error): for each data set, the model size and length with the best prediction, and for a
compute budget the best cell of the grid and the best predicted point off the grid.

Advice comes with intervals: the best point of every law refitted to a cell-bootstrap
resample of the grid gives the spread of the advised model size and length. None is given
for a data set whose measured rows the law misfits: where their held-out errors (root mean
square) exceed the noise floor by more than a stated factor, the law's optimum for that data
set is the optimum of a curve that does not go through its measurements.

The cost of a run is Figure 1's: parameters x iterations relative to the cheapest run of the
table (SwinV2-S at 125k iterations for the released grid); all the study's models share
depths, input size and batch, so an iteration's compute grows with the parameter count. A
budget in GPU-hours becomes a cost through the throughput (images per second on one GPU) of
the table's smallest model: the other models are taken to be slower in proportion to their
parameter count. Off the grid, model size and iterations are searched on a logarithmic grid
over a box around the table's ones (``span`` times beyond them on each side): a best point
on the edge of the box says that the law keeps improving in that direction, not that the
edge is the optimum.
"""
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np

from .bootstrap import percentile_interval
from .observations import Observation, ordered
from .scaling_law import N_UNIT, S_UNIT, Fit, Law


@dataclass(frozen=True)
class Choice:
    """A run: measured (a grid cell) or predicted (off the grid)."""
    data: str
    params: float
    iters: float
    cost: float  # relative training cost
    value: float  # measured or predicted value of the target
    model: str = ''  # the grid's model name, for grid cells
    length: str = ''
    predicted: float = float('nan')  # the law's value (for grid cells too)
    at_edge: str = ''  # for off-grid points: which edges of the searched box it lies on


@dataclass(frozen=True)
class Search:
    """The box searched off the grid and the cost unit."""
    params: np.ndarray  # candidate model sizes
    iters: np.ndarray  # candidate iteration counts
    cost_unit: float  # parameters x iterations of cost 1
    batch_size: int


def search_box(observations: Sequence[Observation], span: float = 2.0,
               points: int = 161) -> Search:
    """Model sizes and iterations from ``1/span`` of the table's smallest to ``span`` times
    its largest, ``points`` of each, evenly spaced in log."""
    params = [o.params for o in observations]
    iters = [o.iters for o in observations]
    return Search(np.geomspace(min(params) / span, max(params) * span, points),
                  np.geomspace(min(iters) / span, max(iters) * span, points),
                  min(o.params * o.iters for o in observations), observations[0].batch_size)


def _edges(search: Search, i: int, j: int) -> str:
    edges = []
    if i in (0, len(search.params) - 1):
        edges.append('smallest model' if i == 0 else 'largest model')
    if j in (0, len(search.iters) - 1):
        edges.append('shortest' if j == 0 else 'longest')
    return ', '.join(edges)


def _box_predictions(law, images: float, search: Search) -> Tuple[np.ndarray, ...]:
    """(model sizes, iterations, costs, predictions) over the box, one entry per point."""
    n, it = np.meshgrid(search.params, search.iters, indexing='ij')
    predicted = law.predict(n / N_UNIT, it * search.batch_size / S_UNIT,
                            np.full(n.shape, images / S_UNIT))
    return n, it, n * it / search.cost_unit, predicted


def _best_in_box(data: str, box: Tuple[np.ndarray, ...], search: Search,
                 budget: Optional[float]) -> Optional[Choice]:
    n, it, cost, predicted = box
    score = np.where(cost <= budget, predicted, np.inf) if budget is not None else predicted
    if not np.isfinite(score).any():
        return None
    i, j = np.unravel_index(np.argmin(score), score.shape)
    return Choice(data, float(n[i, j]), float(it[i, j]), float(cost[i, j]),
                  float(predicted[i, j]), predicted=float(predicted[i, j]),
                  at_edge=_edges(search, i, j))


def best_off_grid(law, data: str, images: float, search: Search,
                  budget: Optional[float] = None) -> Optional[Choice]:
    """The point of the box with the lowest prediction of ``law`` (a fit, or a
    :class:`Law`) on data set ``data`` (``images`` unique images) whose cost is within
    ``budget`` (None: any cost); None if no point of the box fits in the budget."""
    return _best_in_box(data, _box_predictions(law, images, search), search, budget)


def best_cell(observations: Sequence[Observation], values: Sequence[float], data: str,
              cost_unit: float, budget: Optional[float] = None,
              fit: Optional[Fit] = None) -> Optional[Choice]:
    """The measured row of data set ``data`` with the lowest value within the budget; None
    if there is none."""
    rows = [(o, v) for o, v in zip(observations, values)
            if o.data == data and (budget is None or o.params * o.iters / cost_unit <= budget)]
    if not rows:
        return None
    o, v = min(rows, key=lambda row: row[1])
    predicted = float('nan')
    if fit is not None:
        predicted = float(fit.predict(np.array([o.params / N_UNIT]),
                                      np.array([o.samples / S_UNIT]),
                                      np.array([o.images / S_UNIT]))[0])
    return Choice(data, o.params, o.iters, o.params * o.iters / cost_unit, v, o.model,
                  o.length, predicted)


@dataclass(frozen=True)
class Advice:
    """The best off-grid point for one data set and budget, with its bootstrap spread, or
    the reason why none is advised."""
    data: str
    budget: Optional[float]  # relative cost; None: no budget
    cell: Optional[Choice]  # the best measured grid cell within the budget
    point: Optional[Choice]  # the full fit's best point (None: withheld, or over budget)
    misfit: float  # RMS held-out error of the data set's rows
    noise_floor: float
    misfit_factor: float
    params_interval: Tuple[float, float] = (float('nan'), float('nan'))
    iters_interval: Tuple[float, float] = (float('nan'), float('nan'))
    at_edge_share: float = float('nan')  # refits whose best point is on the box's edge

    @property
    def withheld(self) -> bool:
        """The law misfits this data set's rows by more than the noise floor allows."""
        return _misfits(self.misfit, self.noise_floor, self.misfit_factor)


def _misfits(misfit: float, noise_floor: float, factor: float) -> bool:
    return not misfit <= factor * noise_floor  # a NaN misfit or floor withholds too


def advise(fit: Fit, observations: Sequence[Observation], values: Sequence[float],
           search: Search, budgets: Sequence[Optional[float]], boot_params: np.ndarray,
           noise_floor: float, misfit_factor: float = 2.0,
           level: float = 0.95) -> List[Advice]:
    """For each data set of the table and each budget (None: without one), the best grid
    cell and, unless the law misfits the data set's rows (``fit.loo``) by more than
    ``misfit_factor`` x ``noise_floor``, the best off-grid point with ``level`` intervals
    of its model size and iterations over the refits ``boot_params`` (a row each)."""
    advice = []
    errors = fit.loo - fit.y
    boot_params = boot_params[np.all(np.isfinite(boot_params), axis=1)]
    for data in ordered(o.data for o in observations):
        pick = [k for k, o in enumerate(observations) if o.data == data]
        images = observations[pick[0]].images
        misfit = float(np.sqrt(np.mean(errors[pick]**2)))
        common = dict(misfit=misfit, noise_floor=noise_floor, misfit_factor=misfit_factor)
        cells = [best_cell(observations, values, data, search.cost_unit, b, fit)
                 for b in budgets]
        if _misfits(misfit, noise_floor, misfit_factor):
            advice += [Advice(data, b, cell, None, **common) for b, cell in zip(budgets, cells)]
            continue
        # a box's predictions per refit, each searched under every budget and let go
        refits: List[List[Choice]] = [[] for _ in budgets]
        for params in boot_params:
            box = _box_predictions(Law(fit.form, params), images, search)
            for points, budget in zip(refits, budgets):
                point = _best_in_box(data, box, search, budget)
                if point is not None:
                    points.append(point)
        box = _box_predictions(fit, images, search)
        for budget, cell, points in zip(budgets, cells, refits):
            advice.append(Advice(
                data, budget, cell, _best_in_box(data, box, search, budget), **common,
                params_interval=percentile_interval([p.params for p in points], level),
                iters_interval=percentile_interval([p.iters for p in points], level),
                at_edge_share=(float(np.mean([bool(p.at_edge) for p in points])) if points
                               else float('nan'))))
    return advice


def gpu_hours_per_cost(observations: Sequence[Observation], throughput: float) -> float:
    """GPU-hours of one unit of relative cost: the cheapest run's iterations x batch at
    ``throughput`` images per second (of the smallest model, on one GPU)."""
    if throughput <= 0:
        raise ValueError(f'the throughput must be positive images/s, got {throughput}')
    cheapest = min(observations, key=lambda o: o.params * o.iters)
    smallest = min(o.params for o in observations)
    # the cheapest run's model may be larger than the smallest one: scale its throughput
    return cheapest.samples * cheapest.params / smallest / throughput / 3600
