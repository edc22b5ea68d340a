"""Loss curves are read from every run in a work dir, resumed runs overriding earlier ones."""
import json

import pytest
from PIL import Image

from mim_scaling.visualization import plot_loss_curves, read_loss_curves


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
