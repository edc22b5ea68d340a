"""What to run next: the best predicted point under a budget is where the analytic optimum
of a known law lies; grid cells within the budget; intervals from refitted laws; no advice
where the law misfits a data set's rows beyond the noise floor; GPU-hours from a
throughput."""
import numpy as np
import pytest

from mim_scaling.study.next_runs import (advise, best_cell, best_off_grid, gpu_hours_per_cost,
                                         search_box)
from mim_scaling.study.observations import Observation, data_size
from mim_scaling.study.scaling_law import OVER_FITTING, LawFit

# SwinV2-S/B-like rows of one data set, 125k and 500k iterations.
ROWS = [Observation(m, 'in1k', f'{it // 1000}k', p, it, loss - gain, None, images=1.28e6)
        for m, p, gain in (('S', 49e6, 0), ('B', 87e6, 0.005))
        for it, loss in ((125000, 0.47), (500000, 0.46))]


def law(params, y=(), loo=None):
    empty = np.zeros(0)
    return LawFit(OVER_FITTING, np.array(params, float), 1.0, empty, empty, empty,
                  np.array(y, float), loo)


def test_under_a_budget_the_best_point_is_the_analytic_optimum():
    # L = E + A/N^0.5 + B/S^0.5 without an over-fitting term: with N x S fixed, the optimum
    # has A N^-0.5 = B S^-0.5, so for A = B it has N = S (in the law's units, S = iterations
    # x 2048 / 1e8, N = parameters / 1e8).
    fit = law([0.4, 0.05, 0.05, 0.0, 0.5, 0.5, 0.0, 0.0])
    search = search_box(ROWS, span=8, points=241)
    budget = 16.0  # x 49M parameters x 125k iterations
    point = best_off_grid(fit, 'in1k', 1.28e6, search, budget)
    n = point.params / 1e8
    s = point.iters * 2048 / 1e8
    assert n * s == pytest.approx(budget * 49e6 * 125e3 * 2048 / 1e16, rel=0.03)
    assert n / s == pytest.approx(1, rel=0.15)  # the loss is flat along the budget line
    optimum = np.sqrt(n * s)
    assert point.value == pytest.approx(0.4 + 2 * 0.05 / optimum**0.5, abs=1e-5)
    assert point.cost <= budget and not point.at_edge
    # without a budget, bigger and longer is always better: the search box's corner
    unbounded = best_off_grid(fit, 'in1k', 1.28e6, search)
    assert unbounded.at_edge == 'largest model, longest'
    assert best_off_grid(fit, 'in1k', 1.28e6, search, budget=0.001) is None


def test_advice_has_the_refits_spread_and_is_withheld_where_the_law_misfits():
    # The same rows on a second data set, 10% of the images; the law's held-out errors are
    # 0.0005 on in1k and 0.01 on in1k-10pct, against a noise floor of 0.001.
    rows = ROWS + [Observation(o.model, 'in1k-10pct', o.length, o.params, o.iters, o.val_loss,
                               None, images=1.28e5) for o in ROWS]
    y = np.array([o.val_loss for o in rows])
    loo = y + np.array([0.0005, -0.0005] * 2 + [0.01, -0.01] * 2)
    params = [0.4, 0.05, 0.05, 0.0, 0.5, 0.5, 0.0, 0.0]
    fit = law(params, y, loo)
    # refits with A from 0.03 to 0.07: the optimum under a budget moves along its line
    refits = np.array([[0.4, a, 0.05, 0.0, 0.5, 0.5, 0.0, 0.0] for a in (0.03, 0.05, 0.07)])
    search = search_box(rows, span=8, points=121)
    advice = advise(fit, rows, y, search, [None, 16.0], refits, noise_floor=0.001,
                    misfit_factor=2.0)
    assert [(a.data, a.budget) for a in advice] == [
        ('in1k', None), ('in1k', 16.0), ('in1k-10pct', None), ('in1k-10pct', 16.0)]
    in1k, ten = advice[1], advice[3]
    assert in1k.misfit == pytest.approx(0.0005) and not in1k.withheld
    assert in1k.point == best_off_grid(fit, 'in1k', 1.28e6, search, 16.0)
    # a larger A asks for a larger model: the full fit's point lies inside the refits'
    low, high = in1k.params_interval
    assert low < in1k.point.params < high
    assert low == pytest.approx(best_off_grid(law(refits[0]), 'in1k', 1.28e6, search,
                                              16.0).params, rel=0.05)
    assert in1k.at_edge_share == 0
    # 0.01 is 10 noise floors: no point is advised, the grid's best cell still is
    assert ten.misfit == pytest.approx(0.01) and ten.withheld and ten.point is None
    assert (ten.cell.model, ten.cell.length) == ('B', '500k')
    assert ten.params_interval[0] != ten.params_interval[0]  # NaN: no interval either


def test_the_best_grid_cell_is_measured_and_within_the_budget():
    unit = 49e6 * 125e3
    values = [o.val_loss for o in ROWS]
    best = best_cell(ROWS, values, 'in1k', unit)
    assert (best.model, best.length) == ('B', '500k')
    within = best_cell(ROWS, values, 'in1k', unit, budget=3.0)  # B 500k costs 7.1, S 500k 4
    assert (within.model, within.length, within.value, within.cost) == (
        'B', '125k', pytest.approx(0.465), pytest.approx(87 / 49))
    assert best_cell(ROWS, values, 'in1k', unit, budget=0.5) is None


def test_gpu_hours_of_a_unit_of_cost():
    # the cheapest run: 125k iterations x 2048 images at 1000 images/s = 71.1 hours
    assert gpu_hours_per_cost(ROWS, 1000) == pytest.approx(125000 * 2048 / 1000 / 3600)
    with pytest.raises(ValueError, match='positive images/s'):
        gpu_hours_per_cost(ROWS, 0)


def test_data_sizes_by_name_or_as_a_percentage_of_another():
    sizes = {'lfw': 150}
    assert data_size('lfw', sizes) == 150
    assert data_size('lfw-50pct', sizes) == 75
    assert data_size('other-50pct', sizes) is None
