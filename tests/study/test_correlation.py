"""Rank correlations of validation loss and top-1: values worked out by hand on small tables,
groups by model and data set, and reproducible bootstrap intervals that resample whole
cells."""
import math

import numpy as np
import pytest

from mim_scaling.study.correlation import loss_top1_correlations, rank_correlation
from mim_scaling.study.observations import Observation

# Loss ranks 1 2 3 4, top-1 ranks 3 2 4 1: d = -2 0 -1 3, sum d^2 = 14,
# rho = 1 - 6 * 14 / (4 * 15) = -0.4; pairs: 2 concordant, 4 discordant, tau = -2/6.
LOSS = [0.40, 0.41, 0.42, 0.43]
TOP1 = [84.0, 83.0, 85.0, 82.0]


def test_spearman_and_kendall_equal_the_hand_computed_values():
    result = rank_correlation(LOSS, TOP1, n_boot=0)
    assert result.n == 4
    assert result.spearman == pytest.approx(-0.4)
    assert result.kendall == pytest.approx(-1 / 3)


def test_ties_count_as_spearman_on_mid_ranks_and_kendall_tau_b():
    # top-1 84, 84, 85, 82: mid-ranks 2.5 2.5 4 1 against 1 2 3 4 give a covariance of
    # -1.5 over sqrt(5 * 4.5): rho = -1/sqrt(10). Pairs: 2 concordant, 3 discordant, one tied
    # in top-1 only: tau-b = (2 - 3) / sqrt(6 * 5).
    result = rank_correlation(LOSS, [84.0, 84.0, 85.0, 82.0], n_boot=0)
    assert result.spearman == pytest.approx(-1 / math.sqrt(10))
    assert result.kendall == pytest.approx(-1 / math.sqrt(30))


def test_a_perfectly_ordered_group_has_a_point_interval_and_groups_follow_the_table():
    rows = [Observation('a', 'half' if i < 2 else 'all', '1k', 1e6, 1e3, loss, top1)
            for i, (loss, top1) in enumerate(zip(LOSS, TOP1))]
    rows += [Observation('b', 'all', f'{k}k', 2e6, 1e3 * k, 0.5 - 0.01 * k, 80.0 + k)
             for k in range(1, 5)]
    rows.append(Observation('b', 'all', '9k', 2e6, 9e3, None, 90.0))  # no loss: left out
    results = {r.group: r for r in loss_top1_correlations(rows, n_boot=100, seed=1)}
    # 'data half' has two rows: too few for a rank correlation
    assert list(results) == ['all rows', 'model a', 'model b', 'data all']
    assert results['all rows'].n == 8
    assert results['model a'].spearman == pytest.approx(-0.4)
    b = results['model b']
    assert (b.spearman, b.kendall) == (pytest.approx(-1), pytest.approx(-1))
    assert b.spearman_ci == (pytest.approx(-1), pytest.approx(-1))
    assert b.kendall_ci == (pytest.approx(-1), pytest.approx(-1))
    assert b.resamples == 100  # one cell: every resample is the whole group
    # resampled row by row, a resample of one repeated row has no correlation: dropped
    by_row = rank_correlation([0.49, 0.48, 0.47, 0.46], [81.0, 82.0, 83.0, 84.0], n_boot=100)
    assert 80 < by_row.resamples < 100
    low, high = results['model a'].spearman_ci
    assert -1 <= low < -0.4 < high <= 1


def test_the_bootstrap_is_fixed_by_its_seed():
    first = rank_correlation(LOSS + [0.44, 0.45], TOP1 + [81.0, 83.5], n_boot=100, seed=3)
    again = rank_correlation(LOSS + [0.44, 0.45], TOP1 + [81.0, 83.5], n_boot=100, seed=3)
    other = rank_correlation(LOSS + [0.44, 0.45], TOP1 + [81.0, 83.5], n_boot=100, seed=4)
    assert first == again
    assert first.spearman_ci != other.spearman_ci


def test_no_correlation_without_three_rows_or_with_constant_values():
    assert rank_correlation([0.4, 0.5], [80.0, 81.0]) is None
    assert rank_correlation([0.4, 0.4, 0.4], [80.0, 81.0, 82.0]) is None
    with pytest.raises(ValueError, match='3 x values, 2 y values and 3 cells'):
        rank_correlation([0.4, 0.5, 0.6], [80.0, 81.0], cells='abc')


def test_rows_of_one_cell_are_not_taken_for_independent_evidence():
    # 8 cells of 3 near-copies of a row: the evidence is 8 pairs, not 24. Resampling rows
    # finds the correlation of 24 pairs, resampling cells that of 8: a wider interval.
    rng = np.random.default_rng(0)
    loss = np.repeat(rng.normal(0, 1, 8), 3) + rng.normal(0, 0.01, 24)
    top1 = -0.5 * loss + np.repeat(rng.normal(0, 1, 8), 3)
    cells = np.repeat(np.arange(8), 3)
    by_cell = rank_correlation(loss, top1, n_boot=100, cells=cells)
    by_row = rank_correlation(loss, top1, n_boot=100)
    assert by_cell.spearman == by_row.spearman
    width = {name: r.spearman_ci[1] - r.spearman_ci[0]
             for name, r in (('cell', by_cell), ('row', by_row))}
    assert width['cell'] > 1.4 * width['row']
    # a table's groups bootstrap its (model, data set) cells
    keys = [(m, d) for m in 'ab' for d in 'xyzw']
    rows = [Observation(*keys[c], f'{k}k', 1e6, 1e3 * k, float(x), float(y))
            for c, k, x, y in zip(cells, [1, 2, 3] * 8, loss, top1)]
    overall = loss_top1_correlations(rows, n_boot=100)[0]
    assert overall.group == 'all rows'
    assert overall.spearman_ci == by_cell.spearman_ci
