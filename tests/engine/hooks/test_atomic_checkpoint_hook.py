"""AtomicCheckpointHook: a save killed half-way leaves the previous checkpoint and
last_checkpoint intact (mmengine removed the previous one first), and the previous best
checkpoint too; non-finite weights are never saved, and each checkpoint carries the random
states a resumed run continues."""
import copy
import inspect
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.evaluator import BaseMetric
from mmengine.hooks import Hook

import mim_scaling  # noqa: F401
from mim_scaling.engine.checkpointing import atomic_local_backend, integrity
from mim_scaling.safe_loading import safe_load
from mim_scaling.engine import NonFiniteError, find_resumable_checkpoint
from mim_scaling.registry import METRICS

TOY_DIR = osp.join(osp.dirname(osp.dirname(osp.dirname(__file__))), '_toy')


@pytest.fixture
def toy_config(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(TOY_DIR)
    import toy_task
    cfg = Config.fromfile(toy_task.write_config(str(tmp_path)))
    cfg.default_hooks.checkpoint = dict(type='mim_scaling.AtomicCheckpointHook', interval=2,
                                        by_epoch=False, max_keep_ckpts=1)
    return cfg


def train(*args, **kwargs):
    import toy_task  # on the path once the toy_config fixture has run
    return toy_task.train(*args, **kwargs)


class Killed(BaseException):
    """Stands for SIGKILL arriving in the middle of writing a checkpoint."""


def kill_while_writing(monkeypatch, when):
    """The checkpoint file whose path satisfies ``when`` is half written when the process
    is killed; returns the list of the files written so far."""
    real_publish = atomic_local_backend.publish
    written = []

    def publish(tmp_path, path):
        written.append(tmp_path)
        if when(path, len(written)):
            data = open(tmp_path, 'rb').read()
            open(tmp_path, 'wb').write(data[:len(data) // 2])
            raise Killed
        real_publish(tmp_path, path)

    monkeypatch.setattr(atomic_local_backend, 'publish', publish)
    return written


def test_a_save_killed_half_way_keeps_the_previous_checkpoint(toy_config, tmp_path,
                                                              monkeypatch):
    saves = kill_while_writing(monkeypatch, lambda path, count: count == 2)
    with pytest.raises(Killed):
        train(toy_config, tmp_path / 'work', 'killed', max_iters=4)
    work = tmp_path / 'work'
    assert saves[1].endswith('iter_4.pth.tmp')
    assert not (work / 'iter_4.pth').exists()
    assert (work / 'last_checkpoint').read_text() == str(work / 'iter_2.pth')
    assert find_resumable_checkpoint(str(work)) == str(work / 'iter_2.pth')  # intact

    monkeypatch.setattr(atomic_local_backend, 'publish', integrity.publish)
    resumed = train(toy_config, work, 'resumed', max_iters=6, resume=True)
    assert resumed.iter == 6
    assert sorted(p.name for p in work.glob('iter_*')) == ['iter_6.pth']  # rotated, no .tmp
    assert (work / 'last_checkpoint').read_text() == str(work / 'iter_6.pth')


@METRICS.register_module(force=True)
class ValidationCount(BaseMetric):
    """1 at the first validation, 2 at the second...: every validation is a new best."""
    count = 0

    def process(self, data_batch, data_samples):
        pass

    def compute_metrics(self, results):
        ValidationCount.count += 1
        return dict(count=ValidationCount.count)


def test_a_best_save_killed_half_way_keeps_the_previous_best(toy_config, tmp_path,
                                                             monkeypatch):
    cfg = copy.deepcopy(toy_config)
    cfg.val_dataloader, cfg.val_cfg = cfg.test_dataloader, dict()
    cfg.val_evaluator = dict(type='mim_scaling.ValidationCount')
    cfg.train_cfg.val_interval = 2
    cfg.default_hooks.checkpoint.update(save_best='count', rule='greater')
    kill_while_writing(monkeypatch, lambda path, count: 'best_count_iter_4' in path)
    with pytest.raises(Killed):
        train(cfg, tmp_path, 'killed', max_iters=4)
    assert not (tmp_path / 'best_count_iter_4.pth').exists()
    best = safe_load(tmp_path / 'best_count_iter_2.pth')  # intact, not removed
    assert best['meta']['iter'] == 2

    monkeypatch.setattr(atomic_local_backend, 'publish', integrity.publish)
    train(cfg, tmp_path, 'resumed', max_iters=6, resume=True)
    # The best of the resumed run replaced the old one once it was written.
    assert sorted(p.name for p in tmp_path.glob('best_*')) == ['best_count_iter_6.pth']
    assert safe_load(tmp_path / 'best_count_iter_6.pth')['meta']['iter'] == 6


def test_the_mmengine_internals_the_hook_relies_on():
    """The hook overrides CheckpointHook._save_checkpoint_with_step, through which mmengine's
    periodic and best saves write the periodic checkpoint, and holds back the removal that
    _save_best_checkpoint makes through the hook's file_backend before it saves the new best
    with the hook's backend_args. This fails when mmengine changes any of that."""
    from mmengine.hooks import CheckpointHook

    assert list(inspect.signature(CheckpointHook._save_checkpoint_with_step).parameters) == \
        ['self', 'runner', 'step', 'meta']
    for caller in (CheckpointHook._save_checkpoint, CheckpointHook._save_best_checkpoint):
        assert 'self._save_checkpoint_with_step(' in inspect.getsource(caller)
    best = inspect.getsource(CheckpointHook._save_best_checkpoint)
    assert best.index('self.file_backend.remove(') < best.index('runner.save_checkpoint(')
    assert 'backend_args=self.backend_args' in best


class BreakWeights(Hook):
    priority = 'HIGHEST'

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if runner.iter == 3:  # the 4th iteration, whose checkpoint follows
            with torch.no_grad():
                runner.model.linear.weight[0, 0] = float('nan')


def test_non_finite_weights_are_never_saved(toy_config, tmp_path):
    with pytest.raises(NonFiniteError) as error:
        train(toy_config, tmp_path, 'nan', max_iters=6, hooks=[BreakWeights()])
    message = str(error.value)
    assert 'not finite after iteration 4' in message and 'linear.weight' in message
    assert f"The last checkpoint, {tmp_path / 'iter_2.pth'}, has finite weights" in message
    assert sorted(p.name for p in tmp_path.glob('iter_*')) == ['iter_2.pth']


class RecordDraws(Hook):
    priority = 'LOWEST'  # after the restoring hook

    def __init__(self):
        self.draws = {}

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.draws[runner.iter] = torch.rand(1).item()


def test_a_resumed_run_continues_the_random_streams(toy_config, tmp_path):
    straight = RecordDraws()
    train(toy_config, tmp_path / 'straight', 'straight', max_iters=4, hooks=[straight])
    train(toy_config, tmp_path / 'resumed', 'first', max_iters=2, hooks=[RecordDraws()])
    checkpoint = safe_load(tmp_path / 'resumed' / 'iter_2.pth')
    assert len(checkpoint['meta']['random_states']) == 1  # one per rank
    resumed = RecordDraws()
    train(toy_config, tmp_path / 'resumed', 'second', max_iters=4, resume=True,
          hooks=[resumed])
    assert resumed.draws == {2: straight.draws[2], 3: straight.draws[3]}
