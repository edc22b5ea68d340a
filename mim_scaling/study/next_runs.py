"""What to run next, from a fitted law of something to minimise (validation loss, top-1
error): for each data set, the model size and length with the best prediction, and for a
compute budget the best cell of the grid and the best predicted point off the grid.

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
from typing import List, Optional, Sequence

import numpy as np

from mim_scaling.visualization.study_figures import ordered

from .observations import Observation
from .scaling_law import N_UNIT, S_UNIT, LawFit


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


def best_off_grid(fit: LawFit, data: str, images: float, search: Search,
                  budget: Optional[float] = None) -> Optional[Choice]:
    """The point of the box with the lowest prediction on data set ``data`` (``images``
    unique images) whose cost is within ``budget`` (None: any cost); None if no point of the
    box fits in the budget."""
    n, it = np.meshgrid(search.params, search.iters, indexing='ij')
    cost = n * it / search.cost_unit
    predicted = fit.predict(n / N_UNIT, it * search.batch_size / S_UNIT,
                            np.full(n.shape, images / S_UNIT))
    score = np.where(cost <= budget, predicted, np.inf) if budget is not None else predicted
    if not np.isfinite(score).any():
        return None
    i, j = np.unravel_index(np.argmin(score), score.shape)
    return Choice(data, float(n[i, j]), float(it[i, j]), float(cost[i, j]),
                  float(predicted[i, j]), predicted=float(predicted[i, j]),
                  at_edge=_edges(search, i, j))


def best_cell(observations: Sequence[Observation], values: Sequence[float], data: str,
              cost_unit: float, budget: Optional[float] = None,
              fit: Optional[LawFit] = None) -> Optional[Choice]:
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


def recommendations(fit: LawFit, observations: Sequence[Observation],
                    values: Sequence[float], search: Search,
                    budget: Optional[float] = None) -> List[tuple]:
    """(data set, best grid cell, best off-grid point) for each data set of the table."""
    rows = []
    for data in ordered(o.data for o in observations):
        images = next(o.images for o in observations if o.data == data)
        rows.append((data,
                     best_cell(observations, values, data, search.cost_unit, budget, fit),
                     best_off_grid(fit, data, images, search, budget)))
    return rows


def gpu_hours_per_cost(observations: Sequence[Observation], throughput: float) -> float:
    """GPU-hours of one unit of relative cost: the cheapest run's iterations x batch at
    ``throughput`` images per second (of the smallest model, on one GPU)."""
    if throughput <= 0:
        raise ValueError(f'the throughput must be positive images/s, got {throughput}')
    cheapest = min(observations, key=lambda o: o.params * o.iters)
    smallest = min(o.params for o in observations)
    # the cheapest run's model may be larger than the smallest one: scale its throughput
    return cheapest.samples * cheapest.params / smallest / throughput / 3600
