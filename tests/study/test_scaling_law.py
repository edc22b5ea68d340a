"""Scaling laws: tables generated from a known law with noise and planted outliers give back
its constants; leave-one-out predicts each row without it."""
import numpy as np
import pytest

from mim_scaling.study.observations import Observation
from mim_scaling.study.scaling_law import (DATA_CONSTRAINED, OVER_FITTING, fit_law, law_inputs,
                                           leave_one_out)


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
    # Tolerance: every constant within 5% of its value (exponents within 0.05), and within
    # four of its standard errors.
    k = len(form.coefficients)
    assert fit.params[:k] == pytest.approx(true[:k], rel=0.05)
    assert fit.params[k:] == pytest.approx(true[k:], rel=0.05, abs=0.05)
    assert np.all(np.abs(fit.params - true) < 4 * fit.stderr)
    assert fit.f_scale < 3 * NOISE


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
