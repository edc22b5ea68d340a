"""Does a pre-training learn? Its gain over predicting zero and its frozen features, over time.

Usage (``make learning-check`` runs the pre-training, then this)::

    python tools/analysis/learning_check.py CONFIG WORK_DIR [--out-dir DIR]

Reads the validations that the run logged in ``WORK_DIR`` (``tools/train.py CONFIG``
with ``mim_scaling.KNNProbeHook`` in its hooks): the validation loss, the loss of predicting
zero for the normalised target on the same images and masks, the gain ``1 - loss /
zero-prediction loss``, and the weighted k-NN top-1 of the frozen encoder on held-out
labelled images, at iteration 0 (random initialisation) and at every validation. Then
evaluates ``iter_0.pth`` and the final checkpoint again through the loading path of every
checkpoint (``tools/analysis/knn_probe.py``), so that the control and the trained model are
also compared as files. Writes ``learning_check.png`` (three panels: losses, gain, k-NN
top-1 with its 95% interval) and ``learning_check.md`` (the same numbers as a table) into
``--out-dir`` (default: WORK_DIR).
"""
import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402

from mim_scaling.evaluation.frozen_features import (KNN_HIGH_KEY, KNN_LOW_KEY,  # noqa: E402
                                                    KNN_TOP1_KEY)
from mim_scaling.evaluation.reconstruction_loss import (GAIN_KEY, LOSS_KEY,  # noqa: E402
                                                        ZERO_PREDICTION_LOSS_KEY)
from mim_scaling.utils.scalar_logs import TRAIN_KEY, read_scalars  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import knn_probe  # noqa: E402  tools/analysis/knn_probe.py

KEYS = (TRAIN_KEY, LOSS_KEY, ZERO_PREDICTION_LOSS_KEY, GAIN_KEY, KNN_TOP1_KEY, KNN_LOW_KEY,
        KNN_HIGH_KEY)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Gain over the zero prediction and k-NN top-1 of the frozen features '
        'over a pre-training, as a figure and a table.')
    parser.add_argument('config', help='the pre-training config')
    parser.add_argument('work_dir', help='its work dir')
    parser.add_argument('--out-dir', help='where to write (default: the work dir)')
    return parser.parse_args(argv)


def read_check(work_dir) -> dict:
    """The logged curves of the check, by key and iteration; an error naming what is missing."""
    curves = read_scalars(work_dir, KEYS)
    missing = [k for k in (LOSS_KEY, ZERO_PREDICTION_LOSS_KEY, KNN_TOP1_KEY) if not curves[k]]
    if missing:
        raise SystemExit(f'learning_check.py: no {", ".join(missing)} in the logs under '
                         f'{work_dir}: train the config with mim_scaling.KNNProbeHook first')
    if 0 not in curves[KNN_TOP1_KEY]:
        raise SystemExit(f'learning_check.py: the logs under {work_dir} have no k-NN top-1 at '
                         'iteration 0 (the control); was the run resumed from a later one?')
    return curves


def table(curves: dict, probes: dict) -> str:
    """The validations as a Markdown table, then the two checkpoints probed as files."""
    steps = sorted(set(curves[LOSS_KEY]) | set(curves[KNN_TOP1_KEY]))

    def cell(key, step, digits):
        value = curves[key].get(step)
        return '-' if value is None else f'{value:.{digits}f}'

    lines = ['| iteration | val loss | zero-prediction loss | gain | k-NN top-1 (95% interval) |',
             '|---|---|---|---|---|']
    for step in steps:
        knn = curves[KNN_TOP1_KEY].get(step)
        knn = '-' if knn is None else (f'{knn:.1f} ({curves[KNN_LOW_KEY][step]:.1f}-'
                                       f'{curves[KNN_HIGH_KEY][step]:.1f})')
        lines.append(f'| {step} | {cell(LOSS_KEY, step, 4)} | '
                     f'{cell(ZERO_PREDICTION_LOSS_KEY, step, 4)} | {cell(GAIN_KEY, step, 4)} '
                     f'| {knn} |')
    lines += ['', 'Probed again from the checkpoint files (tools/analysis/knn_probe.py):', '']
    for name, r in probes.items():
        lines.append(f'- `{name}`: k-NN top-1 {r["top1"]:.1f} ({r["low"]:.1f}-{r["high"]:.1f}, '
                     f'{r["n"]} images)')
    return '\n'.join(lines) + '\n'


def figure(curves: dict, title: str):
    # One iteration axis for the three panels: the gain's starts at the first validation.
    fig, (losses, gain, knn) = plt.subplots(1, 3, figsize=(12, 3.6), dpi=100, sharex=True)
    if curves[TRAIN_KEY]:
        steps = sorted(curves[TRAIN_KEY])
        losses.plot(steps, [curves[TRAIN_KEY][s] for s in steps], color='C0', alpha=0.3,
                    linewidth=0.8, label='training loss')
    for key, style, label in ((LOSS_KEY, '-o', 'validation loss'),
                              (ZERO_PREDICTION_LOSS_KEY, '--', 'predicting zero')):
        steps = sorted(curves[key])
        losses.plot(steps, [curves[key][s] for s in steps], style, markersize=3,
                    color='C0' if key == LOSS_KEY else '0.3', label=label)
    losses.set_title('SimMIM loss (masked pixels)', fontsize=10)
    losses.legend(fontsize=8)
    steps = sorted(curves[GAIN_KEY])
    gain.plot(steps, [100 * curves[GAIN_KEY][s] for s in steps], '-o', markersize=3,
              color='C2')
    gain.axhline(0, color='0.3', linestyle='--', linewidth=1, label='predicting zero')
    gain.set_title('gain over predicting zero (%)', fontsize=10)
    gain.legend(fontsize=8)
    steps = sorted(curves[KNN_TOP1_KEY])
    knn.fill_between(steps, [curves[KNN_LOW_KEY][s] for s in steps],
                     [curves[KNN_HIGH_KEY][s] for s in steps], color='C3', alpha=0.15,
                     linewidth=0, label='95% interval')
    knn.plot(steps, [curves[KNN_TOP1_KEY][s] for s in steps], '-o', markersize=3, color='C3',
             label='k-NN top-1')
    knn.axhline(curves[KNN_TOP1_KEY][0], color='0.3', linestyle='--', linewidth=1,
                label='random init (iteration 0)')
    knn.set_title('k-NN top-1 of the frozen features (%)', fontsize=10)
    knn.legend(fontsize=8)
    for ax in (losses, gain, knn):
        ax.set_xlabel('iteration')
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def main(argv=None):
    args = parse_args(argv)
    work_dir = Path(args.work_dir)
    curves = read_check(work_dir)
    final = max(curves[KNN_TOP1_KEY])
    checkpoints = [work_dir / 'iter_0.pth', work_dir / f'iter_{final}.pth']
    missing = [str(c) for c in checkpoints if not c.is_file()]
    if missing:
        raise SystemExit(f'learning_check.py: no checkpoint at {", ".join(missing)} (the '
                         'config needs mim_scaling.InitialCheckpointHook and a checkpoint at '
                         'its last validation)')
    probes = knn_probe.main([args.config, *map(str, checkpoints)])
    probes = {Path(name).name: r for name, r in probes.items()}
    out_dir = Path(args.out_dir or work_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / 'learning_check.md').write_text(table(curves, probes))
    fig = figure(curves, f'{Path(args.config).stem}: validation on held-out images')
    fig.savefig(out_dir / 'learning_check.png')
    plt.close(fig)
    print(table(curves, probes))
    print(f'Written: {out_dir / "learning_check.png"}, {out_dir / "learning_check.md"}')


if __name__ == '__main__':
    main()
