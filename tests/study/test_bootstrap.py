"""The cell bootstrap: resamples are made of whole cells, and on a table whose rows within a
cell are correlated its intervals cover the true value where resampling rows does not."""
import numpy as np

from mim_scaling.study.bootstrap import (bootstrap, cell_groups, cell_resamples,
                                         percentile_interval)

# 12 cells of 3 rows, as a model and data set with three lengths
KEYS = [cell for cell in range(12) for _ in range(3)]


def test_a_resample_is_made_of_whole_cells_and_fixed_by_its_seed():
    keys = ['a', 'a', 'b', 'c', 'c', 'c']
    assert [g.tolist() for g in cell_groups(keys)] == [[0, 1], [2], [3, 4, 5]]
    for rows in cell_resamples(keys, 50, seed=1):
        drawn = [keys[i] for i in rows]
        # every cell drawn brings all its rows, as often as it is drawn
        assert drawn.count('a') % 2 == 0 and drawn.count('c') % 3 == 0
        assert drawn.count('a') // 2 + drawn.count('b') + drawn.count('c') // 3 == 3
    first, again = cell_resamples(keys, 5, seed=1), cell_resamples(keys, 5, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))


def _coverage(keys, tables=100, n_boot=100, level=0.9):
    """Share of ``tables`` clustered tables (a cell effect of standard deviation 1, row
    noise of 0.1) whose bootstrap interval of the mean covers the true mean, 0."""
    rng = np.random.default_rng(0)
    hits = 0
    for seed in range(tables):
        y = np.repeat(rng.normal(0, 1, 12), 3) + rng.normal(0, 0.1, 36)
        low, high = percentile_interval(
            bootstrap(lambda rows: y[rows].mean(), keys, n_boot, seed), level)
        hits += low <= 0 <= high
    return hits / tables


def test_on_correlated_rows_resampling_cells_covers_and_resampling_rows_does_not():
    # The mean's standard error is that of 12 cell effects, 1 / sqrt(12); resampling the 36
    # rows takes them for independent and finds about 1 / sqrt(36): its 90% intervals cover
    # the true mean about 60% of the time. Resampling cells comes close to the nominal 90%
    # (percentile intervals of 12 clusters run a little narrow).
    by_cell = _coverage(KEYS)
    by_row = _coverage(range(36))
    assert by_cell >= 0.78
    assert by_row <= 0.68
    assert by_cell - by_row >= 0.15


def test_an_interval_of_no_values_is_undefined():
    low, high = percentile_interval([float('nan')])
    assert low != low and high != high
    assert percentile_interval([1.0, 2.0, 3.0], level=1.0) == (1.0, 3.0)
