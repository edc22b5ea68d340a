"""The scaling report of a results table: the paper's claims tested on it, rank correlations
of validation loss and top-1, where over-fitting starts, scaling laws fitted to it, and what
to run next; as Markdown with its figures (``tools/analysis/scaling_report.py``)."""
import os
from dataclasses import dataclass
from pathlib import Path
from typing import List, Mapping, Optional, Sequence, Tuple

import numpy as np

from mim_scaling.visualization.scaling_figures import (loss_vs_top1, measured_vs_predicted,
                                                       overfitting_heatmap)
from mim_scaling.visualization.study_figures import ordered, parse_count, save_figure

from .correlation import RankCorrelation, loss_top1_correlations
from .next_runs import Choice, gpu_hours_per_cost, recommendations, search_box
from .observations import STUDY_BATCH_SIZE, Observation, to_observations
from .overfitting import OverfittingCell, overfitting_cells
from .scaling_law import (DATA_CONSTRAINED, FORMS, N_UNIT, OVER_FITTING, PASSES_UNIT, S_UNIT,
                          LawFit, fit_law, law_inputs, leave_one_out)


@dataclass(frozen=True)
class ReportOptions:
    """Settings of the analyses (the tool's command-line options)."""
    n_boot: int = 1000  # bootstrap resamples of each correlation
    seed: int = 0
    tolerance: float = 0.0  # a rise of the loss larger than this is over-fitting
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

CLAIMS = (
    ('indicator', 'The validation loss in pre-training is a good indicator of how well the '
     'model performs after fine-tuning.'),
    ('overfit', 'Larger models over-fit small data sets, the more the longer they train '
     '(supplementary section B: "all models have the overfitting issues when using small '
     'datasets"; "the validation loss of the larger model is lower than the smaller model in '
     'the non-overfitting cases but higher than the smaller model in the over-fitting '
     'cases").'),
    ('data', 'In the non-over-fitting cases, "the training and validation losses are similar '
     'using different sizes of datasets" (supplementary section B).'),
)

JUSTIFICATION = f"""\
Two forms are fitted, each a sum of an irreducible term and power laws, and the one with the
lower leave-one-out error is used for the predictions:

- **data-constrained** (Muennighoff et al., 2023, *Scaling Data-Constrained Language
  Models*): `L = E + A/N^alpha + B/S'^beta`, with the effective samples
  `S' = U' (1 + R* (1 - exp(-(S/U' - 1)/R*)))` with `U' = min(S, U)` the unique images seen:
  repeated passes over them are worth less and less, but never make the loss worse.
- **over-fitting**: `L = E + A/N^alpha + B/S^beta + C N^gamma (S/U)^delta`. Without repeats
  the loss falls with model size N and samples seen S, whatever the data set (the paper's
  observation for the non-over-fitting cases); the last term is a generalisation gap that
  grows with the model's size and the number of passes S/U over its data, so the loss can
  rise with length, as the grid's does where it over-fits.

N in units of 10^{round(np.log10(N_UNIT))} parameters; S (iterations x batch) and U (unique
training images) in units of 10^{round(np.log10(S_UNIT))} images; S/U in the over-fitting
term in units of {PASSES_UNIT} passes, R* in passes. Fitted by robust least squares
(`scipy.optimize.least_squares`, soft-L1 loss with `f_scale` = 1.4826 x the median
absolute residual, taken from a plain least-squares fit and then once more from the robust
one; {len(DATA_CONSTRAINED.exponent_starts)} or {len(OVER_FITTING.exponent_starts)} \
starting points; coefficients >= 0, E below the smallest measurement).
Standard errors are Gauss-Newton ones, sigma^2 (J^T J)^-1 at the solution, with parameters
on a bound held fixed ("bound"). Exponents and coefficients of the same term are strongly
correlated, so a large relative error means that the grid identifies a term poorly, not
that the predictions are that uncertain: the leave-one-out errors measure those (each row
predicted by the law refitted to the other rows, started from the full fit).
"""


def _f(value: float, digits: int = 3) -> str:
    return '-' if value != value else f'{value:.{digits}f}'


def _count(value: float) -> str:
    for scale, suffix in ((1e9, 'B'), (1e6, 'M'), (1e3, 'k')):
        if value >= scale:
            return f'{value / scale:.3g}{suffix}'
    return f'{value:.3g}'


def _correlation_section(correlations: Sequence[RankCorrelation], figure: str,
                         n_boot: int, seed: int) -> List[str]:
    if not correlations:
        return ['## Does validation loss predict fine-tuned top-1?', '',
                'No group of 3 or more rows has a validation loss and a top-1 that both '
                'vary.', '']
    lines = ['## Does validation loss predict fine-tuned top-1?', '',
             f'Rank correlations of validation loss against top-1, with 95% percentile '
             f'bootstrap intervals ({n_boot} resamples of the rows, seed {seed}). Negative: a '
             'lower loss goes with a higher top-1.', '',
             '| rows | n | Spearman rho | 95% interval | Kendall tau-b | 95% interval |',
             '|---|---|---|---|---|---|']
    for c in correlations:
        lines.append(f'| {c.group} | {c.n} | {c.spearman:.3f} | [{_f(c.spearman_ci[0])}, '
                     f'{_f(c.spearman_ci[1])}] | {c.kendall:.3f} | [{_f(c.kendall_ci[0])}, '
                     f'{_f(c.kendall_ci[1])}] |')
    return lines + ['', f'![validation loss against top-1]({figure})', '']


def _overfitting_section(cells: Sequence[OverfittingCell], figure: str,
                         tolerance: float) -> List[str]:
    lines = ['## Where does over-fitting start?', '',
             'Validation loss of each model and data set by length; "from" is the first length '
             f'at which the loss is higher than at the length before (by more than '
             f'{tolerance:g}).', '']
    if not cells:
        return lines + ['No model and data set has validation losses at two lengths.', '']
    lengths = ordered(length for c in cells for length in c.lengths)
    lines += ['| model | data | ' + ' | '.join(lengths) + ' | over-fitting from |',
              '|---|---|' + '---|' * (len(lengths) + 1)]
    for c in cells:
        by_length = dict(zip(c.lengths, c.losses))
        values = [f'{by_length[k]:.4f}' if k in by_length else '-' for k in lengths]
        lines.append(f'| {c.model} | {c.data} | ' + ' | '.join(values) +
                     f' | {c.onset or "-"} |')
    return lines + ['', f'![over-fitting heat map]({figure})', '']


def _constants_table(fit: LawFit) -> List[str]:
    lines = ['| constant | value | standard error |', '|---|---|---|']
    for name, value, error in zip(fit.form.params, fit.params, fit.stderr):
        lines.append(f'| {name} | {value:.4g} | {"bound" if error != error else f"{error:.2g}"} |')
    return lines


def _poor_fit(fit: LawFit, observations: Sequence[Observation], target: Target) -> List[str]:
    errors = fit.loo_errors
    lines = ['Where the fit is poor: the rows with the largest leave-one-out errors '
             '(prediction - measurement, in the units of the fit), and the mean error by '
             'data set and by model (a systematic offset):', '',
             '| row | measured | fitted | leave-one-out | error |', '|---|---|---|---|---|']
    fitted = fit.fitted
    for k in np.argsort(-np.abs(errors))[:6]:
        o = observations[k]
        lines.append(f'| {o.model} / {o.data} / {o.length} | {target.show(fit.y[k])} | '
                     f'{target.show(fitted[k])} | {target.show(fit.loo[k])} | '
                     f'{errors[k]:+.{target.digits}f} |')
    lines += ['', '| group | mean error | largest error |', '|---|---|---|']
    offsets = []
    for field in ('data', 'model'):
        for name in ordered(getattr(o, field) for o in observations):
            pick = [k for k, o in enumerate(observations) if getattr(o, field) == name]
            mean = np.mean(errors[pick])
            lines.append(f'| {field} {name} | {mean:+.{target.digits}f} | '
                         f'{np.max(np.abs(errors[pick])):.{target.digits}f} |')
            if abs(mean) > fit.loo_rmse / 2:
                offsets.append(f'{field} {name} ({mean:+.{target.digits}f}: predicted '
                               f'{"worse" if mean > 0 else "better"} than measured)')
    return lines + ['', 'Systematic offsets larger than half the leave-one-out RMSE: '
                    + ('; '.join(offsets) if offsets else 'none') + '.']


def fit_target(observations: Sequence[Observation], target: Target):
    """(rows with the target, fits of every form with leave-one-out predictions, the form
    with the lowest leave-one-out error) or a reason why no law can be fitted."""
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
    fits = []
    y = target.values(rows)
    for form in FORMS:
        try:
            fit = fit_law(form, n, s, u, y)
        except ValueError as e:
            return str(e)
        leave_one_out(fit)
        fits.append(fit)
    return rows, fits, min(fits, key=lambda f: f.loo_rmse)


def _law_section(target: Target, fitted, figure: str) -> List[str]:
    lines = [f'### {target.name[0].upper() + target.name[1:]}', '']
    if isinstance(fitted, str):
        return lines + [f'No law fitted: {fitted}.', '']
    rows, fits, best = fitted
    scale = 'top-1 error (100 - top-1, %)' if target.column == 'top1' else target.name
    lines += [f'{len(rows)} rows; the fits are of the {scale}. Spread of the measurements '
              f'(standard deviation): {np.std(best.y):.{target.digits + 1}f}.', '',
              '| form | parameters | RMSE | leave-one-out RMSE | largest leave-one-out error |',
              '|---|---|---|---|---|']
    for fit in fits:
        lines.append(f'| {fit.form.name}{" (used)" if fit is best else ""} | '
                     f'{len(fit.params)} | {fit.rmse:.{target.digits + 1}f} | '
                     f'{fit.loo_rmse:.{target.digits + 1}f} | '
                     f'{np.max(np.abs(fit.loo_errors)):.{target.digits + 1}f} |')
    lines += ['', f'The {best.form.name} law, `{best.form.formula}`:', '']
    lines += _constants_table(best) + ['']
    lines += _poor_fit(best, rows, target) + ['', f'![measured against predicted]({figure})',
                                              '']
    return lines


def _choice(choice: Optional[Choice], target: Target, hours: Optional[float],
            grid: bool) -> str:
    if choice is None:
        return '- | - | - |'
    cost = f'{choice.cost:.3g}' + (f' ({choice.cost * hours:,.0f} h)' if hours else '')
    if grid:
        return (f'{choice.model} {choice.length} | {target.show(choice.value)} '
                f'(law {target.show(choice.predicted)}) | {cost} |')
    edge = f' [edge: {choice.at_edge}]' if choice.at_edge else ''
    return (f'{_count(choice.params)} params, {_count(choice.iters)} iterations{edge} | '
            f'{target.show(choice.value)} | {cost} |')


def _next_section(target: Target, fitted, options: ReportOptions) -> List[str]:
    rows, _, fit = fitted
    search = search_box(rows, options.span)
    values = target.values(rows)
    hours = gpu_hours_per_cost(rows, options.throughput) if options.throughput else None
    budgets = [(f'cost {b:g}', b) for b in options.budgets]
    budgets += [(f'{h:g} GPU-hours (cost {h / hours:.3g})', h / hours)
                for h in options.gpu_hours if hours]
    cheapest = min(rows, key=lambda o: o.params * o.iters)
    header = ('| data | best grid cell | measured | cost | best predicted point | predicted '
              '| cost |')
    lines = [f'### By the {target.name} law ({fit.form.name})', '',
             f'Searched off the grid: {_count(search.params[0])} to '
             f'{_count(search.params[-1])} parameters, {_count(search.iters[0])} to '
             f'{_count(search.iters[-1])} iterations at batch {search.batch_size}. Cost 1 = '
             f'{_count(cheapest.params)} parameters x {_count(cheapest.iters)} iterations'
             + (f' = {hours:,.1f} GPU-hours at {options.throughput:g} images/s for the '
                'smallest model' if hours else '') + '.']
    for name, budget in [(None, None)] + budgets:
        lines += ['', f'**Budget: {name}**' if name else '**Without a budget**', '', header,
                  '|---|---|---|---|---|---|---|']
        for data, cell, point in recommendations(fit, rows, values, search, budget):
            lines.append(f'| {data} | {_choice(cell, target, hours, True)} '
                         f'{_choice(point, target, hours, False)}')
    return lines + ['']


def _indicator_claim(correlations: Sequence[RankCorrelation]) -> str:
    overall = next((c for c in correlations if c.group == 'all rows'), None)
    if overall is None:
        return 'Not testable: too few rows with both numbers.'
    weak = [f'{c.group} (rho = {c.spearman:.3f} [{_f(c.spearman_ci[0])}, '
            f'{_f(c.spearman_ci[1])}], n = {c.n})'
            for c in correlations if c.group != 'all rows' and not c.spearman_ci[1] < 0]
    return (f'Over all {overall.n} rows, Spearman rho = {overall.spearman:.3f} '
            f'[{_f(overall.spearman_ci[0])}, {_f(overall.spearman_ci[1])}] and Kendall tau-b = '
            f'{overall.kendall:.3f} [{_f(overall.kendall_ci[0])}, {_f(overall.kendall_ci[1])}]. '
            'Groups whose 95% interval of rho reaches 0 or above (the loss does not rank their '
            'runs by top-1): ' + ('; '.join(weak) if weak else 'none') + '.')


def _overfit_claim(cells: Sequence[OverfittingCell], params: Mapping[str, float]) -> str:
    over = [c for c in cells if c.onset]
    by_data, consistent, tested = [], 0, 0
    for data in ordered(c.data for c in over):
        by_data.append(f'{data}: ' + ', '.join(f'{c.model} from {c.onset}'
                                               for c in over if c.data == data))
        # larger models over-fit no later: the onset never grows with the model size
        onsets = [parse_count(c.onset) if c.onset else np.inf
                  for c in sorted((c for c in cells if c.data == data),
                                  key=lambda c: params[c.model])]
        tested += 1
        consistent += all(b <= a for a, b in zip(onsets, onsets[1:]))
    return (f'The validation loss rises with length in {len(over)} of {len(cells)} model and '
            'data set cells' + (' (' + '; '.join(by_data) + ')' if by_data else '') +
            f'. On {consistent} of the {tested} data sets with over-fitting, it starts no '
            'later for a larger model than for a smaller one.')


def _data_claim(cells: Sequence[OverfittingCell]) -> str:
    clean = [c for c in cells if not c.onset]
    spreads = []
    for model in ordered(c.model for c in clean):
        for length in ordered(k for c in clean for k in c.lengths):
            losses = [dict(zip(c.lengths, c.losses))[length] for c in clean
                      if c.model == model and length in c.lengths]
            if len(losses) >= 2:
                spreads.append(max(losses) - min(losses))
    if not spreads:
        return 'Not testable: no model and length with two data sets that do not over-fit.'
    gains = [c.losses[0] - c.losses[-1] for c in clean]
    return (f'Over {len(spreads)} pairs of a model and a length trained on two or more data '
            'sets that never over-fit, the validation loss differs across those data sets by '
            f'{np.median(spreads):.4f} (median; at most {np.max(spreads):.4f}), against a '
            f'median drop of {np.median(gains):.4f} from the shortest to the longest schedule '
            'in the same cells.')


def _claims(correlations, cells, params) -> List[str]:
    text = dict(CLAIMS)
    return ['## The paper\'s claims, tested on this table', '',
            f'1. *{text["indicator"]}* {_indicator_claim(correlations)}',
            f'2. *{text["overfit"]}* {_overfit_claim(cells, params)}',
            f'3. *{text["data"]}* {_data_claim(cells)}', '']


def scaling_report(results: Sequence, out_dir, report_file=None,
                   title: str = 'Scaling report', source: str = '',
                   data_sizes: Optional[Mapping[str, float]] = None,
                   batch_size: int = STUDY_BATCH_SIZE,
                   options: ReportOptions = ReportOptions()) -> Path:
    """Writes the report (``report_file``, default ``<out_dir>/scaling_report.md``) and its
    figures (in ``out_dir``) for a results table; returns the report's path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report_file = Path(report_file) if report_file else out_dir / 'scaling_report.md'
    report_file.parent.mkdir(parents=True, exist_ok=True)

    def figure(fig, name: str) -> str:
        path = save_figure(fig, out_dir / name)
        return os.path.relpath(path, report_file.parent)

    observations, left_out = to_observations(results, data_sizes, batch_size)
    with_loss = [o for o in observations if o.val_loss is not None]
    correlations = loss_top1_correlations(observations, options.n_boot, options.seed)
    cells = overfitting_cells(observations, options.tolerance)
    fitted = {t.column: fit_target(observations, t) for t in TARGETS}

    lines = [f'# {title}', '']
    if source:
        lines += [source, '']
    lines += [f'Pre-trained rows: {len(observations)}; with a validation loss: '
              f'{len(with_loss)}; with a fine-tuned top-1: '
              f'{sum(o.top1 is not None for o in observations)}. Batch {batch_size}. Unique '
              'training images: ' + ', '.join(
                  f'{d} {_count(o.images) if o.images else "unknown"}'
                  for d, o in {o.data: o for o in observations}.items()) + '.', '']
    if left_out:
        lines += ['Rows without pre-training, not in the analyses:', '']
        lines += [f'- {line}' for line in left_out] + ['']
    lines += _claims(correlations, cells, {o.model: o.params for o in observations})
    scatter = (figure(loss_vs_top1(observations), 'loss_vs_top1.png')
               if correlations else '')
    lines += _correlation_section(correlations, scatter, options.n_boot, options.seed)
    heatmap = figure(overfitting_heatmap(cells), 'overfitting_heatmap.png') if cells else ''
    lines += _overfitting_section(cells, heatmap, options.tolerance)
    lines += ['## Scaling laws', '', JUSTIFICATION]
    for target in TARGETS:
        result = fitted[target.column]
        plot = ''
        if not isinstance(result, str):
            rows, fits, best = result
            plot = figure(measured_vs_predicted(
                [(f'{target.name}: {fit.form.name} law'
                  + (' (top-1 error)' if target.column == 'top1' else ''), fit, rows)
                 for fit in fits]), f'law_{target.column}.png')
        lines += _law_section(target, result, plot)
    lines += ['## What to run next', '',
              'From the law with the lower leave-one-out error: for each data set, the grid '
              'cell with the best measurement and the point of the searched box with the best '
              'prediction, without a budget and within each budget (cost: parameters x '
              'iterations relative to the cheapest row, as in Figure 1). A point marked "edge" '
              'lies on the border of the searched box: the law still improves beyond it, so it '
              'is an extrapolation, not an optimum.', '']
    for target in TARGETS:
        result = fitted[target.column]
        if isinstance(result, str):
            lines += [f'By {target.name}: no law fitted.', '']
        else:
            lines += _next_section(target, result, options)
    report_file.write_text('\n'.join(lines).rstrip() + '\n')
    return report_file
