"""The study's figures: Figure 1 and the tables from the released zoo file alone, Figures 2
and 3 with a row per model / data set and a line per data set / model."""
import json
import sys
from pathlib import Path

import pytest
from PIL import Image

from mim_scaling.study import FROM_SCRATCH, StudyResult, released_results
from mim_scaling.visualization import (figure_1, figure_2, figure_3, relative_training_cost,
                                       save_figure, study_table)

ROOT = Path(__file__).parents[2]


def test_figure_1_from_the_zoo_file_has_a_line_per_data_set_through_its_runs():
    results = released_results()
    fig = figure_1(results)
    ax = fig.axes[0]
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == [
        'ImageNet-1K 10%', 'ImageNet-1K 20%', 'ImageNet-1K 50%', 'ImageNet-1K', 'ImageNet-22K']
    for line in lines:  # each model's schedules in order of cost, NaN between models
        xs = list(line.get_xdata())
        segments = ' '.join('|' if x != x else 'x' for x in xs).split('|')
        assert [len(seg.split()) for seg in segments] == [
            3] * len({r.model for r in results if r.data == line.get_label()})
        costs = [x for x in xs if x == x]
        for start in range(0, len(costs), 3):
            assert costs[start:start + 3] == sorted(costs[start:start + 3])
    ten, *_, in22k = [[x for x in line.get_xdata() if x == x] for line in lines]
    assert len(ten) == 9 and ten[0] == pytest.approx(1.0)  # SwinV2-S at 125k is the unit
    assert in22k[0] == pytest.approx(87 / 49)  # no SwinV2-S on ImageNet-22K: B at 125k
    assert in22k[-1] == pytest.approx(1.06e9 / 49e6 * 4)  # SwinV2-g at 500k
    # one scatter per data set, the biggest markers for the biggest model
    assert len(ax.collections) == 5
    sizes = ax.collections[-1].get_sizes()
    assert len(sizes) == 12 and sizes.max() == sizes[-1] and sizes.min() == sizes[0]
    top1 = {(r.model, r.length): r.top1 for r in results if r.data == 'ImageNet-22K'}
    assert lines[-1].get_ydata()[-1] == top1['SwinV2-giant', '500k']


def test_relative_cost_is_parameters_times_iterations():
    rows = [StudyResult('SwinV2-Base', 'ImageNet-1K', '250k', backbone_params='87M'),
            StudyResult('SwinV2-Small', 'ImageNet-1K', '125k', backbone_params='49M')]
    assert relative_training_cost(rows) == pytest.approx([87 / 49 * 2, 1.0])
    own = [StudyResult('w16', 'a', '60it', backbone_params='0.1M'),
           StudyResult('w32', 'a', '120it', backbone_params='0.4M')]
    assert relative_training_cost(own) == pytest.approx([1.0, 8.0])  # the cheapest is 1
    with pytest.raises(ValueError, match='no backbone_params for w16 a 60it'):
        relative_training_cost([StudyResult('w16', 'a', '60it', top1=1.0)])


def test_figure_1_of_ones_own_grid_draws_rows_without_pretraining_as_levels():
    rows = [StudyResult('w16', FROM_SCRATCH, '0', backbone_params='0.1M', top1=60.0),
            StudyResult('w16', 'half', '60it', backbone_params='0.1M', top1=70.0),
            StudyResult('w32', FROM_SCRATCH, '0', backbone_params='0.4M', top1=55.0),
            StudyResult('w32', 'half', '60it', backbone_params='0.4M', top1=65.0),
            StudyResult('w32', 'all', '60it', backbone_params='0.4M')]  # not fine-tuned yet
    ax = figure_1(rows).axes[0]
    half, w16, w32 = ax.get_lines()
    assert half.get_label() == 'half' and list(half.get_xdata())[::2] == [1.0, 4.0]
    assert (w16.get_label(), list(w16.get_ydata())) == ('w16, no pre-training', [60.0, 60.0])
    assert (w32.get_label(), list(w32.get_ydata())) == ('w32, no pre-training', [55.0, 55.0])
    assert ax.get_xlabel() == 'relative training cost (cheapest run = 1)'
    assert ax.get_title() == 'top-1 after fine-tuning'
    with pytest.raises(ValueError, match='no fine-tuned top-1 of a pre-trained model'):
        figure_1(rows[:1])


def test_validation_loss_table_from_the_zoo_file():
    table = study_table(released_results(), 'val_loss').splitlines()
    assert table[0] == ('| model | iterations | ImageNet-1K 10% | ImageNet-1K 20% | '
                        'ImageNet-1K 50% | ImageNet-1K | ImageNet-22K |')
    assert len(table) == 2 + 15  # 5 models x 3 lengths
    assert table[2].startswith('| SwinV2-Small | 125k | 0.4820 |')
    assert table[-1].startswith('| SwinV2-giant | 500k |')
    assert table[-1].endswith('| 0.4416 |')


def test_plot_study_draws_figure_1_and_the_tables_from_the_zoo_alone(tmp_path, capsys):
    sys.path.insert(0, str(ROOT / 'tools' / 'analysis'))
    import plot_study
    plot_study.main(['--zoo', '--out-dir', str(tmp_path)])
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        'figure1_top1_vs_cost.png', 'top1_table.md', 'val_loss_table.md']
    with Image.open(tmp_path / 'figure1_top1_vs_cost.png') as image:
        assert image.format == 'PNG'
    assert '| SwinV2-Base | 500k |' in (tmp_path / 'top1_table.md').read_text()


def write_log(work_dir, train, val):
    path = Path(work_dir) / '20260101_000000' / 'vis_data' / 'scalars.json'
    path.parent.mkdir(parents=True)
    records = [dict(loss=v, step=s) for s, v in train.items()]
    records += [{'reconstruction/loss': v, 'step': s} for s, v in val.items()]
    path.write_text(''.join(json.dumps(r) + '\n' for r in records))


def test_loss_figures_have_a_row_per_model_or_data_set_and_a_line_per_other(tmp_path):
    results = []
    for model in ('S', 'B', 'L'):
        for data in ('10%', '100%'):
            for length in ('1k', '2k'):
                work_dir = tmp_path / f'{model}_{data}_{length}'
                steps = range(100, 1001 if length == '1k' else 2001, 100)
                write_log(work_dir, {s: 1 / s for s in steps}, {steps[-1]: 0.5})
                results.append(StudyResult(model, data, length, pretrain_work_dir=str(work_dir)))
    results.append(StudyResult('H', '10%', '2k', pretrain_work_dir=str(tmp_path / 'none')))

    fig = figure_2(results)  # the longest schedule by default
    assert [ax.get_title() for ax in fig.axes[:2]] == ['S: training loss',
                                                       'S: validation loss']
    assert len(fig.axes) == 3 * 2  # H has no logs: no row
    for ax in fig.axes:
        assert [line.get_label() for line in ax.get_lines()] == ['10%', '100%']
        assert max(ax.get_lines()[0].get_xdata()) == 2000
    fig_3 = figure_3(results, length='1k')
    assert len(fig_3.axes) == 2 * 2
    for ax in fig_3.axes:
        assert [line.get_label() for line in ax.get_lines()] == ['S', 'B', 'L']
        assert max(ax.get_lines()[0].get_xdata()) == 1000
    out = save_figure(fig_3, tmp_path / 'figure3.png')
    with Image.open(out) as image:
        assert image.format == 'PNG'
    with pytest.raises(FileNotFoundError, match='no training logs'):
        figure_2(results[-1:])
