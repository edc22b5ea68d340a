"""Does the pre-training's validation loss predict the fine-tuned top-1?

Rank correlations (Spearman's rho and Kendall's tau-b, from scipy) of validation loss
against top-1, over a set of rows, with percentile bootstrap intervals: the rows are drawn
with replacement ``n_boot`` times from a generator of fixed seed, and resamples whose values
are all tied (no rank correlation defined) are dropped. A strongly negative value means that
a lower loss goes with a higher top-1, the paper's "good indicator".
"""
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np
from scipy import stats

from mim_scaling.visualization.study_figures import ordered

from .observations import Observation


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


def _interval(values: List[float], level: float) -> Tuple[float, float]:
    if not values:
        return float('nan'), float('nan')
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def _bootstrap(x: np.ndarray, y: np.ndarray, statistics: Sequence[Callable], n_boot: int,
               seed: int) -> List[List[float]]:
    rng = np.random.default_rng(seed)
    draws: List[List[float]] = [[] for _ in statistics]
    for _ in range(n_boot):
        pick = rng.integers(0, len(x), len(x))
        if np.ptp(x[pick]) == 0 or np.ptp(y[pick]) == 0:
            continue  # all tied: no correlation to measure
        for values, statistic in zip(draws, statistics):
            values.append(statistic(x[pick], y[pick]))
    return draws


def rank_correlation(x: Sequence[float], y: Sequence[float], group: str = 'all rows',
                     n_boot: int = 1000, seed: int = 0,
                     level: float = 0.95) -> Optional[RankCorrelation]:
    """Spearman and Kendall correlation of ``x`` and ``y`` with ``level`` bootstrap
    intervals; None for fewer than 3 rows or constant values."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) != len(y):
        raise ValueError(f'{group}: {len(x)} x values but {len(y)} y values')
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    spearman_draws, kendall_draws = _bootstrap(x, y, (_spearman, _kendall), n_boot, seed)
    return RankCorrelation(group, len(x), _spearman(x, y), _kendall(x, y),
                           _interval(spearman_draws, level), _interval(kendall_draws, level),
                           len(spearman_draws))


def loss_top1_correlations(observations: Sequence[Observation], n_boot: int = 1000,
                           seed: int = 0) -> List[RankCorrelation]:
    """Validation loss against top-1 over all rows that have both, then within each model and
    within each data set (groups of fewer than 3 rows or constant values are left out)."""
    rows = [o for o in observations if o.val_loss is not None and o.top1 is not None]
    groups = [('all rows', rows)]
    groups += [(f'model {m}', [o for o in rows if o.model == m])
               for m in ordered(o.model for o in rows)]
    groups += [(f'data {d}', [o for o in rows if o.data == d])
               for d in ordered(o.data for o in rows)]
    results = []
    for name, members in groups:
        result = rank_correlation([o.val_loss for o in members], [o.top1 for o in members],
                                  name, n_boot, seed)
        if result is not None:
            results.append(result)
    return results
