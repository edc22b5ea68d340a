"""tools/analysis/learning_check.py on logs written by hand: its table and its three panels."""
import json

import pytest

from tool_scripts import load_tool

learning_check = load_tool('analysis/learning_check.py')


def write_logs(work_dir, records):
    vis = work_dir / '20260101_000000' / 'vis_data'
    vis.mkdir(parents=True)
    (vis / 'scalars.json').write_text(''.join(json.dumps(r) + '\n' for r in records))


def test_the_table_and_the_figure_show_every_validation(tmp_path):
    knn = lambda top1, low, high: {'knn/top1': top1, 'knn/top1_low': low,  # noqa: E731
                                   'knn/top1_high': high}
    write_logs(tmp_path, [
        dict(step=0, **knn(12.5, 9.0, 16.8)),
        dict(step=5, loss=0.31),
        dict(step=10, **{'reconstruction/loss': 0.26, 'reconstruction/zero_prediction_loss': 0.25,
                         'reconstruction/gain': -0.04}, **knn(15.0, 11.5, 19.3)),
        dict(step=20, **{'reconstruction/loss': 0.20, 'reconstruction/zero_prediction_loss': 0.25,
                         'reconstruction/gain': 0.2}, **knn(40.0, 34.8, 45.4)),
    ])
    curves = learning_check.read_check(tmp_path)
    table = learning_check.table(curves, {'iter_0.pth': dict(top1=12.5, low=9.0, high=16.8,
                                                             n=320)})
    assert table.splitlines()[2:5] == [
        '| 0 | - | - | - | 12.5 (9.0-16.8) |',
        '| 10 | 0.2600 | 0.2500 | -0.0400 | 15.0 (11.5-19.3) |',
        '| 20 | 0.2000 | 0.2500 | 0.2000 | 40.0 (34.8-45.4) |']
    assert '- `iter_0.pth`: k-NN top-1 12.5 (9.0-16.8, 320 images)' in table
    losses, gain, knn_axes = learning_check.figure(curves, 'check').axes
    assert [list(line.get_ydata()) for line in losses.get_lines()] == [
        [0.31], [0.26, 0.2], [0.25, 0.25]]
    assert list(gain.get_lines()[0].get_ydata()) == pytest.approx([-4.0, 20.0])
    assert list(knn_axes.get_lines()[0].get_ydata()) == [12.5, 15.0, 40.0]
    assert list(knn_axes.get_lines()[1].get_ydata()) == [12.5, 12.5]  # iteration 0's level


def test_logs_without_the_probe_are_refused_with_what_is_missing(tmp_path):
    write_logs(tmp_path, [dict(step=10, **{'reconstruction/loss': 0.26,
                                           'reconstruction/zero_prediction_loss': 0.25})])
    with pytest.raises(SystemExit, match='knn/top1'):
        learning_check.read_check(tmp_path)
