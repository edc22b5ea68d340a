"""Does the pre-training's validation loss predict the fine-tuned top-1?

Rank correlations (Spearman's rho and Kendall's tau-b, from scipy) of validation loss
against top-1, over a set of rows, with percentile bootstrap intervals: whole (model, data
set) cells are drawn with replacement ``n_boot`` times from a generator of fixed seed
(:mod:`.bootstrap`; rows one by one only where no cells are given), and resamples whose
values are all tied (no rank correlation defined) are dropped. A strongly negative value
means that a lower loss goes with a higher top-1, the paper's "good indicator".
"""
from dataclasses import dataclass
from typing import Callable, Hashable, List, Optional, Sequence, Tuple

import numpy as np
from scipy import stats

from .bootstrap import cell_resamples, percentile_interval
from .observations import Observation, ordered


@dataclass(frozen=True)
class RankCorrelation:
    """Spearman and Kendall correlations of one group of rows, with bootstrap intervals."""
    group: str  # e.g. 'all rows', 'model SwinV2-Base', 'data ImageNet-1K 10%'
    n: int
    spearman: float
    kendall: float
    spearman_ci: Tuple[float, float]
    kendall_ci: Tuple[float, float]
    resamples: int  # resamples that gave a value (others were all tied)


def _spearman(x, y) -> float:
    return float(stats.spearmanr(x, y).statistic)


def _kendall(x, y) -> float:
    return float(stats.kendalltau(x, y).statistic)  # tau-b: ties counted as scipy does


def _bootstrap(x: np.ndarray, y: np.ndarray, statistics: Sequence[Callable],
               cells: Sequence[Hashable], n_boot: int, seed: int) -> List[List[float]]:
    draws: List[List[float]] = [[] for _ in statistics]
    for pick in cell_resamples(cells, n_boot, seed):
        if np.ptp(x[pick]) == 0 or np.ptp(y[pick]) == 0:
            continue  # all tied: no correlation to measure
        for values, statistic in zip(draws, statistics):
            values.append(statistic(x[pick], y[pick]))
    return draws


def rank_correlation(x: Sequence[float], y: Sequence[float], group: str = 'all rows',
                     n_boot: int = 1000, seed: int = 0, level: float = 0.95,
                     cells: Optional[Sequence[Hashable]] = None) -> Optional[RankCorrelation]:
    """Spearman and Kendall correlation of ``x`` and ``y`` with ``level`` bootstrap
    intervals, resampling whole ``cells`` (a key per row; None: every row is its own cell);
    None for fewer than 3 rows or constant values."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    cells = range(len(x)) if cells is None else cells
    if not len(x) == len(y) == len(cells):
        raise ValueError(f'{group}: {len(x)} x values, {len(y)} y values and {len(cells)} '
                         'cells')
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    spearman_draws, kendall_draws = _bootstrap(x, y, (_spearman, _kendall), cells, n_boot,
                                               seed)
    return RankCorrelation(group, len(x), _spearman(x, y), _kendall(x, y),
                           percentile_interval(spearman_draws, level),
                           percentile_interval(kendall_draws, level), len(spearman_draws))


def loss_top1_correlations(observations: Sequence[Observation], n_boot: int = 1000,
                           seed: int = 0) -> List[RankCorrelation]:
    """Validation loss against top-1 over all rows that have both, then within each model and
    within each data set (groups of fewer than 3 rows or constant values are left out),
    bootstrapped by (model, data set) cells."""
    rows = [o for o in observations if o.val_loss is not None and o.top1 is not None]
    groups = [('all rows', rows)]
    groups += [(f'model {m}', [o for o in rows if o.model == m])
               for m in ordered(o.model for o in rows)]
    groups += [(f'data {d}', [o for o in rows if o.data == d])
               for d in ordered(o.data for o in rows)]
    results = []
    for name, members in groups:
        result = rank_correlation([o.val_loss for o in members], [o.top1 for o in members],
                                  name, n_boot, seed, cells=[o.cell for o in members])
        if result is not None:
            results.append(result)
    return results
