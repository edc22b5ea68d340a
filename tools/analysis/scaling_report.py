"""A study's grid read back as numbers: does validation loss predict top-1, where over-fitting
starts, scaling laws fitted to the grid, and what to run next, as a Markdown report.

Usage::

    python tools/analysis/scaling_report.py RESULTS.csv [--out-dir DIR] [options]
    python tools/analysis/scaling_report.py --zoo [--out-dir DIR] [options]

``RESULTS.csv`` is what ``tools/sweep.py`` writes; ``--zoo`` reads the released table (63
rows). Writes ``scaling_report.md`` (or ``--report FILE``) and its figures
(``loss_vs_top1.png``, ``overfitting_heatmap.png``, ``law_val_loss.png``,
``law_top1.png``) to ``--out-dir`` (default: next to the CSV, or
``work_dirs/scaling_report`` for ``--zoo``). The report on the released table in
``docs/scaling_study.md`` is written by::

    python tools/analysis/scaling_report.py --zoo --report docs/scaling_study.md \\
        --out-dir docs/scaling_study

Every interval resamples whole (model, data set) cells, ``--bootstrap`` times (default
1000): on the released table the analysis then takes about 45 s of CPU time (2-core AMD
EPYC, numpy 2.4, scipy 1.17), most of it refitting the law to each resample.

The numbers come from ``mim_scaling.study.report.analyse``; this script words them. The laws
need the number of unique training images of each data set: the study's are known; for
one's own give ``--data-sizes NAME=IMAGES`` (a data set ``NAME-50pct`` is then half of
``NAME``) and the total batch of the pre-trainings (``--batch-size``).
"""
import argparse
import os
import shlex
import sys
from pathlib import Path
from typing import List, Optional, Sequence

import numpy as np

from mim_scaling.study import read_results, released_results
from mim_scaling.study.observations import STUDY_BATCH_SIZE, ordered
from mim_scaling.study.report import (RISE_NOISE_FLOORS, TARGETS, Analysis, AnalysisOptions,
                                      TargetLaws, advice_agreement, analyse)
from mim_scaling.study.scaling_law import (CHINCHILLA, GAP, N_UNIT, OVER_FITTING, PASSES_UNIT,
                                           S_UNIT)
from mim_scaling.visualization import save_figure
from mim_scaling.visualization.scaling_figures import (loss_vs_top1, measured_vs_predicted,
                                                       overfitting_heatmap)

DEFAULTS = AnalysisOptions()

CLAIMS = (
    ('indicator', 'The validation loss in pre-training is a good indicator of how well the '
     'model performs after fine-tuning.'),
    ('overfit', 'All models over-fit small data sets, and "the validation loss of the larger '
     'model is lower than the smaller model in the non-overfitting cases but higher than the '
     'smaller model in the over-fitting cases" (supplementary section B).'),
    ('data', 'In the non-over-fitting cases, "the training and validation losses are similar '
     'using different sizes of datasets" (supplementary section B).'),
)

LAWS = f"""\
The law used for the advice is the **over-fitting** form
`L = E + A/N^alpha + B/S^beta + C N^gamma (S/U)^delta`, fitted in two stages. Fitted to all
rows at once, its constants can stand in for one another (a lower E made up for by flatter
power laws, with much the same predictions; the table of each target says which constants
such a fit leaves on a bound), so:

1. the **{CHINCHILLA.name}** form `{CHINCHILLA.formula}` (Hoffmann et al., 2022) is fitted
   to the rows of the cells whose validation loss never rises with length: without
   over-fitting, the loss falls with model size N and samples seen S whatever the data set
   (the paper's observation for the non-over-fitting cases);
2. only the **gap** term `{GAP.formula}` is then fitted to all rows, to what the first stage
   leaves: a generalisation gap that grows with the model's size and the passes S/U over its
   U unique images, so the loss can rise with length where the grid over-fits.

It is compared with the same form fitted in one stage, and with the **data-constrained** form
(Muennighoff et al., 2023, *Scaling Data-Constrained Language Models*)
`L = E + A/N^alpha + B/S'^beta`, `S' = U' (1 + R* (1 - exp(-(S/U' - 1)/R*)))`,
`U' = min(S, U)`: repeated passes over the data are worth less and less, but never make the
loss worse. A form beats another only where the cell-bootstrap interval of the difference of
their held-out RMSEs excludes 0, with single rows and with whole cells held out.

N in units of 10^{round(np.log10(N_UNIT))} parameters; S (iterations x batch) and U in units
of 10^{round(np.log10(S_UNIT))} images; S/U in the gap term in units of {PASSES_UNIT} passes,
R* in passes. Fits are robust least squares (`scipy.optimize.least_squares`, soft-L1 loss with
`f_scale` = 1.4826 x the median absolute residual; coefficients >= 0, E below the smallest
measurement, exponents within bounds); refits start from the full fit. A constant on a bound
is reported as such: its value says only that the fit pushed it there.
"""


def _f(value: float, digits: int = 3) -> str:
    return '-' if value != value else f'{value:.{digits}f}'


def _count(value: float) -> str:
    if value != value:
        return '-'
    for scale, suffix in ((1e9, 'B'), (1e6, 'M'), (1e3, 'k')):
        if value >= scale:
            return f'{value / scale:.3g}{suffix}'
    return f'{value:.3g}'


def _interval(low: float, high: float, show=_f) -> str:
    return f'[{show(low)}, {show(high)}]'


def _table(header: Sequence[str], rows: Sequence[Sequence]) -> List[str]:
    return (['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
            + ['| ' + ' | '.join(str(c) for c in row) + ' |' for row in rows])


def _gain_section(analysis: Analysis) -> List[str]:
    rows = [o for o in analysis.observations if o.gain is not None]
    lines = ['## Gain over the trivial baseline', '']
    if not rows:
        return lines + ['No row carries the loss of predicting zero for the normalised target '
                        '(the released rows have none): the gain over that baseline cannot be '
                        'shown for this table.', '']
    lines += ['Validation loss against the loss of predicting zero for the normalised target '
              '(each window\'s local mean) on the same images and masks; gain = 1 - loss / '
              'zero-prediction loss. A gain near 0 is the trivial solution.', '']
    return lines + _table(
        ('model', 'data', 'length', 'validation loss', 'zero-prediction loss', 'gain'),
        [(o.model, o.data, o.length, _f(o.val_loss, 4), _f(o.zero_prediction_loss, 4),
          f'{o.gain:.2%}') for o in rows]) + ['']


def _indicator_claim(analysis: Analysis) -> str:
    correlations = analysis.correlations
    overall = next((c for c in correlations if c.group == 'all rows'), None)
    if overall is None:
        return 'Not testable: too few rows with both numbers.'
    weak = [f'{c.group} (rho = {c.spearman:.3f} {_interval(*c.spearman_ci)}, n = {c.n})'
            for c in correlations if c.group != 'all rows' and not c.spearman_ci[1] < 0]
    return (f'Over all {overall.n} rows, Spearman rho = {overall.spearman:.3f} '
            f'{_interval(*overall.spearman_ci)} and Kendall tau-b = {overall.kendall:.3f} '
            f'{_interval(*overall.kendall_ci)} (95% cell-bootstrap intervals). Groups whose '
            'interval of rho reaches 0 or above (the loss does not rank their runs by top-1): '
            + ('; '.join(weak) if weak else 'none') + '.')


def _comparison_counts(analysis: Analysis):
    counts = {}
    for c in analysis.model_comparisons:
        counts.setdefault(c.overfitting_case, {}).setdefault(c.verdict, []).append(c)
    return counts


def _pair(c) -> str:
    return f'{c.data} {c.length}: {c.smaller} -> {c.larger} {c.change:+.4f}'


def _overfit_claim(analysis: Analysis) -> str:
    cells = analysis.cells
    over = [c for c in cells if c.onset]
    by_data = [f'{data}: ' + ', '.join(f'{c.model} from {c.onset}'
                                       for c in over if c.data == data)
               for data in ordered(c.data for c in over)]
    text = (f'Along the length, the validation loss rises by more than the noise threshold '
            f'({analysis.rise_threshold:.4f}) in {len(over)} of {len(cells)} model and data set '
            'cells' + (' (' + '; '.join(by_data) + ')' if by_data else '') + '.')
    smallest = []
    for model in ordered(c.model for c in cells):
        own = [c for c in cells if c.model == model]
        first = min(own, key=lambda c: next(o.images or 0 for o in analysis.observations
                                            if o.data == c.data))
        smallest.append(first.onset is not None)
    text += (f' {sum(smallest)} of {len(smallest)} models over-fit the smallest data set they '
             'were trained on.')
    if not analysis.model_comparisons:
        return text + ' No data set and length has two models to compare.'
    text += (' Each model against the next larger one on the same data and length (an '
             'over-fitting case where the larger model\'s cell over-fits at that length):')
    counts = _comparison_counts(analysis)
    for case, expected, name in ((True, 'higher', 'over-fitting'),
                                 (False, 'lower', 'non-over-fitting')):
        verdicts = counts.get(case, {})
        total = sum(len(v) for v in verdicts.values())
        if not total:
            text += f' no {name} case.'
            continue
        against = [c for v, group in verdicts.items() if v not in (expected, 'within noise')
                   for c in group]
        text += (f' in the {total} {name} cases, the larger model\'s loss is {expected} in '
                 f'{len(verdicts.get(expected, []))}, within the threshold in '
                 f'{len(verdicts.get("within noise", []))} and '
                 f'{"lower" if case else "higher"} in {len(against)}'
                 + (' (' + '; '.join(_pair(c) for c in against) + ')' if against else '')
                 + (';' if case else '.'))
    return text


def _data_claim(analysis: Analysis) -> str:
    clean = [c for c in analysis.cells if not c.onset]
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
            'sets that do not over-fit, the validation loss differs across those data sets by '
            f'{np.median(spreads):.4f} (median; at most {np.max(spreads):.4f}), against a '
            f'median drop of {np.median(gains):.4f} from the shortest to the longest schedule '
            'in the same cells.')


def _claims(analysis: Analysis) -> List[str]:
    text = dict(CLAIMS)
    return ['## The paper\'s claims, tested on this table', '',
            f'1. *{text["indicator"]}* {_indicator_claim(analysis)}',
            f'2. *{text["overfit"]}* {_overfit_claim(analysis)}',
            f'3. *{text["data"]}* {_data_claim(analysis)}', '']


def _correlation_section(analysis: Analysis, figure: str) -> List[str]:
    lines = ['## Does validation loss predict fine-tuned top-1?', '']
    if not analysis.correlations:
        return lines + ['No group of 3 or more rows has a validation loss and a top-1 that both '
                        'vary.', '']
    options = analysis.options
    lines += [f'Rank correlations of validation loss against top-1, with 95% percentile '
              f'bootstrap intervals ({options.n_boot} resamples of whole (model, data set) '
              f'cells, seed {options.seed}: the lengths of a cell are not independent runs). '
              'Negative: a lower loss goes with a higher top-1.', '']
    lines += _table(('rows', 'n', 'Spearman rho', '95% interval', 'Kendall tau-b',
                     '95% interval'),
                    [(c.group, c.n, f'{c.spearman:.3f}', _interval(*c.spearman_ci),
                      f'{c.kendall:.3f}', _interval(*c.kendall_ci))
                     for c in analysis.correlations])
    return lines + ['', f'![validation loss against top-1]({figure})', '']


def _threshold_text(analysis: Analysis) -> str:
    laws = analysis.laws['val_loss']
    if analysis.options.rise_threshold is not None:
        return f'{analysis.rise_threshold:.4f} (given)'
    if isinstance(laws, str):
        return '0 (no law fitted, so no noise floor: every rise counts)'
    return (f'{analysis.rise_threshold:.4f} = 2 sqrt(2) x the noise floor '
            f'{laws.noise_floor:.4f}, two standard deviations of the difference of two rows')


def _overfitting_section(analysis: Analysis, figure: str) -> List[str]:
    cells = analysis.cells
    lines = ['## Where does over-fitting start?', '',
             'A cell over-fits from the first length whose validation loss is higher than at a '
             f'shorter length by more than the threshold, {_threshold_text(analysis)}. The '
             'noise floor is the leave-one-out RMSE of the validation-loss law\'s first stage '
             '(fitted to the cells whose loss never rises with length): what a run that does '
             'not over-fit deviates from a smooth law. The study trained each cell once, so '
             'this bounds the run-to-run noise from above (the law\'s own misfit is in it). '
             'Rises at or below the threshold are listed as noise.', '']
    if not cells:
        return lines + ['No model and data set has validation losses at two lengths.', '']
    lengths = ordered(length for c in cells for length in c.lengths)
    rows = []
    for c in cells:
        by_length = dict(zip(c.lengths, c.losses))
        noise = [f'{length} {rise:+.4f}' for length, rise in zip(c.lengths, c.rises)
                 if 0 < rise <= c.threshold]
        rows.append([c.model, c.data] + [_f(by_length.get(k, float('nan')), 4)
                                         for k in lengths]
                    + [c.onset or '-', ', '.join(noise) or '-'])
    lines += _table(['model', 'data'] + lengths + ['over-fitting from', 'rises within noise'],
                    rows)
    lines += ['', f'![over-fitting heat map]({figure})', '']
    comparisons = analysis.model_comparisons
    if comparisons:
        counts = _comparison_counts(analysis)
        lines += ['The paper\'s wording, model against model: each model against the next '
                  'larger one with a row of the same data set and length; the case is an '
                  'over-fitting one when the larger model\'s cell over-fits at that length. '
                  'Counts of the larger model\'s loss against the smaller\'s:', '']
        lines += _table(('case', 'higher', 'within the threshold', 'lower'),
                        [(name, *(len(counts.get(case, {}).get(v, []))
                                  for v in ('higher', 'within noise', 'lower')))
                         for case, name in ((True, 'over-fitting'),
                                            (False, 'non-over-fitting'))])
        against = [c for c in comparisons
                   if not c.as_the_paper_says and c.verdict != 'within noise']
        lines += ['', 'Against the paper\'s wording: ' + (
            '; '.join(_pair(c) + (' (over-fitting case)' if c.overfitting_case else
                                  ' (non-over-fitting case)') for c in against)
            if against else 'none') + '.', '']
    return lines


def _held_out_table(laws: TargetLaws, digits: int) -> List[str]:
    def bound(fit) -> str:
        return ', '.join(name for name, on in zip(fit.form.params, fit.on_bound()) if on) or '-'

    y = laws.law.y
    rows = [(f'{laws.law.name} (used)', len(OVER_FITTING.params), _f(laws.law.rmse, digits),
             _f(laws.law.loo_rmse, digits),
             _f(float(np.sqrt(np.mean((laws.cell_out - y)**2))), digits), bound(laws.law))]
    by_form = {(c.other, c.held_out): c for c in laws.comparisons}
    for fit in laws.others:
        rows.append((f'{fit.name}, one stage', len(fit.params), _f(fit.rmse, digits),
                     _f(fit.loo_rmse, digits), _f(by_form[fit.name, 'cell'].other_rmse, digits),
                     bound(fit)))
    return _table(('form', 'parameters', 'RMSE', 'held-out RMSE (rows)',
                   'held-out RMSE (cells)', 'constants on a bound'), rows)


def _comparison_table(laws: TargetLaws, digits: int) -> List[str]:
    rows = []
    for c in laws.comparisons:
        winner = {'law': f'{laws.law.name} beats it', 'other': f'it beats {laws.law.name}',
                  None: 'neither: the interval includes 0'}[c.winner]
        rows.append((f'{c.other}, one stage', c.held_out, _f(c.law_rmse, digits),
                     _f(c.other_rmse, digits), f'{c.other_rmse - c.law_rmse:+.{digits}f}',
                     _interval(*c.interval, show=lambda v: f'{v:+.{digits}f}'), winner))
    return _table(('other form', 'held out', 'law RMSE', 'other RMSE',
                   'difference (other - law)', '95% interval', 'verdict'), rows)


def _constants_table(laws: TargetLaws, options: AnalysisOptions) -> List[str]:
    rows, tail = [], (1 - options.level) / 2
    for c in laws.constants:
        bound = ('on its bound: not interpreted' if c.on_bound else
                 'its interval ends on a bound' if c.bound_share > tail else '-')
        rows.append((c.name, f'{c.value:.4g}', _interval(*c.interval, show=lambda v: f'{v:.4g}'),
                     f'{c.bound_share:.0%}', bound))
    return _table(('constant', 'value', '95% interval', 'resamples on a bound', 'note'), rows)


def _misfit_table(laws: TargetLaws, digits: int) -> List[str]:
    errors = laws.law.loo_errors
    rows = []
    for field in ('data', 'model'):
        for name in ordered(getattr(o, field) for o in laws.rows):
            pick = [k for k, o in enumerate(laws.rows) if getattr(o, field) == name]
            rms = float(np.sqrt(np.mean(errors[pick]**2)))
            rows.append((f'{field} {name}', len(pick), f'{np.mean(errors[pick]):+.{digits}f}',
                         _f(rms, digits), f'{rms / laws.noise_floor:.1f}'))
    return _table(('rows', 'n', 'mean error', 'RMS error', 'x noise floor'), rows)


def _law_section(target, laws, figure: str, options: AnalysisOptions) -> List[str]:
    lines = [f'### {target.name[0].upper() + target.name[1:]}', '']
    if isinstance(laws, str):
        return lines + [f'No law fitted: {laws}.', '']
    digits = target.digits + 1
    scale = 'top-1 error (100 - top-1, %)' if target.column == 'top1' else target.name
    clean = int(laws.law.clean.sum())
    lines += [f'{len(laws.rows)} rows, {clean} of them in cells that never over-fit (the first '
              f'stage\'s); the fits are of the {scale}. Spread of the measurements (standard '
              f'deviation): {np.std(laws.law.y):.{digits}f}. Noise floor (leave-one-out RMSE '
              f'of the first stage on its {clean} rows): {laws.noise_floor:.{digits}f}.', '']
    lines += _held_out_table(laws, digits) + ['']
    lines += _comparison_table(laws, digits) + ['']
    lines += [f'Constants of the two-stage law, with 95% intervals over {laws.resamples} '
              f'refits to cell-bootstrap resamples (of {options.n_boot}, seed {options.seed}):',
              ''] + _constants_table(laws, options) + ['']
    lines += ['Leave-one-out errors (prediction - measurement) by data set and by model, '
              'against the noise floor:', ''] + _misfit_table(laws, digits)
    return lines + ['', f'![measured against predicted]({figure})', '']


def _point(a, hours: Optional[float]) -> List[str]:
    """The advised point of ``a``, its predicted value and its cost."""
    if a.withheld:
        return [f'withheld: the law misfits these rows by {a.misfit / a.noise_floor:.1f} x '
                'the noise floor', '-', '-']
    if a.point is None:
        return ['none within the budget', '-', '-']
    p = a.point
    cost = f'{p.cost:.3g}' + (f' ({p.cost * hours:,.0f} h)' if hours else '')
    edge = f'; edge: {p.at_edge}' if p.at_edge else ''
    return [f'{_count(p.params)} {_interval(*a.params_interval, show=_count)} params, '
            f'{_count(p.iters)} {_interval(*a.iters_interval, show=_count)} iterations'
            f'{edge} (on the edge in {a.at_edge_share:.0%} of refits)', p.value, cost]


def _advice_section(target, laws: TargetLaws, options: AnalysisOptions) -> List[str]:
    search, hours = laws.search, laws.hours_per_cost
    cheapest = min(laws.rows, key=lambda o: o.params * o.iters)
    lines = [f'### By the {target.name} law', '',
             f'Searched off the grid: {_count(search.params[0])} to '
             f'{_count(search.params[-1])} parameters, {_count(search.iters[0])} to '
             f'{_count(search.iters[-1])} iterations at batch {search.batch_size}. Cost 1 = '
             f'{_count(cheapest.params)} parameters x {_count(cheapest.iters)} iterations'
             + (f' = {hours:,.1f} GPU-hours at {options.throughput:g} images/s for the '
                'smallest model' if hours else '') + '.']
    names = ['**Without a budget**'] + [f'**Budget: cost {b:g}**' for b in options.budgets]
    names += [f'**Budget: {h:g} GPU-hours (cost {h / hours:.3g})**'
              for h in options.gpu_hours if hours]
    budgets = ordered(a.budget for a in laws.advice)
    for name, budget in zip(names, budgets):
        rows = []
        for a in (a for a in laws.advice if a.budget == budget):
            cell = ['-', '-', '-'] if a.cell is None else [
                f'{a.cell.model} {a.cell.length}',
                f'{target.show(a.cell.value)} (law {target.show(a.cell.predicted)})',
                f'{a.cell.cost:.3g}' + (f' ({a.cell.cost * hours:,.0f} h)' if hours else '')]
            point = _point(a, hours)
            if point[1] != '-':
                point[1] = target.show(point[1])
            rows.append([a.data] + cell + point)
        lines += ['', name, ''] + _table(
            ('data', 'best grid cell', 'measured', 'cost', 'advised point [95% interval]',
             'predicted', 'cost'), rows)
    return lines + ['']


def _advised_size(a) -> str:
    if a is None:
        return '-'
    if a.withheld:
        return 'withheld'
    if a.point is None:
        return 'none within the budget'
    return f'{_count(a.point.params)} {_interval(*a.params_interval, show=_count)}'


def _agreement(analysis: Analysis) -> List[str]:
    rows = advice_agreement(analysis)
    if not rows:
        return []
    correlation = {c.group: c for c in analysis.correlations}
    lines = ['### The two laws side by side', '',
             'The model size each law advises (with its 95% interval), and whether the two '
             'intervals overlap:', '']
    table = []
    for budget, data, loss, top1, agree in rows:
        c = correlation.get(f'data {data}')
        verdict = {True: 'agree', False: 'disagree', None: 'not compared'}[agree]
        table.append(('none' if budget is None else f'{budget:.3g}', data, _advised_size(loss),
                      _advised_size(top1), verdict,
                      '-' if c is None else f'{c.spearman:.3f} {_interval(*c.spearman_ci)}'))
    lines += _table(('budget', 'data', 'validation-loss law', 'top-1 law', 'verdict',
                     'rho(loss, top-1) within the data set'), table)
    disagree = [f'{data} (budget {"none" if budget is None else f"{budget:.3g}"})'
                for budget, data, _, _, agree in rows if agree is False]
    compared = sum(agree is not None for *_, agree in rows)
    lines += ['', f'Of the {compared} pairs of advice that both laws give, the model sizes '
              f'disagree on {len(disagree)}' + (f': {"; ".join(disagree)}' if disagree else '')
              + '. Fine-tuned top-1 is what the runs are for, so where the two disagree the '
              'top-1 law\'s advice is the one to weigh; where the rho interval of a data set '
              'reaches 0, its validation loss does not rank its runs by top-1 and is no guide '
              'to them.', '']
    return lines


def _next_section(analysis: Analysis) -> List[str]:
    options = analysis.options
    lines = ['## What to run next', '',
             'From the two-stage law of each target: for each data set, the grid cell with the '
             'best measurement and the point of the searched box with the best prediction, '
             'without a budget and within each budget (cost: parameters x iterations relative '
             'to the cheapest row, as in Figure 1). The intervals are those of the best point '
             f'of the law refitted to each cell-bootstrap resample ({options.n_boot}, seed '
             f'{options.seed}). No point is advised for a data set whose rows the law misfits: '
             'where the RMS of their leave-one-out errors exceeds '
             f'{options.misfit_factor:g} x the noise floor (an RMS over a few cells scatters '
             'around the noise it measures; beyond that factor the misfit is the law\'s). A '
             'point on the edge of the searched box says that the law keeps improving in that '
             'direction: an extrapolation, not an optimum.', '']
    for target in TARGETS:
        laws = analysis.laws[target.column]
        if isinstance(laws, str):
            lines += [f'By {target.name}: no law fitted.', '']
        else:
            lines += _advice_section(target, laws, options)
    return lines + _agreement(analysis)


def write_report(analysis: Analysis, out_dir, report_file=None, title: str = 'Scaling report',
                 source: str = '') -> Path:
    """Writes the report (``report_file``, default ``<out_dir>/scaling_report.md``) and its
    figures (in ``out_dir``); returns the report's path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report_file = Path(report_file) if report_file else out_dir / 'scaling_report.md'
    report_file.parent.mkdir(parents=True, exist_ok=True)

    def figure(fig, name: str) -> str:
        return os.path.relpath(save_figure(fig, out_dir / name), report_file.parent)

    observations = analysis.observations
    lines = [f'# {title}', '']
    if source:
        lines += [source, '']
    lines += [f'Pre-trained rows: {len(observations)}; with a validation loss: '
              f'{sum(o.val_loss is not None for o in observations)}; with a fine-tuned top-1: '
              f'{sum(o.top1 is not None for o in observations)}. Batch '
              f'{observations[0].batch_size if observations else "-"}. Unique training '
              'images: ' + ', '.join(f'{d} {_count(o.images) if o.images else "unknown"}'
                                     for d, o in {o.data: o for o in observations}.items())
              + '.', '']
    if analysis.left_out:
        lines += ['Rows without pre-training, not in the analyses:', '']
        lines += [f'- {line}' for line in analysis.left_out] + ['']
    lines += _claims(analysis)
    lines += _gain_section(analysis)
    scatter = figure(loss_vs_top1(observations), 'loss_vs_top1.png') if analysis.correlations \
        else ''
    lines += _correlation_section(analysis, scatter)
    heatmap = (figure(overfitting_heatmap(analysis.cells), 'overfitting_heatmap.png')
               if analysis.cells else '')
    lines += _overfitting_section(analysis, heatmap)
    lines += ['## Scaling laws', '', LAWS]
    for target in TARGETS:
        laws = analysis.laws[target.column]
        plot = ''
        if not isinstance(laws, str):
            what = ' (top-1 error)' if target.column == 'top1' else ''
            plot = figure(measured_vs_predicted(
                [(f'{target.name}{what}: {fit.name}' + ('' if fit is laws.law else ', one stage'),
                  fit, laws.rows) for fit in [laws.law] + laws.others]),
                f'law_{target.column}.png')
        lines += _law_section(target, laws, plot, analysis.options)
    lines += _next_section(analysis)
    report_file.write_text('\n'.join(lines).rstrip() + '\n')
    return report_file


def _size(text: str):
    name, sep, images = text.rpartition('=')
    try:
        value = float(images)
    except ValueError:
        value = 0
    if not sep or not name or value <= 0:
        raise argparse.ArgumentTypeError(f'{text!r}: expected NAME=IMAGES with a positive '
                                         'number of images, e.g. lfw=160')
    return name, value


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Rank correlations, over-fitting, scaling laws and what to run next, from '
        'tools/sweep.py\'s results.csv or the released model zoo (--zoo).')
    parser.add_argument('results', nargs='?', help='results.csv written by tools/sweep.py')
    parser.add_argument('--zoo', action='store_true', help='use the released table instead')
    parser.add_argument('--out-dir', help='where to write the report and its figures')
    parser.add_argument('--report', help='the report\'s file (default: '
                        '<out-dir>/scaling_report.md); figure links are relative to it')
    parser.add_argument('--data-sizes', nargs='+', type=_size, default=[],
                        metavar='NAME=IMAGES', help='unique training images of data sets')
    parser.add_argument('--batch-size', type=int, default=STUDY_BATCH_SIZE,
                        help='total pre-training batch (default: %(default)s, Table 1)')
    parser.add_argument('--bootstrap', type=int, default=DEFAULTS.n_boot,
                        help='cell-bootstrap resamples, for every interval (default: '
                        '%(default)s)')
    parser.add_argument('--seed', type=int, default=DEFAULTS.seed, help='seed of the bootstrap')
    parser.add_argument('--rise-threshold', type=float,
                        help='a loss rise above this counts as over-fitting (default: '
                        f'{RISE_NOISE_FLOORS:.2f} x the noise floor of the validation-loss law)')
    parser.add_argument('--misfit-factor', type=float, default=DEFAULTS.misfit_factor,
                        help='no advice for a data set whose rows the law misfits by more '
                        'than this many noise floors (default: %(default)s)')
    parser.add_argument('--budgets', type=float, nargs='*', default=list(DEFAULTS.budgets),
                        help='budgets in relative training cost (parameters x iterations, '
                        'cheapest row = 1; default: %(default)s)')
    parser.add_argument('--gpu-hours', type=float, nargs='*', default=[],
                        help='budgets in GPU-hours (need --images-per-second)')
    parser.add_argument('--images-per-second', type=float,
                        help='pre-training images/s of the smallest model on one GPU')
    parser.add_argument('--span', type=float, default=DEFAULTS.span,
                        help='search model sizes and lengths this factor beyond the grid\'s '
                        '(default: %(default)s)')
    args = parser.parse_args(argv)
    if bool(args.results) == args.zoo:
        parser.error('give either a results.csv or --zoo')
    if args.gpu_hours and not args.images_per_second:
        parser.error('--gpu-hours needs --images-per-second (of the smallest model)')
    if args.bootstrap < 2 or args.span < 1 or args.batch_size <= 0:
        parser.error('--bootstrap must be >= 2, --span >= 1 and --batch-size > 0')
    if (args.rise_threshold or 0) < 0 or args.misfit_factor <= 0:
        parser.error('--rise-threshold must be >= 0 and --misfit-factor > 0')
    return args


ZOO_SOURCE = ('The 63 released rows of the study (`mim_scaling/zoo/simmim_swinv2_model_zoo.tsv`): '
              'ImageNet-1K validation loss of each pre-trained SwinV2 and ImageNet-1K top-1 '
              'after its fine-tuning.')


def read_table(args):
    """(results, default output folder, title, source line) of the table named by the
    arguments."""
    if args.zoo:
        return (released_results(), Path('work_dirs/scaling_report'),
                'The released grid read back as numbers', ZOO_SOURCE)
    path = Path(args.results)
    if not path.is_file():
        raise SystemExit(f'scaling_report.py: no results table at {path}; tools/sweep.py '
                         'writes one to <work-root>/results.csv')
    return read_results(path), path.parent, 'Scaling report', f'From `{path}`.'


def main(argv=None):
    args = parse_args(argv)
    results, out_dir, title, source = read_table(args)
    command = shlex.join(['python', 'tools/analysis/scaling_report.py'] +
                         [str(a) for a in (sys.argv[1:] if argv is None else argv)])
    source += f' Written by `{command}`.'
    options = AnalysisOptions(n_boot=args.bootstrap, seed=args.seed,
                              rise_threshold=args.rise_threshold,
                              misfit_factor=args.misfit_factor, budgets=tuple(args.budgets),
                              gpu_hours=tuple(args.gpu_hours),
                              throughput=args.images_per_second, span=args.span)
    analysis = analyse(results, dict(args.data_sizes), args.batch_size, options)
    out_dir = Path(args.out_dir) if args.out_dir else out_dir
    report = write_report(analysis, out_dir, args.report, title, source)
    print(f'written: {report} (figures in {out_dir})')


if __name__ == '__main__':
    main()
