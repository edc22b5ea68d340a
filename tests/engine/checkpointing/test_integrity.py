"""Resuming takes the newest intact checkpoint: a truncated or empty newest one, or an
empty last_checkpoint, is named with the reason and passed over."""
import importlib
import os.path as osp
from pathlib import Path

import pytest
import torch
from mmengine.logging import MMLogger

from mim_scaling.engine.checkpointing.integrity import (checkpoint_problem,
                                                        find_resumable_checkpoint,
                                                        write_text_atomically)

ROOT = Path(__file__).parents[3]


def log_to_captured_stdout(name):
    """A new current MMLogger: it writes to the stdout capsys captures in this test."""
    MMLogger.get_instance(f'test_checkpoint_integrity_{name}')


def save(path, value=1.0):
    torch.save(dict(meta=dict(iter=1), state_dict=dict(w=torch.full((64, ), value))), path)
    return str(path)


def truncate(path):
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[:len(data) // 2])


def test_problems_of_checkpoint_files(tmp_path):
    good = save(tmp_path / 'good.pth')
    assert checkpoint_problem(good) is None
    assert checkpoint_problem(str(tmp_path / 'missing.pth')) == 'the file does not exist'
    (tmp_path / 'empty.pth').touch()
    assert checkpoint_problem(str(tmp_path / 'empty.pth')) == 'the file is empty'
    truncated = save(tmp_path / 'truncated.pth')
    truncate(truncated)
    assert 'not a complete zip archive' in checkpoint_problem(truncated)
    (tmp_path / 'text.pth').write_text('not a checkpoint')
    assert 'not a complete zip archive' in checkpoint_problem(str(tmp_path / 'text.pth'))


def test_a_truncated_newest_checkpoint_is_named_and_skipped(tmp_path, capsys):
    older, old, newest = (save(tmp_path / f'iter_{i}.pth') for i in (2, 4, 6))
    truncate(newest)
    (tmp_path / 'iter_8.pth').write_bytes(b'')  # newer than last_checkpoint: not considered
    write_text_atomically(str(tmp_path / 'last_checkpoint'), newest)
    log_to_captured_stdout('truncated')
    assert find_resumable_checkpoint(str(tmp_path)) == old
    out = capsys.readouterr().out
    assert f'Skipping checkpoint {newest} for resuming: it is not a complete zip archive' in out
    assert 'iter_8' not in out and not osp.exists(str(tmp_path / 'last_checkpoint.tmp'))


def test_an_empty_last_checkpoint_is_named_and_the_newest_intact_one_taken(tmp_path, capsys):
    for i in (2, 10):
        save(tmp_path / f'iter_{i}.pth')
    (tmp_path / 'last_checkpoint').write_text('')
    log_to_captured_stdout('empty')
    assert find_resumable_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_10.pth')
    assert f"{tmp_path / 'last_checkpoint'} is empty" in capsys.readouterr().out


def test_no_checkpoint_means_a_fresh_start_but_only_broken_ones_stop(tmp_path):
    assert find_resumable_checkpoint(str(tmp_path)) is None
    (tmp_path / 'iter_2.pth').write_bytes(b'PK')
    with pytest.raises(RuntimeError, match='None of the 1 checkpoint'):
        find_resumable_checkpoint(str(tmp_path))


def test_train_resume_falls_back_past_a_truncated_checkpoint(tmp_path, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(ROOT / 'tests/_toy'))
    monkeypatch.syspath_prepend(str(ROOT / 'tools'))
    monkeypatch.setenv('LOCAL_RANK', '0')
    import toy_task
    train = importlib.import_module('train')
    config = toy_task.write_config(str(tmp_path))
    work_dir = str(tmp_path / 'work')
    train.main([config, '--work-dir', work_dir])  # saves iter_2 and iter_4
    truncate(osp.join(work_dir, 'iter_4.pth'))
    capsys.readouterr()
    train.main([config, '--work-dir', work_dir, '--resume', '--cfg-options',
                'train_cfg.max_iters=6', 'experiment_name=resumed'])
    out = capsys.readouterr().out
    assert f"Skipping checkpoint {osp.join(work_dir, 'iter_4.pth')}" in out
    assert 'resumed epoch: 0, iter: 2' in out
    broken = osp.join(work_dir, 'broken.pth')
    Path(broken).write_bytes(Path(work_dir, 'iter_2.pth').read_bytes()[:1000])
    with pytest.raises(SystemExit, match='broken.pth: it is not a complete zip archive'):
        train.main([config, '--work-dir', work_dir, '--resume', broken])
