"""Loss curves are read from every run in a work dir, resumed runs overriding earlier ones."""
import json

import pytest
from PIL import Image

from mim_scaling.visualization import plot_loss_curves, read_loss_curves
from mim_scaling.visualization.loss_curves import loss_curves_figure


def write_scalars(work_dir, timestamp, records, tail=''):
    path = work_dir / timestamp / 'vis_data' / 'scalars.json'
    path.parent.mkdir(parents=True)
    path.write_text(''.join(json.dumps(r) + '\n' for r in records) + tail)


def test_resumed_runs_are_merged_and_a_cut_line_is_skipped(tmp_path):
    write_scalars(tmp_path, '20260101_000000', [
        dict(loss=1.0, lr=1e-3, step=10), dict(loss=0.9, step=20),
        {'reconstruction/loss': 0.95, 'step': 20}, dict(loss=0.85, step=30)],
        tail='{"loss": 0.8, "st')  # the process died while writing
    # Resumed from the checkpoint of iteration 20: iteration 30 is trained again.
    write_scalars(tmp_path, '20260101_010000', [
        dict(loss=0.84, step=30), dict(loss=0.7, step=40),
        {'reconstruction/loss': 0.75, 'step': 40}])
    train, val = read_loss_curves(tmp_path)
    assert train == {10: 1.0, 20: 0.9, 30: 0.84, 40: 0.7}
    assert val == {20: 0.95, 40: 0.75}


def test_plot_writes_a_png_and_complains_without_logs(tmp_path):
    write_scalars(tmp_path / 'a', 't1', [dict(loss=1.0, step=1), dict(loss=0.5, step=2)])
    out = plot_loss_curves({'a': tmp_path / 'a'}, tmp_path / 'curve.png')
    with Image.open(out) as image:
        assert image.format == 'PNG' and image.size[0] > 300
    with pytest.raises(FileNotFoundError, match='no losses found'):
        plot_loss_curves({'empty': tmp_path / 'nothing'}, tmp_path / 'x.png')


def test_the_zero_prediction_is_drawn_beside_the_validation_loss(tmp_path):
    write_scalars(tmp_path / 'a', 't1', [
        dict(loss=1.0, step=10), {'reconstruction/loss': 0.70, 'step': 10},
        {'reconstruction/zero_prediction_loss': 0.69, 'reconstruction/gain': -0.0145,
         'step': 10},
        dict(loss=0.5, step=20),
        {'reconstruction/loss': 0.60, 'reconstruction/zero_prediction_loss': 0.69,
         'reconstruction/gain': 0.1304, 'step': 20}])
    figure = loss_curves_figure({'a': tmp_path / 'a'})
    ax = figure.axes[0]
    drawn = {line.get_label(): (list(line.get_xdata()), list(line.get_ydata()))
             for line in ax.get_lines()}
    assert drawn == {'a train': ([10, 20], [1.0, 0.5]), 'a val': ([10, 20], [0.70, 0.60]),
                     'a val, predicting zero (the local mean)': ([10, 20], [0.69, 0.69])}
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(drawn)
