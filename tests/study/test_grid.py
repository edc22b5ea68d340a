"""Grids of runs: the released one from the zoo file, one's own from a grid file."""
import pytest

from mim_scaling.study import FROM_SCRATCH, grid_from_file, zoo_grid

GRID = """
pretrain_config = 'configs/mine/simmim_{model}_{length}_{data}.py'
finetune_config = 'configs/mine/ft_{model}.py'
models = ['t', 's']
data = ['half', 'all']
lengths = ['10it']
"""


def test_the_released_grid_is_the_zoo_with_its_figures_attached():
    runs = zoo_grid(models=['s'], data=['in1k-10pct'])
    assert [run.length for run in runs] == ['125k', '250k', '500k']
    run = runs[0]
    assert run.pretrain_config == 'configs/pretrain/simmim_swinv2-s_125k_in1k-10pct.py'
    assert run.finetune_config == 'configs/imagenet/swinv2-s_ft_in1k.py'
    assert (run.model_label, run.data_label) == ('SwinV2-Small', 'ImageNet-1K 10%')
    assert run.released.val_loss == pytest.approx(0.4820)
    assert str(run.finetune_work_dir('w')) == 'w/swinv2-s_ft_in1k/simmim_swinv2-s_125k_in1k-10pct'
    assert len(zoo_grid()) == 63


def test_a_grid_file_gives_every_combination_in_file_order(tmp_path):
    grid = tmp_path / 'grid.py'
    grid.write_text(GRID)
    runs = grid_from_file(grid)
    assert [(r.model, r.data) for r in runs] == [('t', 'half'), ('t', 'all'), ('s', 'half'),
                                                 ('s', 'all')]
    assert runs[1].pretrain_config == 'configs/mine/simmim_t_10it_all.py'
    assert runs[1].finetune_config == 'configs/mine/ft_t.py'
    assert runs[1].released is None and runs[1].model_label == 't'
    assert [r.name for r in grid_from_file(grid, models=['s'], data=['all'])] == [
        'simmim_s_10it_all']


@pytest.mark.parametrize('text, message', [
    (GRID.replace("lengths = ['10it']", ''), "does not set 'lengths'"),
    (GRID.replace('{model}_{length}_{data}', '{length}_{data}'), 'the same config'),
    (GRID.replace('{model}_{length}', '{size}_{length}'), "placeholder 'size'"),
    (GRID.replace("['t', 's']", "'t'"), 'models must be a non-empty list'),
])
def test_a_grid_file_that_cannot_work_is_a_clear_error(tmp_path, text, message):
    grid = tmp_path / 'grid.py'
    grid.write_text(text)
    with pytest.raises(ValueError, match=message):
        grid_from_file(grid)


def test_unknown_names_in_a_selection_are_errors(tmp_path):
    grid = tmp_path / 'grid.py'
    grid.write_text(GRID)
    with pytest.raises(ValueError, match=r"unknown models \['x'\]"):
        grid_from_file(grid, models=['x'])
    with pytest.raises(ValueError, match='unknown data'):
        zoo_grid(data=['in1k-30pct'])


def test_from_scratch_adds_a_finetuning_without_pretraining_first_for_each_model(tmp_path):
    grid = tmp_path / 'grid.py'
    grid.write_text(GRID + 'from_scratch = True\n')
    runs = grid_from_file(grid)
    assert [(r.model, r.data, r.length) for r in runs] == [
        ('t', FROM_SCRATCH, '0'), ('t', 'half', '10it'), ('t', 'all', '10it'),
        ('s', FROM_SCRATCH, '0'), ('s', 'half', '10it'), ('s', 'all', '10it')]
    scratch = runs[3]
    assert scratch.from_scratch and scratch.pretrain_config is None
    assert scratch.finetune_config == 'configs/mine/ft_s.py'
    assert scratch.pretrain_work_dir('w') is None
    assert str(scratch.finetune_work_dir('w')) == f'w/ft_s/s-{FROM_SCRATCH}'
    assert not runs[4].from_scratch
    # The data filter selects them by name; the lengths filter leaves them in.
    assert [r.data for r in grid_from_file(grid, data=['all'])] == ['all', 'all']
    assert [r.data for r in grid_from_file(grid, models=['t'], data=[FROM_SCRATCH])] == [
        FROM_SCRATCH]
    assert len(grid_from_file(grid, lengths=['10it'])) == 6


@pytest.mark.parametrize('text', [
    GRID.replace("finetune_config = 'configs/mine/ft_{model}.py'", '') + 'from_scratch = True',
    GRID + "from_scratch = 'yes'",
])
def test_from_scratch_needs_a_finetuning_and_a_bool(tmp_path, text):
    grid = tmp_path / 'grid.py'
    grid.write_text(text)
    with pytest.raises(ValueError, match='from_scratch must be True or False'):
        grid_from_file(grid)
