"""tools/sweep.py: the commands of a selection of the grid, in order, each fine-tuning from
its pre-training's final checkpoint; finished runs skipped; results next to the released."""
import csv
import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
sys.path.insert(0, str(ROOT / 'tools'))
import sweep  # noqa: E402

B_125K = 'simmim_swinv2-b_125k_in1k'
B_250K = 'simmim_swinv2-b_250k_in1k'


@pytest.fixture(autouse=True)
def at_repository_root(monkeypatch):
    monkeypatch.chdir(ROOT)  # config paths of the grid are relative to it


def commands(out):
    return [line for line in out.splitlines() if line and not line.startswith(('#', '|'))
            and not line.startswith('Results')]


def log_scalars(work_dir, records):
    path = Path(work_dir) / '20260101_000000' / 'vis_data' / 'scalars.json'
    path.parent.mkdir(parents=True)
    path.write_text(''.join(json.dumps(r) + '\n' for r in records))


def test_dry_run_prints_each_pretraining_then_its_finetuning(tmp_path, capsys):
    sweep.main(['--models', 'b', '--data', 'in1k', '--lengths', '125k', '250k', '--gpus', '8',
                '--work-root', str(tmp_path)])
    w = tmp_path
    assert commands(capsys.readouterr().out) == [
        f'bash tools/dist_train.sh configs/pretrain/{B_125K}.py 8 --work-dir {w}/{B_125K} '
        '--resume',
        f'bash tools/dist_train.sh configs/imagenet/swinv2-b_ft_in1k.py 8 --work-dir '
        f'{w}/swinv2-b_ft_in1k/{B_125K} --resume --cfg-options '
        f'model.backbone.init_cfg.checkpoint={w}/{B_125K}/iter_125000.pth',
        f'bash tools/dist_train.sh configs/pretrain/{B_250K}.py 8 --work-dir {w}/{B_250K} '
        '--resume',
        f'bash tools/dist_train.sh configs/imagenet/swinv2-b_ft_in1k.py 8 --work-dir '
        f'{w}/swinv2-b_ft_in1k/{B_250K} --resume --cfg-options '
        f'model.backbone.init_cfg.checkpoint={w}/{B_250K}/iter_250000.pth',
    ]
    # A dry run trains nothing; it only writes the (empty) results of the selection.
    assert sorted(p.name for p in tmp_path.iterdir()) == ['results.csv', 'results.md']


def test_slurm_commands_and_options_that_change_the_final_checkpoint(tmp_path, capsys):
    sweep.main(['--models', 'b', '--data', 'in1k', '--lengths', '125k', '--launcher', 'slurm',
                '--partition', 'gpu', '--gpus', '16', '--work-root', str(tmp_path),
                '--cfg-options', 'train_cfg.max_iters=1000'])
    pretrain, finetune = commands(capsys.readouterr().out)
    assert pretrain == (
        f'env GPUS=16 GPUS_PER_NODE=8 bash tools/slurm_train.sh gpu {B_125K} '
        f'configs/pretrain/{B_125K}.py {tmp_path}/{B_125K} --resume --cfg-options '
        'train_cfg.max_iters=1000')
    assert finetune.endswith(f'init_cfg.checkpoint={tmp_path}/{B_125K}/iter_1000.pth')


def test_each_job_gets_the_gpus_of_its_configs_total_batch(tmp_path, capsys):
    sweep.main(['--models', 'b', 'l', '--data', 'in1k', '--lengths', '125k', '--work-root',
                str(tmp_path)])
    gpus = [c.split()[3] for c in commands(capsys.readouterr().out)]
    # 2048 = 16 x 128 for both pre-trainings and B's fine-tuning, 32 x 64 for L's
    assert gpus == ['16', '16', '16', '32']
    sweep.main(['--models', 'b', '--data', 'in1k', '--lengths', '125k', '--work-root',
                str(tmp_path), '--cfg-options', 'train_dataloader.batch_size=32'])
    assert [c.split()[3] for c in commands(capsys.readouterr().out)] == ['64', '16']


def test_finished_runs_are_skipped_and_their_results_collected(tmp_path, capsys):
    pretrain_dir = tmp_path / B_125K
    log_scalars(pretrain_dir, [dict(loss=0.5, step=124900),
                               {'reconstruction/loss': 0.4444, 'step': 125000}])
    (pretrain_dir / 'iter_125000.pth').touch()
    sweep.main(['--models', 'b', '--data', 'in1k', '--lengths', '125k', '250k',
                '--work-root', str(tmp_path)])
    out = capsys.readouterr().out
    assert f'# pretrain {B_125K}: finished, skipped' in out
    assert [c.split()[2] for c in commands(out)] == [
        'configs/imagenet/swinv2-b_ft_in1k.py', f'configs/pretrain/{B_250K}.py',
        'configs/imagenet/swinv2-b_ft_in1k.py']

    finetune_dir = tmp_path / 'swinv2-b_ft_in1k' / B_125K
    log_scalars(finetune_dir, [{'accuracy/top1': 80.0, 'step': 99},
                               {'accuracy/top1': 84.25, 'step': 100}])
    (finetune_dir / 'epoch_100.pth').touch()
    sweep.main(['--models', 'b', '--data', 'in1k', '--lengths', '125k', '250k',
                '--work-root', str(tmp_path), '--out-dir', str(tmp_path / 'table')])
    out = capsys.readouterr().out
    assert f'# finetune {B_125K}: finished, skipped' in out
    assert len(commands(out)) == 2  # only the 250k pair is left

    with open(tmp_path / 'table' / 'results.csv', newline='') as f:
        rows = list(csv.DictReader(f))
    assert [row['pretrain_iters'] for row in rows] == ['125k', '250k']
    done, todo = rows
    assert (done['model'], done['backbone_params'], done['pretrain_data']) == (
        'SwinV2-Base', '87M', 'ImageNet-1K')
    assert float(done['imagenet1k_val_loss']) == 0.4444
    assert float(done['finetuned_top1']) == 84.25
    assert float(done['released_imagenet1k_val_loss']) == 0.4680  # the zoo file's figures
    assert float(done['released_finetuned_top1']) == 84.13
    assert done['status'] == 'done' and todo['status'] == 'not started'
    assert todo['imagenet1k_val_loss'] == '' and todo['released_finetuned_top1'] != ''
    markdown = (tmp_path / 'table' / 'results.md').read_text()
    assert '| SwinV2-Base | 87M | ImageNet-1K | 125k | 0.4444 | 0.4680 | 84.25 | 84.13 | done |' \
        in markdown


def fake_python(tmp_path, exit_code):
    """Stands in for the Python that tools/dist_train.sh starts: records its arguments."""
    script = tmp_path / 'python'
    script.write_text(f'#!/bin/sh\necho "$@" >> {tmp_path}/calls\nexit {exit_code}\n')
    script.chmod(0o755)
    return str(script)


def test_run_launches_in_order_and_a_failed_pretraining_skips_its_finetuning(
        tmp_path, capsys, monkeypatch):
    monkeypatch.setenv('PYTHON', fake_python(tmp_path, 0))
    argv = ['--models', 'b', '--data', 'in1k', '--lengths', '125k', '--gpus', '2', '--run',
            '--work-root', str(tmp_path / 'work')]
    sweep.main(argv)
    calls = [call.split() for call in (tmp_path / 'calls').read_text().splitlines()]
    # torchrun's arguments, then tools/train.py's: the pre-training, then the fine-tuning
    assert [call[:2] + call[6:9] for call in calls] == [
        ['-m', 'torch.distributed.run', '--nproc_per_node=2', f'{ROOT}/tools/train.py',
         f'configs/pretrain/{B_125K}.py'],
        ['-m', 'torch.distributed.run', '--nproc_per_node=2', f'{ROOT}/tools/train.py',
         'configs/imagenet/swinv2-b_ft_in1k.py']]

    os.remove(tmp_path / 'calls')
    monkeypatch.setenv('PYTHON', fake_python(tmp_path, 1))
    with pytest.raises(SystemExit, match=f'1 run.s. failed: {B_125K}'):
        sweep.main(argv)
    assert len((tmp_path / 'calls').read_text().splitlines()) == 1
    assert f'# finetune {B_125K}: skipped, its pre-training failed' in capsys.readouterr().out


def test_missing_configs_and_bad_selections_are_named(tmp_path):
    with pytest.raises(SystemExit, match=r"unknown model \['x'\]"):
        sweep.main(['--models', 'x'])
    grid = tmp_path / 'grid.py'
    grid.write_text("pretrain_config = 'configs/none/{model}_{length}_{data}.py'\n"
                    "models = ['a']\ndata = ['d']\nlengths = ['1it']\n")
    with pytest.raises(SystemExit, match='configs/none/a_1it_d.py'):
        sweep.main(['--grid', str(grid)])
