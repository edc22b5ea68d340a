"""A study's grid read back as numbers: does validation loss predict top-1, where over-fitting
starts, scaling laws fitted to the grid, and what to run next.

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

The laws need the number of unique training images of each data set: the study's are known;
for one's own give ``--data-sizes NAME=IMAGES`` (a data set ``NAME-50pct`` is then half of
``NAME``) and the total batch of the pre-trainings (``--batch-size``).
"""
import argparse
import shlex
import sys
from pathlib import Path

from mim_scaling.study import read_results, released_results
from mim_scaling.study.observations import STUDY_BATCH_SIZE
from mim_scaling.study.report import ReportOptions, scaling_report

DEFAULTS = ReportOptions()


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
                        help='bootstrap resamples per correlation (default: %(default)s)')
    parser.add_argument('--seed', type=int, default=0, help='seed of the bootstrap')
    parser.add_argument('--tolerance', type=float, default=0.0,
                        help='a loss rise above this counts as over-fitting (default: 0)')
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
    if args.bootstrap < 0 or args.span < 1 or args.batch_size <= 0:
        parser.error('--bootstrap must be >= 0, --span >= 1 and --batch-size > 0')
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
    options = ReportOptions(n_boot=args.bootstrap, seed=args.seed, tolerance=args.tolerance,
                            budgets=tuple(args.budgets), gpu_hours=tuple(args.gpu_hours),
                            throughput=args.images_per_second, span=args.span)
    out_dir = Path(args.out_dir) if args.out_dir else out_dir
    report = scaling_report(results, out_dir, args.report, title, source,
                            dict(args.data_sizes), args.batch_size, options)
    print(f'written: {report} (figures in {out_dir})')


if __name__ == '__main__':
    main()
