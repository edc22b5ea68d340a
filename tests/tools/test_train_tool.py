"""tools/train.py and tools/test.py on the toy task: resuming, testing, flag errors."""
import importlib
import os
import os.path as osp
import re
import subprocess
import sys

import mmengine
import pytest
import torch

from mim_scaling.engine.config import checks

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOLS = osp.join(REPO, 'tools')
TOY_DIR = osp.join(REPO, 'tests', '_toy')


@pytest.fixture
def toy_config(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(TOY_DIR)
    import toy_task
    return toy_task.write_config(str(tmp_path))


@pytest.fixture
def train_tool(monkeypatch):
    """tools/train.py as a module, called in-process to save start-up time."""
    monkeypatch.syspath_prepend(TOOLS)  # for its sibling cli_config
    monkeypatch.setenv('LOCAL_RANK', '0')  # the tool sets it; restored afterwards
    return importlib.import_module('train')


def call(tool, capsys, *argv, name):
    """Runs ``tool.main(argv)`` as its own experiment and returns what it logged."""
    capsys.readouterr()
    tool.main([*argv, '--cfg-options', f'experiment_name={name}'])
    return capsys.readouterr().out


def final_weights(work_dir):
    return torch.load(osp.join(work_dir, 'weights_rank0.pth'), weights_only=True)


def test_resume_auto_continues_from_the_latest_checkpoint(train_tool, toy_config, tmp_path,
                                                          capsys):
    train = train_tool
    straight, interrupted = str(tmp_path / 'straight'), str(tmp_path / 'interrupted')
    call(train, capsys, toy_config, '--work-dir', straight, '--cfg-options',
         'train_cfg.max_iters=6', name='straight')
    call(train, capsys, toy_config, '--work-dir', interrupted, name='interrupted')  # 4 iters
    assert osp.isfile(osp.join(interrupted, 'iter_4.pth'))

    log = call(train, capsys, toy_config, '--work-dir', interrupted, '--resume',
               '--cfg-options', 'train_cfg.max_iters=6', name='resumed')

    assert 'resumed epoch: 0, iter: 4' in log
    assert 'Iter(train) [5/6]' in log and 'Iter(train) [1/6]' not in log
    # Same data order, optimizer momentum and weights as the uninterrupted run.
    expected = final_weights(straight)
    for key, weight in final_weights(interrupted).items():
        torch.testing.assert_close(weight, expected[key])


def test_resume_on_a_work_dir_without_checkpoint_says_so(train_tool, toy_config, tmp_path,
                                                         capsys):
    mistyped = str(tmp_path / 'mistyped')
    log = call(train_tool, capsys, toy_config, '--work-dir', mistyped, '--resume', name='fresh')
    assert f'resume: no checkpoint in {mistyped}, starting from scratch' in log
    assert 'Iter(train) [1/4]' in log

    # A config that starts from weights (load_from, as continued pre-training does) and is
    # requeued before its first checkpoint: the weights, not a random start.
    weights = osp.join(mistyped, 'iter_4.pth')
    fresh = str(tmp_path / 'fresh')
    log = call(train_tool, capsys, toy_config, '--work-dir', fresh, '--resume',
               '--cfg-options', f'load_from={weights}', name='from_weights')
    assert f'resume: no checkpoint in {fresh}, starting from load_from={weights}' in log
    assert f'Load checkpoint from {weights}' in log
    assert 'resumed epoch' not in log and 'Iter(train) [1/4]' in log
    # ... and once it has a checkpoint of its own, --resume takes that one.
    log = call(train_tool, capsys, toy_config, '--work-dir', fresh, '--resume',
               '--cfg-options', f'load_from={weights}', 'train_cfg.max_iters=6',
               name='own_checkpoint')
    assert 'resumed epoch: 0, iter: 4' in log and 'Iter(train) [5/6]' in log
    # A checkpoint named on the command line must exist, and be whole: the tool ends with
    # the reason (SystemExit with a message: no traceback).
    missing = str(tmp_path / 'mistyped' / 'iter_9.pth')
    with pytest.raises(SystemExit, match=f'cannot resume from load_from={missing}: the file '
                       'does not exist'):
        call(train_tool, capsys, toy_config, '--work-dir', mistyped, '--resume', missing,
             name='missing')
    truncated = tmp_path / 'truncated.pth'
    truncated.write_bytes(open(weights, 'rb').read()[:1000])
    with pytest.raises(SystemExit, match=f'cannot resume from load_from={truncated}: it is not '
                       'a complete zip archive'):
        call(train_tool, capsys, toy_config, '--work-dir', mistyped, '--resume',
             str(truncated), name='truncated')


def test_resume_from_a_path_then_test_with_out(train_tool, toy_config, tmp_path, capsys):
    first, second = str(tmp_path / 'first'), str(tmp_path / 'second')
    call(train_tool, capsys, toy_config, '--work-dir', first, name='first')
    log = call(train_tool, capsys, toy_config, '--work-dir', second, '--resume',
               osp.join(first, 'iter_2.pth'), name='from_path')
    assert 'resumed epoch: 0, iter: 2' in log and 'Iter(train) [3/4]' in log

    # tools/test.py as a script, as users run it.
    env = dict(os.environ,
               PYTHONPATH=os.pathsep.join([TOY_DIR, os.environ.get('PYTHONPATH', '')]))
    result = subprocess.run(
        [sys.executable, osp.join(TOOLS, 'test.py'), toy_config, osp.join(second, 'iter_4.pth'),
         '--out', 'preds.pkl'], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=600)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-5000:]

    # No --work-dir: mmdet's default, ./work_dirs/<config name>.
    assert (tmp_path / 'work_dirs' / 'toy_regression').is_dir()
    predictions = mmengine.load(tmp_path / 'preds.pkl')
    weights = final_weights(second)
    import toy_task
    dataset = toy_task.ToyRegressionDataset()
    expected = dataset.inputs @ weights['linear.weight'][0] + weights['linear.bias'][0]
    torch.testing.assert_close(torch.stack([p['pred'] for p in predictions]), expected)
    mse = float(((expected - dataset.targets)**2).mean())
    logged = re.search(r'mse: ([0-9.]+)', log)
    assert logged and float(logged.group(1)) == pytest.approx(mse, rel=1e-3)


def test_amp_without_gpu_stops_with_a_clear_message(train_tool, toy_config, monkeypatch):
    for name in ('is_cuda_available', 'is_npu_available', 'is_mlu_available',
                 'is_musa_available'):
        monkeypatch.setattr(checks, name, lambda: False)
    with pytest.raises(SystemExit, match='--amp.* autocasts on a CUDA'):
        train_tool.main([toy_config, '--amp'])


def test_auto_scale_lr_needs_the_config_entry(train_tool, toy_config):
    with pytest.raises(SystemExit, match='auto_scale_lr=dict\\(base_batch_size'):
        train_tool.main([toy_config, '--auto-scale-lr'])


def test_cli_flags_map_onto_the_config(train_tool, toy_config, tmp_path):
    args = train_tool.parse_args([toy_config, '--resume', '--cfg-options', 'train_cfg.max_iters=9'])
    assert args.resume == 'auto'
    args = train_tool.parse_args([toy_config, '--resume', 'a.pth', '--local-rank', '3'])
    assert args.resume == 'a.pth' and args.local_rank == 3
    cfg = train_tool.load_config(train_tool.parse_args([toy_config]))
    assert cfg.work_dir == osp.join('./work_dirs', 'toy_regression')
    cfg = train_tool.load_config(train_tool.parse_args(
        [toy_config, '--work-dir', str(tmp_path), '--cfg-options', 'train_cfg.max_iters=9']))
    assert cfg.work_dir == str(tmp_path) and cfg.train_cfg.max_iters == 9
