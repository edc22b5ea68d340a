"""Scaling laws: tables generated from a known law with noise and planted outliers give back
its constants, the two-stage fit with cell-bootstrap intervals that cover them; held-out
rows and cells are predicted without them; the figures' legends explain their markers."""
import numpy as np
import pytest

from mim_scaling.study.bootstrap import cell_groups, cell_resamples, percentile_interval
from mim_scaling.study.observations import Observation
from mim_scaling.study.scaling_law import (DATA_CONSTRAINED, OVER_FITTING, bootstrap_params,
                                           fit_law, fit_two_stage, held_out_predictions,
                                           law_inputs, leave_one_out)
from mim_scaling.visualization.scaling_figures import loss_vs_top1, measured_vs_predicted


def over_fitting_law(n, s, u, E, A, B, C, alpha, beta, gamma, delta):
    """The over-fitting form written out (S / U in hundreds of passes)."""
    return E + A / n**alpha + B / s**beta + C * n**gamma * (s / u / 100)**delta


def data_constrained_law(n, s, u, E, A, B, alpha, beta, r_star):
    """Muennighoff et al.'s form written out: U_D = min(S, U) unique images seen,
    R_D = S / U_D - 1 repeats, S' = U_D + U_D R* (1 - exp(-R_D / R*))."""
    unique_seen = np.minimum(s, u)
    repeats = s / unique_seen - 1
    effective = unique_seen + unique_seen * r_star * (1 - np.exp(-repeats / r_star))
    return E + A / n**alpha + B / effective**beta


# A grid like the study's, in the fit's units (1e8 parameters, 1e8 images): 6 model sizes,
# 5 data sets from 130k to 14M images, 4 lengths of 62.5k to 500k iterations at batch 2048.
N, U, S = np.meshgrid([0.3, 0.5, 0.9, 2.0, 6.5, 10.6], [0.0013, 0.0026, 0.0064, 0.0128, 0.14],
                      [1.28, 2.56, 5.12, 10.24], indexing='ij')
N, U, S = N.ravel(), U.ravel(), S.ravel()
TRUE = {
    # E, A, B, C, alpha, beta, gamma, delta
    'over-fitting': (OVER_FITTING, over_fitting_law,
                     [0.40, 0.03, 0.02, 0.0005, 0.5, 0.6, 0.8, 1.2]),
    # E, A, B, alpha, beta, R*
    'data-constrained': (DATA_CONSTRAINED, data_constrained_law,
                         [0.40, 0.03, 0.02, 0.5, 0.6, 30.0]),
}
NOISE = 0.0005  # standard deviation, about the last digit of the zoo's losses


@pytest.mark.parametrize('name', list(TRUE))
def test_a_noisy_table_with_outliers_gives_back_the_constants_of_its_law(name):
    form, law, true = TRUE[name]
    true = np.array(true)
    rng = np.random.default_rng(0)
    y = law(N, S, U, *true) + rng.normal(0, NOISE, len(N))
    y[[7, 50, 101]] += 0.05  # three runs gone wrong: the robust loss leaves them aside
    fit = fit_law(form, N, S, U, y)
    # Tolerance: every constant within 5% of its value (exponents within 0.05)
    k = len(form.coefficients)
    assert fit.params[:k] == pytest.approx(true[:k], rel=0.05)
    assert fit.params[k:] == pytest.approx(true[k:], rel=0.05, abs=0.05)
    assert not fit.on_bound().any()
    assert fit.f_scale < 3 * NOISE


# A grid whose two largest data sets (14M and 100M images) see too few passes to over-fit:
# their gap term stays below a tenth of the noise, as the first stage takes for granted.
N2, U2, S2 = (a.ravel() for a in np.meshgrid([0.3, 0.5, 0.9, 2.0, 6.5, 10.6],
                                             [0.0013, 0.0026, 0.0064, 0.14, 1.0],
                                             [1.28, 2.56, 5.12, 10.24], indexing='ij'))
PLANTED = np.array([0.40, 0.03, 0.02, 1e-5, 0.5, 0.6, 0.5, 2.0])  # E A B C alpha beta gamma delta


def test_the_two_stage_fit_gives_back_a_planted_law_with_intervals_that_cover_it():
    y = over_fitting_law(N2, S2, U2, *PLANTED)
    clean = U2 >= 0.14
    assert np.max(y[clean] - over_fitting_law(N2, S2, U2, *PLANTED[:3], 0, *PLANTED[4:])[clean]
                  ) < NOISE / 10
    y = y + np.random.default_rng(0).normal(0, NOISE, len(y))
    fit = fit_two_stage(N2, S2, U2, y, clean)
    assert fit.params == pytest.approx(PLANTED, rel=0.05, abs=0.02)
    assert fit.base.y.size == clean.sum() == 48
    # 95% intervals over refits to resamples of whole (model, data set) cells
    refits = bootstrap_params(fit, cell_resamples(list(zip(N2, U2)), 60, seed=0))
    for k, name in enumerate(OVER_FITTING.params):
        low, high = percentile_interval(refits[:, k])
        assert low <= PLANTED[k] <= high, name
        assert high - low < 0.2 * PLANTED[k] + 0.05, name  # and they say something
    with pytest.raises(ValueError, match='5 rows that never over-fit are too few'):
        fit_two_stage(N2, S2, U2, y, np.arange(len(y)) < 5)


def test_leave_one_out_predicts_each_row_from_the_others():
    form, law, true = TRUE['data-constrained']
    n, s, u = N[::4], S[::4], U[::4]
    y = law(n, s, u, *true) + np.random.default_rng(1).normal(0, NOISE, len(n))
    y[3] += 0.02
    fit = fit_law(form, n, s, u, y)
    predictions = leave_one_out(fit)
    assert fit.loo is predictions
    # the law fitted without row 3 does not see its offset: it predicts the true value
    assert predictions[3] == pytest.approx(law(n[3], s[3], u[3], *true), abs=3 * NOISE)
    clean = np.delete(np.arange(len(y)), 3)
    assert np.sqrt(np.mean(fit.loo_errors[clean]**2)) < 3 * NOISE
    assert fit.loo_rmse > fit.rmse


def test_holding_out_a_cell_predicts_all_its_rows_without_it():
    form, law, true = TRUE['data-constrained']
    y = law(N, S, U, *true) + np.random.default_rng(2).normal(0, NOISE, len(N))
    cells = cell_groups(list(zip(N, U)))
    offset = cells[7]  # a whole (model, data set) cell off by 0.01: one run gone wrong
    y[offset] += 0.01
    fit = fit_law(form, N, S, U, y)
    held_out = held_out_predictions(fit, cells)
    assert held_out[offset] == pytest.approx(law(N, S, U, *true)[offset], abs=3 * NOISE)
    others = np.setdiff1d(np.arange(len(y)), offset)
    assert np.sqrt(np.mean((held_out - y)[others]**2)) < 3 * NOISE


@pytest.mark.parametrize('name', list(TRUE))
def test_the_forms_predict_their_laws_written_out_also_with_fewer_samples_than_images(name):
    form, law, true = TRUE[name]
    # a grid like the study's, and runs that see fewer samples than there are images
    n = np.concatenate([N, [0.9, 0.9, 6.5]])
    s = np.concatenate([S, [0.01, 0.05, 0.1]])
    u = np.concatenate([U, [0.14, 0.14, 0.14]])
    np.testing.assert_allclose(form.predict(true, n, s, u), law(n, s, u, *true), rtol=1e-12)
    if name == 'data-constrained':  # before a first pass, every sample is a new image
        E, A, B, alpha, beta, _ = true
        np.testing.assert_allclose(form.predict(true, n[-3:], s[-3:], u[-3:]),
                                   E + A / n[-3:]**alpha + B / s[-3:]**beta, rtol=1e-12)


def test_too_few_rows_and_unknown_data_sizes_are_refused():
    with pytest.raises(ValueError, match='5 rows are too few to fit the over-fitting law'):
        fit_law(OVER_FITTING, N[:5], S[:5], U[:5], np.ones(5))
    rows = [Observation('w16', 'lfw', '60it', 3e5, 60, 0.6, None, images=None, batch_size=8)]
    with pytest.raises(ValueError, match=r"data sets \['lfw'\]: pass them as NAME=IMAGES"):
        law_inputs(rows)


def test_the_figure_of_a_fit_explains_every_marker_in_its_legend():
    rows = [Observation('S' if n < 1 else 'L', f'{u:g}', f'{s:g}', n * 1e8, s * 1e8 / 2048,
                        0.5, 80.0) for n, u, s in zip(N2, U2, S2)]
    y = over_fitting_law(N2, S2, U2, *PLANTED)
    fit = fit_two_stage(N2, S2, U2, y, U2 >= 0.14)
    leave_one_out(fit)
    labels = [t.get_text() for t in measured_vs_predicted(
        [('planted', fit, rows)]).axes[0].get_legend().get_texts()]
    assert labels == (['0.0013', '0.0026', '0.0064', '0.14', '1', 'prediction = measurement',
                       'fitted to all rows', 'row held out (leave-one-out)']
                      + ['30M', '50M', '90M', '200M', '650M', '1.06B'])
    legends = loss_vs_top1(rows).axes[0].get_children()
    titles = [c.get_title().get_text() for c in legends if hasattr(c, 'get_title')
              and hasattr(c, 'get_texts')]
    assert titles == ['colour: pre-training data', 'area: parameters']
