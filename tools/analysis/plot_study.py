"""Draw the study's figures and tables from a sweep's results, or from the released zoo.

Usage::

    python tools/analysis/plot_study.py RESULTS.csv [--out-dir DIR] [--length L]
    python tools/analysis/plot_study.py --zoo [--out-dir DIR]

``RESULTS.csv`` is what ``tools/sweep.py`` writes: Figures 2 and 3 (training and validation
loss, by model and by data set) come from the logs in its work dirs, Figure 1 (fine-tuned
top-1 against relative training cost) from its top-1 column once fine-tunings have
finished. ``--zoo`` draws Figure 1 and the validation-loss and top-1 tables of the released
model zoo, with no runs of one's own. Outputs (in ``--out-dir``, default: next to the CSV,
or ``work_dirs/study_figures`` for ``--zoo``): ``figure1_top1_vs_cost.png``,
``figure2_loss_by_model.png``, ``figure3_loss_by_data.png``, ``val_loss_table.md``,
``top1_table.md``; for a grid probed by k-NN (``mim_scaling.KNNProbeHook``, e.g. the
README's labelled miniature) also ``figure1_knn_vs_cost.png`` and ``knn_table.md`` (and
``knn_init_table.md``, the same runs at iteration 0). Rows run with several seeds are
given as mean ± standard deviation (n) in the tables and with error bars in Figure 1.
"""
import argparse
from pathlib import Path

from mim_scaling.study import read_results, released_results
from mim_scaling.visualization import figure_1, figure_2, figure_3, save_figure, study_table


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Figures 1-3 and the tables of the study from tools/sweep.py\'s '
        'results.csv, or from the released model zoo (--zoo).')
    parser.add_argument('results', nargs='?', help='results.csv written by tools/sweep.py')
    parser.add_argument('--zoo', action='store_true', help='use the released table instead')
    parser.add_argument('--out-dir', help='where to write the figures and tables')
    parser.add_argument('--length', help='schedule of Figures 2 and 3 (default: the longest)')
    args = parser.parse_args(argv)
    if bool(args.results) == args.zoo:
        parser.error('give either a results.csv or --zoo')
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.zoo:
        results = released_results()
        out_dir = Path(args.out_dir or 'work_dirs/study_figures')
    else:
        if not Path(args.results).is_file():
            raise SystemExit(f'plot_study.py: no results table at {args.results}; '
                             'tools/sweep.py writes one to <work-root>/results.csv')
        results = read_results(args.results)
        out_dir = Path(args.out_dir or Path(args.results).parent)
    written, skipped = [], []

    tables = (('val_loss_table.md', 'val_loss', 4), ('top1_table.md', 'top1', 2),
              ('knn_table.md', 'knn_top1', 1), ('knn_init_table.md', 'knn_top1_init', 1))
    for name, value, digits in tables:
        if any(getattr(r, value) is not None for r in results):
            out_dir.mkdir(parents=True, exist_ok=True)
            (out_dir / name).write_text(study_table(results, value, digits))
            written.append(out_dir / name)
    if any(r.top1 is not None for r in results):
        written.append(save_figure(figure_1(results), out_dir / 'figure1_top1_vs_cost.png'))
    else:
        skipped.append('Figure 1 (no fine-tuned top-1 yet)')
    if any(r.knn_top1 is not None for r in results):  # a grid probed by mim_scaling.KNNProbeHook
        written.append(save_figure(figure_1(results, value='knn_top1', control='knn_top1_init'),
                                   out_dir / 'figure1_knn_vs_cost.png'))
    if not args.zoo:
        try:
            written.append(save_figure(figure_2(results, args.length),
                                       out_dir / 'figure2_loss_by_model.png'))
            written.append(save_figure(figure_3(results, args.length),
                                       out_dir / 'figure3_loss_by_data.png'))
        except (FileNotFoundError, ValueError) as e:
            skipped.append(f'Figures 2 and 3 ({e})')
    for path in written:
        print(f'written: {path}')
    for what in skipped:
        print(f'skipped: {what}')
    if not written:
        raise SystemExit('plot_study.py: nothing to draw yet')


if __name__ == '__main__':
    main()
