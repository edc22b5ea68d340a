"""The report's numbers: a form beats another only where the cell-bootstrap interval of the
difference of their held-out errors excludes 0, either way round."""
import numpy as np
import pytest

from mim_scaling.study.report import AnalysisOptions, compare_held_out

KEYS = [cell for cell in range(20) for _ in range(3)]  # 20 cells of three lengths
OPTIONS = AnalysisOptions(n_boot=200, seed=0)


def _errors(scale: float, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, scale, len(KEYS))


@pytest.mark.parametrize('law, other, winner', [(0.001, 0.003, 'law'), (0.003, 0.001, 'other')])
def test_a_clearly_better_form_beats_the_other_either_way_round(law, other, winner):
    result = compare_held_out('other form', 'row', _errors(law, 1), _errors(other, 2), KEYS,
                              OPTIONS)
    assert (result.law_rmse, result.other_rmse) == (pytest.approx(law, rel=0.3),
                                                    pytest.approx(other, rel=0.3))
    assert result.winner == winner
    low, high = result.interval
    assert (low > 0) if winner == 'law' else (high < 0)


def test_a_lower_rmse_from_a_few_cells_is_no_win():
    # The forms err alike except on two cells (six rows), which the other form misses by
    # 0.01: its RMSE is twice the law's, but one resample of cells in eight draws neither
    # cell. Resampling rows, which misses all six rows about once in 500, would call it a win.
    law = _errors(0.002, 1)
    other = law.copy()
    other[:6] += 0.01
    result = compare_held_out('other form', 'cell', law, other, KEYS, OPTIONS)
    assert result.other_rmse > 1.5 * result.law_rmse
    assert result.interval[0] <= 0 < result.interval[1]
    assert result.winner is None
    assert compare_held_out('other form', 'cell', law, other, range(len(KEYS)),
                            OPTIONS).winner == 'law'
