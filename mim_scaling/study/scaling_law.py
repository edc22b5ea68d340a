"""Scaling laws fitted to a grid: validation loss (or top-1 error) as a function of model
parameters N, samples seen S (iterations x batch) and unique training images U.

The forms are sums of terms that are linear in their coefficients (``E``, ``A``, ...) and
power laws in their exponents:

- ``Chinchilla`` (Hoffmann et al., 2022): ``L = E + A / N^alpha + B / S^beta``, the loss of
  runs that do not over-fit (the paper: "for the non-overfitting cases, the training and
  validation losses are similar using different sizes of datasets");
- ``over-fitting``: ``L = E + A / N^alpha + B / S^beta + C N^gamma (S / U)^delta``, the same
  plus a generalisation gap that grows with the model's size and the passes over its data
  (the paper: larger models over-fit small data sets with longer training), so the loss can
  rise with length, as the grid's does;
- ``data-constrained`` (Muennighoff et al., 2023, "Scaling Data-Constrained Language
  Models"): ``L = E + A / N^alpha + B / S'^beta`` with the effective samples
  ``S' = U' (1 + R* (1 - exp(-R / R*)))``, where ``U' = min(S, U)`` unique images are seen
  and ``R = S / U' - 1`` passes repeat them: repeats are worth less and less, but never
  make the loss worse (fewer samples than images: ``S' = S``).

Fitted to all rows at once, the over-fitting form's constants stand in for one another (on
the released grid E goes to 0 and alpha, beta to a few hundredths, with the same
predictions). :func:`fit_two_stage` separates them: the Chinchilla form on the rows of the
cells that never over-fit, then only the gap term (``C``, ``gamma``, ``delta``) on all rows,
the first stage held fixed.

Units keep the constants near 1: N in 1e8 parameters, S and U in 1e8 images, S / U in
hundreds of passes (``R*`` in passes). Fits are robust least squares
(``scipy.optimize.least_squares``, ``loss='soft_l1'``) from several starting points, the
coefficients (found by non-negative least squares for each start's exponents) kept
non-negative and ``E`` below the smallest measured value. ``f_scale``, where the soft-L1
loss turns from quadratic to linear, is the robust spread of the residuals (1.4826 x their
median absolute value), of a plain least-squares fit first, then of the robust fit once, so a
few badly fitted cells do not pull the law towards them. Refits (held-out rows, bootstrap
resamples) start from the full fit and keep its ``f_scale``.
"""
import itertools
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence, Tuple, Union

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
    irreducible: bool = True  # the first coefficient is E, below every measurement

    @property
    def params(self) -> Tuple[str, ...]:
        return self.coefficients + self.exponents

    def predict(self, params: Sequence[float], n, s, u) -> np.ndarray:
        k = len(self.coefficients)
        params = np.asarray(params, float)
        return self.basis(params[k:], n, s, u) @ params[:k]


def _chinchilla_basis(exponents, n, s, u):
    alpha, beta = exponents
    return np.stack([np.ones_like(n), n**-alpha, s**-beta], -1)


def _gap_basis(exponents, n, s, u):
    gamma, delta = exponents
    return (n**gamma * (s / u / PASSES_UNIT)**delta)[..., None]


def _over_fitting_basis(exponents, n, s, u):
    alpha, beta, gamma, delta = exponents
    return np.concatenate([_chinchilla_basis((alpha, beta), n, s, u),
                           _gap_basis((gamma, delta), n, s, u)], -1)


def _data_constrained_basis(exponents, n, s, u):
    alpha, beta, r_star = exponents
    # Muennighoff et al.: S' = U_D + U_D R* (1 - exp(-R_D / R*)) with U_D = min(S, U) the
    # unique images seen and R_D = S / U_D - 1 the repeated passes over them.
    seen = np.minimum(s, u)
    repeats = s / seen - 1
    effective = seen * (1 + r_star * -np.expm1(-repeats / r_star))
    return np.stack([np.ones_like(n), n**-alpha, effective**-beta], -1)


CHINCHILLA = LawForm(
    name='Chinchilla', formula='L = E + A / N^alpha + B / S^beta',
    coefficients=('E', 'A', 'B'), exponents=('alpha', 'beta'),
    exponent_bounds=((0.01, 3), (0.01, 3)),
    exponent_starts=tuple(itertools.product((0.1, 0.5), (0.1, 0.5))),
    basis=_chinchilla_basis)
GAP = LawForm(
    name='over-fitting gap', formula='C N^gamma (S/U)^delta', coefficients=('C', ),
    exponents=('gamma', 'delta'), exponent_bounds=((0, 4), (0, 4)),
    exponent_starts=tuple(itertools.product((0.5, 1.5), (0.5, 1.5))), basis=_gap_basis,
    irreducible=False)
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


@dataclass(frozen=True)
class Law:
    """A form with values of its parameters: a fit's, or a bootstrap refit's."""
    form: LawForm
    params: np.ndarray

    def predict(self, n, s, u) -> np.ndarray:
        return self.form.predict(self.params, n, s, u)


class _Predictions:
    """What a fit predicts, and how far from its measurements: the part shared by
    :class:`LawFit` and :class:`TwoStageFit` (which have ``form``, ``params``, the inputs
    and ``loo``)."""

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


@dataclass
class LawFit(_Predictions):
    """A form fitted to measurements: its parameters, and the leave-one-out predictions
    once computed (:func:`leave_one_out`)."""
    form: LawForm
    params: np.ndarray
    f_scale: float
    n: np.ndarray = field(repr=False)
    s: np.ndarray = field(repr=False)
    u: np.ndarray = field(repr=False)
    y: np.ndarray = field(repr=False)
    loo: Optional[np.ndarray] = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.form.name

    def on_bound(self, params: Optional[np.ndarray] = None) -> np.ndarray:
        """Which parameters (of this fit, or ``params``) sit on a bound of the fit."""
        return _on_bound(self.form, self.params if params is None else params, self.y)

    def refit(self, rows: np.ndarray) -> np.ndarray:
        """The parameters fitted to ``rows`` (indices, repeats allowed) from this fit's; NaN
        where too few rows remain."""
        if len(rows) < len(self.form.params) + 2:
            return np.full(len(self.params), np.nan)
        return _solve(self.form, self.params, self.n[rows], self.s[rows], self.u[rows],
                      self.y[rows], 'soft_l1', self.f_scale, tol=1e-6).x


@dataclass
class TwoStageFit(_Predictions):
    """The over-fitting form fitted in two stages: the Chinchilla form (``base``) on the
    rows that never over-fit (``clean``), then the gap term (``gap``) on all rows, fitted
    to what the first stage leaves."""
    base: LawFit
    gap: LawFit
    clean: np.ndarray = field(repr=False)  # a boolean per row
    n: np.ndarray = field(repr=False)
    s: np.ndarray = field(repr=False)
    u: np.ndarray = field(repr=False)
    y: np.ndarray = field(repr=False)
    loo: Optional[np.ndarray] = field(default=None, repr=False)

    form = OVER_FITTING
    name = 'over-fitting, two-stage'

    @property
    def params(self) -> np.ndarray:
        return _combine(self.base.params, self.gap.params)

    def on_bound(self, params: Optional[np.ndarray] = None) -> np.ndarray:
        params = self.params if params is None else params
        base, gap = _split(params)
        return _combine(self.base.on_bound(base), self.gap.on_bound(gap))

    def refit(self, rows: np.ndarray) -> np.ndarray:
        base_rows = rows[self.clean[rows]]
        if len(base_rows) < len(CHINCHILLA.params) + 2:
            return np.full(len(OVER_FITTING.params), np.nan)
        base = _solve(CHINCHILLA, self.base.params, self.n[base_rows], self.s[base_rows],
                      self.u[base_rows], self.y[base_rows], 'soft_l1', self.base.f_scale,
                      tol=1e-6).x
        n, s, u = self.n[rows], self.s[rows], self.u[rows]
        left = self.y[rows] - CHINCHILLA.predict(base, n, s, u)
        gap = _solve(GAP, self.gap.params, n, s, u, left, 'soft_l1', self.gap.f_scale,
                     tol=1e-6).x
        return _combine(base, gap)


Fit = Union[LawFit, TwoStageFit]


def _combine(base: np.ndarray, gap: np.ndarray) -> np.ndarray:
    """(E, A, B, alpha, beta) and (C, gamma, delta) as the over-fitting form's parameters."""
    return np.concatenate([base[:3], gap[:1], base[3:], gap[1:]])


def _split(params: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    return np.concatenate([params[:3], params[4:6]]), np.concatenate([params[3:4], params[6:]])


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
    upper = [np.inf] * k + [b[1] for b in form.exponent_bounds]
    if form.irreducible:
        upper[0] = float(np.min(y))
    return np.array(lower), np.array(upper)


def _on_bound(form: LawForm, params: np.ndarray, y: np.ndarray) -> np.ndarray:
    lower, upper = _bounds(form, y)
    margin = 1e-6 * (1 + np.abs(np.where(np.isfinite(upper), upper, lower)))
    return (params <= lower + margin) | (params >= upper - margin)


def _jacobian(form: LawForm, params: np.ndarray, n, s, u) -> np.ndarray:
    """The prediction's derivatives: the basis itself for the coefficients, central
    differences of the basis for the exponents (a refit spends most of its time here)."""
    k = len(form.coefficients)
    coefficients, exponents = params[:k], params[k:]
    columns = [form.basis(exponents, n, s, u)]
    for j, value in enumerate(exponents):
        step = 1e-6 * max(abs(value), 1e-3)
        up, down = exponents.copy(), exponents.copy()
        up[j] += step
        down[j] -= step
        columns.append(((form.basis(up, n, s, u) - form.basis(down, n, s, u)) @ coefficients
                        / (2 * step))[:, None])
    return np.concatenate(columns, 1)


def _solve(form, start, n, s, u, y, loss, f_scale, tol=1e-8):
    lower, upper = _bounds(form, y)
    margin = 1e-9 * (1 + np.abs(np.where(np.isfinite(upper), upper, lower)))
    start = np.clip(start, lower + margin, upper - margin)
    return least_squares(lambda p: form.predict(p, n, s, u) - y, start,
                         jac=lambda p: _jacobian(form, p, n, s, u), bounds=(lower, upper),
                         loss=loss, f_scale=f_scale, x_scale='jac', max_nfev=2000, ftol=tol,
                         xtol=tol)


def _starts(form, n, s, u, y):
    for exponents in form.exponent_starts:
        coefficients, _ = nnls(form.basis(np.array(exponents), n, s, u), y)
        yield np.concatenate([np.maximum(coefficients, 1e-6), exponents])


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
    return LawFit(form, fit.x, f_scale, n, s, u, y)


def fit_two_stage(n, s, u, y, clean) -> TwoStageFit:
    """The over-fitting form fitted in two stages: the Chinchilla form on the rows where
    ``clean`` is true (those that never over-fit), then the gap term on all rows, to the
    measurements less the first stage's prediction."""
    n, s, u, y = (np.asarray(a, float) for a in (n, s, u, y))
    clean = np.asarray(clean, bool)
    if len(clean) != len(y):
        raise ValueError(f'{len(clean)} clean flags for {len(y)} rows')
    if clean.sum() < len(CHINCHILLA.params) + 2:
        raise ValueError(f'{clean.sum()} rows that never over-fit are too few to fit the '
                         f'{CHINCHILLA.name} law (at least {len(CHINCHILLA.params) + 2} needed)')
    base = fit_law(CHINCHILLA, n[clean], s[clean], u[clean], y[clean])
    gap = fit_law(GAP, n, s, u, y - base.predict(n, s, u))
    return TwoStageFit(base, gap, clean, n, s, u, y)


def held_out_predictions(fit: Fit, groups: Sequence[np.ndarray]) -> np.ndarray:
    """Each group of rows predicted by the law refitted to all other rows."""
    rows = np.arange(len(fit.y))
    predictions = np.full(len(fit.y), np.nan)
    for held in groups:
        params = fit.refit(np.setdiff1d(rows, held))
        predictions[held] = fit.form.predict(params, fit.n[held], fit.s[held], fit.u[held])
    return predictions


def leave_one_out(fit: Fit) -> np.ndarray:
    """The prediction of each row by the law fitted to all other rows; also kept in
    ``fit.loo``."""
    fit.loo = held_out_predictions(fit, [np.array([i]) for i in range(len(fit.y))])
    return fit.loo


def bootstrap_params(fit: Fit, resamples: Sequence[np.ndarray]) -> np.ndarray:
    """The parameters refitted to each resample of the rows, a row each (NaN where a
    resample has too few rows)."""
    return np.stack([fit.refit(rows) for rows in resamples])
