"""The scaling analysis of a results table, as numbers: rank correlations of validation loss
and top-1, where over-fitting starts, scaling laws with cell-bootstrap intervals, which law
predicts better, and what to run next. ``tools/analysis/scaling_report.py`` writes it as
Markdown with its figures.

Every interval resamples whole (model, data set) cells (:mod:`.bootstrap`). The law used for
the advice is the over-fitting form fitted in two stages (:func:`.scaling_law.fit_two_stage`);
its first stage, fitted to the cells whose loss never rises with length, also gives the noise
floor: the root mean square of that stage's leave-one-out errors, what a row of a run that
does not over-fit deviates from a smooth law (an upper bound of the run-to-run noise, since
the law's own misfit is in it). A rise of the validation loss counts as over-fitting only
above ``2 sqrt(2)`` noise floors: two standard deviations of the difference of two rows.
"""
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from .bootstrap import cell_groups, cell_resamples, percentile_interval
from .correlation import RankCorrelation, loss_top1_correlations
from .next_runs import Advice, Search, advise, gpu_hours_per_cost, search_box
from .observations import STUDY_BATCH_SIZE, Observation, to_observations
from .overfitting import (ModelComparison, OverfittingCell, model_comparisons,
                          overfitting_cells)
from .scaling_law import (DATA_CONSTRAINED, OVER_FITTING, LawFit, TwoStageFit,
                          bootstrap_params, fit_law, fit_two_stage, held_out_predictions,
                          law_inputs, leave_one_out)

RISE_NOISE_FLOORS = 2 * np.sqrt(2)


@dataclass(frozen=True)
class AnalysisOptions:
    """Settings of the analyses (the tool's command-line options)."""
    n_boot: int = 1000  # cell-bootstrap resamples, for every interval
    seed: int = 0
    level: float = 0.95
    rise_threshold: Optional[float] = None  # None: 2 sqrt(2) noise floors
    misfit_factor: float = 2.0  # advice withheld above this many noise floors of misfit
    budgets: Tuple[float, ...] = (4.0, 16.0, 64.0)  # relative training costs
    gpu_hours: Tuple[float, ...] = ()  # budgets in GPU-hours (need throughput)
    throughput: Optional[float] = None  # images/s of the smallest model on one GPU
    span: float = 2.0  # the off-grid search reaches this factor beyond the grid


@dataclass(frozen=True)
class Target:
    """A quantity a law is fitted to: the validation loss, or the top-1 error (100 - top-1),
    shown as top-1."""
    name: str
    column: str  # Observation field
    digits: int

    def values(self, observations) -> np.ndarray:
        values = np.array([getattr(o, self.column) for o in observations], float)
        return values if self.column == 'val_loss' else 100 - values

    def show(self, value: float) -> str:
        if value != value:
            return '-'
        return f'{value if self.column == "val_loss" else 100 - value:.{self.digits}f}'


TARGETS = (Target('validation loss', 'val_loss', 4), Target('top-1', 'top1', 2))


@dataclass(frozen=True)
class Constant:
    """A constant of the law, its cell-bootstrap interval, and whether it sits on a bound
    (then its value says only that the fit pushed it there)."""
    name: str
    value: float
    interval: Tuple[float, float]
    on_bound: bool
    bound_share: float  # resamples in which it sits on a bound


@dataclass(frozen=True)
class Comparison:
    """Held-out RMSE of the law against another form, and the cell-bootstrap interval of
    their difference (other - law: positive where the law predicts better)."""
    other: str
    held_out: str  # 'row' or 'cell'
    law_rmse: float
    other_rmse: float
    interval: Tuple[float, float]

    @property
    def winner(self) -> Optional[str]:
        """'law' or 'other' where the interval excludes 0; None where it does not."""
        if self.interval[0] > 0:
            return 'law'
        return 'other' if self.interval[1] < 0 else None


@dataclass
class TargetLaws:
    """The laws of one target fitted to the rows that have it."""
    target: Target
    rows: List[Observation]
    law: TwoStageFit  # with its leave-one-out predictions
    cell_out: np.ndarray  # the law's predictions with each row's whole cell held out
    others: List[LawFit]  # one-stage forms, with their leave-one-out predictions
    constants: List[Constant]
    comparisons: List[Comparison]
    advice: List[Advice]
    search: Search
    resamples: int  # bootstrap refits that gave a law
    hours_per_cost: Optional[float] = None

    @property
    def noise_floor(self) -> float:
        return self.law.base.loo_rmse


@dataclass
class Analysis:
    """Everything the report states about a table."""
    observations: List[Observation]
    left_out: List[str]
    correlations: List[RankCorrelation]
    rise_threshold: float
    cells: List[OverfittingCell]
    model_comparisons: List[ModelComparison]
    laws: Dict[str, Union[TargetLaws, str]]  # by target column; a reason where none fitted
    options: AnalysisOptions = field(repr=False)


def compare_held_out(other: str, held_out: str, law_errors, other_errors, keys,
                     options: AnalysisOptions = AnalysisOptions()) -> Comparison:
    """The held-out errors of the law and of another form on the same rows (``keys``: a
    row's cell), with the cell-bootstrap interval of the difference of their RMSEs."""
    law_errors, other_errors = np.asarray(law_errors, float), np.asarray(other_errors, float)

    def rmse(errors, rows=slice(None)):
        return float(np.sqrt(np.mean(errors[rows]**2)))

    draws = [rmse(other_errors, rows) - rmse(law_errors, rows)
             for rows in cell_resamples(keys, options.n_boot, options.seed)]
    return Comparison(other, held_out, rmse(law_errors), rmse(other_errors),
                      percentile_interval(draws, options.level))


def _constants(law: TwoStageFit, boot: np.ndarray, level: float) -> List[Constant]:
    valid = boot[np.all(np.isfinite(boot), axis=1)]
    on_bound = np.array([law.on_bound(p) for p in valid]).reshape(len(valid), -1)
    return [Constant(name, float(value), percentile_interval(valid[:, k], level),
                     bool(bound), float(on_bound[:, k].mean()) if len(valid) else float('nan'))
            for k, (name, value, bound) in enumerate(zip(OVER_FITTING.params, law.params,
                                                         law.on_bound()))]


def fit_target(observations: Sequence[Observation], target: Target, clean_cells,
               options: AnalysisOptions) -> Union[TargetLaws, str]:
    """The laws of ``target`` on the rows that have it, or the reason why none is fitted.
    ``clean_cells``: the (model, data set) cells that never over-fit."""
    rows = [o for o in observations if getattr(o, target.column) is not None]
    if not rows:
        return f'no pre-trained row has a {target.name}'
    try:
        n, s, u = law_inputs(rows)
    except ValueError as e:
        return str(e)
    for axis, values in (('model sizes', n), ('lengths', s), ('data set sizes', u)):
        if len(set(values)) < 2:
            return f'the rows with a {target.name} have a single value of {axis}'
    y = target.values(rows)
    keys = [o.cell for o in rows]
    try:
        law = fit_two_stage(n, s, u, y, [o.cell in clean_cells for o in rows])
        others = [fit_law(form, n, s, u, y) for form in (DATA_CONSTRAINED, OVER_FITTING)]
    except ValueError as e:
        return str(e)
    groups = cell_groups(keys)
    leave_one_out(law.base)
    cell_out = held_out_predictions(law, groups)
    comparisons = []
    for fit in [law] + others:
        leave_one_out(fit)
    for other in others:
        other_cell_out = held_out_predictions(other, groups)
        comparisons += [
            compare_held_out(other.name, 'row', law.loo - y, other.loo - y, keys, options),
            compare_held_out(other.name, 'cell', cell_out - y, other_cell_out - y, keys,
                             options)]
    boot = bootstrap_params(law, cell_resamples(keys, options.n_boot, options.seed))
    search = search_box(rows, options.span)
    hours = gpu_hours_per_cost(rows, options.throughput) if options.throughput else None
    budgets = [None] + list(options.budgets) + [h / hours for h in options.gpu_hours
                                                if hours]
    advice = advise(law, rows, y, search, budgets, boot, law.base.loo_rmse,
                    options.misfit_factor, options.level)
    return TargetLaws(target, rows, law, cell_out, others, _constants(law, boot, options.level),
                      comparisons, advice, search,
                      int(np.all(np.isfinite(boot), axis=1).sum()), hours)


def analyse(results: Sequence, data_sizes: Optional[Mapping[str, float]] = None,
            batch_size: int = STUDY_BATCH_SIZE,
            options: AnalysisOptions = AnalysisOptions()) -> Analysis:
    """The analysis of a results table (rows with the fields of ``StudyResult``)."""
    observations, left_out = to_observations(results, data_sizes, batch_size)
    correlations = loss_top1_correlations(observations, options.n_boot, options.seed)
    clean = {(c.model, c.data) for c in overfitting_cells(observations) if c.never_rises}
    laws = {t.column: fit_target(observations, t, clean, options) for t in TARGETS}
    threshold = options.rise_threshold
    if threshold is None:
        loss_laws = laws['val_loss']
        threshold = (0.0 if isinstance(loss_laws, str)
                     else float(RISE_NOISE_FLOORS * loss_laws.noise_floor))
    cells = overfitting_cells(observations, threshold)
    return Analysis(observations, left_out, correlations, threshold, cells,
                    model_comparisons(observations, cells), laws, options)


def advice_agreement(analysis: Analysis) -> List[tuple]:
    """(budget, data set, validation-loss advice, top-1 advice, whether their model-size
    intervals overlap, or None where either is withheld) for each budget and data set."""
    laws = [analysis.laws[t.column] for t in TARGETS]
    if any(isinstance(laws_, str) for laws_ in laws):
        return []
    top1 = {(a.budget, a.data): a for a in laws[1].advice}
    rows = []
    for loss in laws[0].advice:
        other = top1.get((loss.budget, loss.data))
        agree = None
        if (other is not None and loss.point is not None and other.point is not None
                and not loss.withheld and not other.withheld):
            agree = (loss.params_interval[0] <= other.params_interval[1]
                     and other.params_interval[0] <= loss.params_interval[1])
        rows.append((loss.budget, loss.data, loss, other, agree))
    return rows
