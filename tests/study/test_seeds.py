"""Rows repeated over seeds: the grid's seeds, their summary (mean, standard deviation, n),
the table's cells and Figure 1's error bars."""
import statistics

import numpy as np
import pytest
from matplotlib.collections import LineCollection

from mim_scaling.study import StudyResult, grid_from_file
from mim_scaling.study.seeds import SeedSummary, summarise, summarise_by_row
from mim_scaling.visualization import figure_1, study_table

GRID = """
pretrain_config = 'configs/demo/simmim_swinv2-demo-{model}_{length}_{data}.py'
models = ['w32']
data = ['patterns-10pct', 'patterns']
lengths = ['600it']
"""


def test_a_grid_with_seeds_runs_every_row_once_per_seed(tmp_path):
    grid = tmp_path / 'grid.py'
    grid.write_text(GRID + 'seeds = [0, 5]\n')
    runs = grid_from_file(grid)
    assert [(r.data, r.seed) for r in runs] == [
        ('patterns-10pct', 0), ('patterns-10pct', 5), ('patterns', 0), ('patterns', 5)]
    assert runs[1].name == 'simmim_swinv2-demo-w32_600it_patterns-10pct_seed5'
    assert runs[1].pretrain_work_dir('w') .as_posix() == \
        'w/simmim_swinv2-demo-w32_600it_patterns-10pct_seed5'
    assert runs[1].cfg_options == ('randomness.seed=5', )
    # without seeds: one run per row, with its config's seed and name
    grid.write_text(GRID)
    run = grid_from_file(grid)[0]
    assert run.seed is None and run.cfg_options == ()
    assert run.name == 'simmim_swinv2-demo-w32_600it_patterns-10pct'


@pytest.mark.parametrize('seeds', ['[]', '[1, 1]', "'0'", '[0.5]', '3'])
def test_seeds_must_be_distinct_integers(tmp_path, seeds):
    grid = tmp_path / 'grid.py'
    grid.write_text(GRID + f'seeds = {seeds}\n')
    with pytest.raises(ValueError, match='seeds must be'):
        grid_from_file(grid)


def test_the_summary_is_the_mean_and_the_sample_standard_deviation():
    values = [71.25, 74.5, 69.0]
    s = summarise(values)
    assert s == SeedSummary(pytest.approx(statistics.mean(values)),
                            pytest.approx(statistics.stdev(values)), 3)
    assert s.format(2) == '71.58 ± 2.77 (n=3)'  # mean 71.583, stdev 2.7651
    assert summarise([0.5]).format(3) == '0.500' and summarise([0.5]).std == 0
    with pytest.raises(ValueError):
        summarise([])


def rows():
    """Two rows of three seeds and one row of one seed, with their k-NN top-1 and the
    seeds' iteration-0 values."""
    results = []
    for data, length, values in (('small', '100it', [40.0, 44.0, 48.0]),
                                 ('large', '100it', [50.0, 51.0, 55.0]),
                                 ('large', '200it', [60.0])):
        for seed, value in enumerate(values):
            results.append(StudyResult(model='w32', data=data, length=length,
                                       backbone_params='2.3M', seed=seed, knn_top1=value,
                                       knn_top1_init=[30.0, 32.0, 34.0][seed]))
    return results


def test_the_table_gives_each_cell_its_mean_std_and_n():
    table = study_table(rows(), 'knn_top1', 1)
    assert table.splitlines()[2:] == [
        '| w32 | 100it | 44.0 ± 4.0 (n=3) | 52.0 ± 2.6 (n=3) |',
        '| w32 | 200it | - | 60.0 |']
    assert summarise_by_row(rows(), 'knn_top1')['w32', 'large', '100it'].std == \
        pytest.approx(np.std([50, 51, 55], ddof=1))


def test_figure_1_has_an_error_bar_of_one_std_per_row_and_the_control_level():
    fig = figure_1(rows(), value='knn_top1', control='knn_top1_init')
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines['small'].get_ydata()) == [44.0]
    assert list(lines['large'].get_ydata()) == [52.0, 60.0]
    # each error bar spans mean - std to mean + std
    bars = [c for c in ax.collections if isinstance(c, LineCollection)]
    spans = sorted(y for c in bars for seg in c.get_segments() for y in seg[:, 1])
    assert spans == pytest.approx(sorted([40.0, 48.0, 52 - 2.6458, 52 + 2.6458, 60.0, 60.0]),
                                  abs=1e-3)
    # the control: iteration 0 of each seed, counted once per seed
    assert list(lines['w32, random init (iteration 0)'].get_ydata()) == [32.0, 32.0]
    assert 'mean ± std over 1/3 seeds' in ax.get_legend().get_title().get_text()
    assert ax.get_ylabel() == 'k-NN top-1 of the frozen features (%)'
