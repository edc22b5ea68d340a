"""Scaling laws fitted to a grid: validation loss (or top-1 error) as a function of model
parameters N, samples seen S (iterations x batch) and unique training images U.

Two forms, each a sum of terms that are linear in their coefficients (``E``, ``A``, ...)
and power laws in their exponents:

- ``data-constrained`` (Muennighoff et al., 2023, "Scaling Data-Constrained Language
  Models"): ``L = E + A / N^alpha + B / S'^beta`` with the effective samples
  ``S' = U' (1 + R* (1 - exp(-R / R*)))``, where ``U' = min(S, U)`` unique images are seen
  and ``R = S / U' - 1`` passes repeat them: repeats are worth less and less, but never
  make the loss worse (fewer samples than images: ``S' = S``).
- ``over-fitting``: ``L = E + A / N^alpha + B / S^beta + C N^gamma (S / U)^delta``. Without
  repeats the loss falls with model size and samples seen (the paper: "for the
  non-overfitting cases, the training and validation losses are similar using different
  sizes of datasets"); the last term is a generalisation gap that grows with the model's
  size and the passes over its data (the paper: larger models over-fit small data sets
  with longer training), so the loss can rise with length, as the grid's does.

Units keep the constants near 1: N in 1e8 parameters, S and U in 1e8 images, S / U in
hundreds of passes (``R*`` in passes). Fits are robust least squares
(``scipy.optimize.least_squares``, ``loss='soft_l1'``) from several starting points, the
coefficients (found by non-negative least squares for each start's exponents) kept
non-negative and ``E`` below the smallest measured value. ``f_scale``, where the soft-L1
loss turns from quadratic to linear, is the robust spread of the residuals (1.4826 x their
median absolute value), of a plain least-squares fit first, then of the robust fit once, so a
few badly fitted cells do not pull the law towards them.
"""
import itertools
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence, Tuple

import numpy as np
from scipy.optimize import least_squares, nnls

from .observations import Observation

N_UNIT = 1e8  # parameters
S_UNIT = 1e8  # images (seen, or unique)
PASSES_UNIT = 100  # passes over the data in the over-fitting term


@dataclass(frozen=True)
class LawForm:
    """A functional form: coefficients (linear, non-negative) times a basis of power laws
    whose exponents are the non-linear parameters."""
    name: str
    formula: str
    coefficients: Tuple[str, ...]
    exponents: Tuple[str, ...]
    exponent_bounds: Tuple[Tuple[float, float], ...]
    exponent_starts: Tuple[Tuple[float, ...], ...]
    basis: Callable[..., np.ndarray]  # (exponents, n, s, u) -> (rows, coefficients)

    @property
    def params(self) -> Tuple[str, ...]:
        return self.coefficients + self.exponents

    def predict(self, params: Sequence[float], n, s, u) -> np.ndarray:
        k = len(self.coefficients)
        params = np.asarray(params, float)
        return self.basis(params[k:], n, s, u) @ params[:k]


def _over_fitting_basis(exponents, n, s, u):
    alpha, beta, gamma, delta = exponents
    passes = s / u / PASSES_UNIT
    return np.stack([np.ones_like(n), n**-alpha, s**-beta, n**gamma * passes**delta], -1)


def _data_constrained_basis(exponents, n, s, u):
    alpha, beta, r_star = exponents
    # Muennighoff et al.: S' = U_D + U_D R* (1 - exp(-R_D / R*)) with U_D = min(S, U) the
    # unique images seen and R_D = S / U_D - 1 the repeated passes over them.
    seen = np.minimum(s, u)
    repeats = s / seen - 1
    effective = seen * (1 + r_star * -np.expm1(-repeats / r_star))
    return np.stack([np.ones_like(n), n**-alpha, effective**-beta], -1)


OVER_FITTING = LawForm(
    name='over-fitting',
    formula='L = E + A / N^alpha + B / S^beta + C N^gamma (S/U)^delta',
    coefficients=('E', 'A', 'B', 'C'), exponents=('alpha', 'beta', 'gamma', 'delta'),
    exponent_bounds=((0.01, 3), (0.01, 3), (0, 4), (0, 4)),
    exponent_starts=tuple(itertools.product((0.3, ), (0.3, ), (0.5, 1.5), (0.5, 1.5))),
    basis=_over_fitting_basis)
DATA_CONSTRAINED = LawForm(
    name='data-constrained',
    formula="L = E + A / N^alpha + B / S'^beta, S' = U' (1 + R* (1 - exp(-(S/U' - 1) / R*))), "
            "U' = min(S, U)",
    coefficients=('E', 'A', 'B'), exponents=('alpha', 'beta', 'R*'),
    exponent_bounds=((0.01, 3), (0.01, 3), (0.1, 1e5)),
    exponent_starts=tuple(itertools.product((0.3, ), (0.3, ), (10, 100, 1000))),
    basis=_data_constrained_basis)
FORMS = (DATA_CONSTRAINED, OVER_FITTING)


@dataclass
class LawFit:
    """A form fitted to measurements: its parameters, their standard errors (NaN where a
    parameter sits on a bound), and the leave-one-out predictions once computed."""
    form: LawForm
    params: np.ndarray
    stderr: np.ndarray
    f_scale: float
    n: np.ndarray = field(repr=False)
    s: np.ndarray = field(repr=False)
    u: np.ndarray = field(repr=False)
    y: np.ndarray = field(repr=False)
    loo: Optional[np.ndarray] = field(default=None, repr=False)

    def predict(self, n, s, u) -> np.ndarray:
        return self.form.predict(self.params, n, s, u)

    @property
    def fitted(self) -> np.ndarray:
        return self.predict(self.n, self.s, self.u)

    @property
    def rmse(self) -> float:
        return float(np.sqrt(np.mean((self.fitted - self.y)**2)))

    @property
    def loo_errors(self) -> np.ndarray:
        if self.loo is None:
            raise ValueError('leave_one_out() has not been run on this fit')
        return self.loo - self.y

    @property
    def loo_rmse(self) -> float:
        return float(np.sqrt(np.mean(self.loo_errors**2)))


def law_inputs(observations: Sequence[Observation]) -> Tuple[np.ndarray, ...]:
    """(n, s, u) of the observations in the fit's units."""
    missing = sorted({o.data for o in observations if o.images is None})
    if missing:
        raise ValueError(f'unknown number of training images for the data sets {missing}: '
                         'pass them as NAME=IMAGES (--data-sizes)')
    n = np.array([o.params for o in observations]) / N_UNIT
    s = np.array([o.samples for o in observations]) / S_UNIT
    u = np.array([o.images for o in observations]) / S_UNIT
    return n, s, u


def _bounds(form: LawForm, y: np.ndarray):
    k = len(form.coefficients)
    lower = [0.0] * k + [b[0] for b in form.exponent_bounds]
    upper = [float(np.min(y))] + [np.inf] * (k - 1) + [b[1] for b in form.exponent_bounds]
    return np.array(lower), np.array(upper)


def _solve(form, start, n, s, u, y, loss, f_scale, tol=1e-8):
    lower, upper = _bounds(form, y)
    margin = 1e-9 * (1 + np.abs(np.where(np.isfinite(upper), upper, lower)))
    start = np.clip(start, lower + margin, upper - margin)
    return least_squares(lambda p: form.predict(p, n, s, u) - y, start, bounds=(lower, upper),
                         loss=loss, f_scale=f_scale, x_scale='jac', max_nfev=2000, ftol=tol,
                         xtol=tol)


def _starts(form, n, s, u, y):
    for exponents in form.exponent_starts:
        coefficients, _ = nnls(form.basis(np.array(exponents), n, s, u), y)
        yield np.concatenate([np.maximum(coefficients, 1e-6), exponents])


def _stderr(form, params, n, s, u, y, lower, upper) -> np.ndarray:
    """Gauss-Newton standard errors: sigma^2 (J^T J)^-1 with the Jacobian of the plain
    residuals (central differences), parameters on a bound held fixed."""
    margin = 1e-6 * (1 + np.abs(np.where(np.isfinite(upper), upper, lower)))
    free = (params > lower + margin) & (params < upper - margin)
    stderr = np.full(len(params), np.nan)
    dof = len(y) - int(free.sum())
    if dof <= 0 or not free.any():
        return stderr
    columns = []
    for i in np.flatnonzero(free):
        step = 1e-6 * max(abs(params[i]), 1e-3)
        up, down = params.copy(), params.copy()
        up[i] += step
        down[i] -= step
        columns.append((form.predict(up, n, s, u) - form.predict(down, n, s, u)) / (2 * step))
    jac = np.stack(columns, 1)
    sigma2 = np.sum((form.predict(params, n, s, u) - y)**2) / dof
    cov = np.linalg.pinv(jac.T @ jac) * sigma2
    stderr[free] = np.sqrt(np.maximum(np.diag(cov), 0))
    return stderr


def fit_law(form: LawForm, n, s, u, y) -> LawFit:
    """The robust least-squares fit of ``form`` to the measurements ``y`` at (n, s, u) (the
    units of :func:`law_inputs`)."""
    n, s, u, y = (np.asarray(a, float) for a in (n, s, u, y))
    if len(y) < len(form.params) + 2:
        raise ValueError(f'{len(y)} rows are too few to fit the {form.name} law: it has '
                         f'{len(form.params)} parameters (at least {len(form.params) + 2} '
                         'rows needed)')
    # the starts are only compared: a looser tolerance is enough to tell the best one
    fit = min((_solve(form, start, n, s, u, y, 'linear', 1.0, tol=1e-6)
               for start in _starts(form, n, s, u, y)), key=lambda r: r.cost)
    for _ in range(2):  # the plain fit's residuals include the outliers' pull: re-estimate
        f_scale = float(max(1.4826 * np.median(np.abs(fit.fun)), 1e-6 * np.std(y), 1e-12))
        fit = _solve(form, fit.x, n, s, u, y, 'soft_l1', f_scale)
    robust = fit
    lower, upper = _bounds(form, y)
    return LawFit(form, robust.x, _stderr(form, robust.x, n, s, u, y, lower, upper), f_scale,
                  n, s, u, y)


def leave_one_out(fit: LawFit) -> np.ndarray:
    """The prediction of each row by the law fitted to all other rows (started from the full
    fit, with its ``f_scale``, to a relative tolerance of 1e-6); also kept in ``fit.loo``."""
    rows = np.arange(len(fit.y))
    predictions = np.empty(len(fit.y))
    for i in rows:
        keep = rows != i
        refit = _solve(fit.form, fit.params, fit.n[keep], fit.s[keep], fit.u[keep],
                       fit.y[keep], 'soft_l1', fit.f_scale, tol=1e-6)
        predictions[i] = fit.form.predict(refit.x, fit.n[i:i + 1], fit.s[i:i + 1],
                                          fit.u[i:i + 1])[0]
    fit.loo = predictions
    return predictions
