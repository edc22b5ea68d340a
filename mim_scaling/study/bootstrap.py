"""The bootstrap of a grid by whole cells.

The rows of one (model, data set) cell are the same model trained on the same images for
different lengths: they share the run's initialisation, data order and all that the longer
run inherits from the shorter, so they are not independent draws. Resampling rows one by one
treats a cell of three rows as three independent pieces of evidence and gives intervals that
are too narrow; resampling whole cells (a cell drawn twice brings all its rows twice) keeps
what a cell's rows have in common inside every resample.
"""
from typing import Callable, Hashable, List, Sequence, Tuple

import numpy as np


def cell_groups(keys: Sequence[Hashable]) -> List[np.ndarray]:
    """The row indices of each cell, cells in order of first appearance."""
    groups = {}
    for i, key in enumerate(keys):
        groups.setdefault(key, []).append(i)
    return [np.array(rows) for rows in groups.values()]


def cell_resamples(keys: Sequence[Hashable], n_boot: int, seed: int = 0) -> List[np.ndarray]:
    """``n_boot`` resamples of the rows, each the rows of as many cells as the table has,
    drawn with replacement from a generator of fixed seed."""
    groups = cell_groups(keys)
    rng = np.random.default_rng(seed)
    return [np.concatenate([groups[g] for g in rng.integers(0, len(groups), len(groups))])
            for _ in range(n_boot)]


def percentile_interval(values: Sequence[float], level: float = 0.95) -> Tuple[float, float]:
    """The central ``level`` percentile interval of ``values`` (NaN where there are none)."""
    values = np.asarray(values, float)
    values = values[np.isfinite(values)]
    if not len(values):
        return float('nan'), float('nan')
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def bootstrap(statistic: Callable[[np.ndarray], float], keys: Sequence[Hashable],
              n_boot: int, seed: int = 0) -> np.ndarray:
    """``statistic(rows)`` on each cell resample (NaN where it is undefined)."""
    return np.array([statistic(rows) for rows in cell_resamples(keys, n_boot, seed)], float)
