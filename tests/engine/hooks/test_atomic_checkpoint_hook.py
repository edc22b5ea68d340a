"""AtomicCheckpointHook: a save killed half-way leaves the previous checkpoint and
last_checkpoint intact (mmengine removed the previous one first), and the previous best
checkpoint too; non-finite weights are never saved, and each checkpoint carries the random
states a resumed run continues."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.evaluator import BaseMetric
from mmengine.hooks import Hook
from mmengine.runner import runner as mmengine_runner

import mim_scaling  # noqa: F401
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


def test_a_save_killed_half_way_keeps_the_previous_checkpoint(toy_config, tmp_path,
                                                              monkeypatch):
    real_save = mmengine_runner.save_checkpoint
    saves = []

    def killed_on_second_save(checkpoint, filename, **kwargs):
        saves.append(filename)
        real_save(checkpoint, filename, **kwargs)
        if len(saves) == 2:
            data = open(filename, 'rb').read()
            open(filename, 'wb').write(data[:len(data) // 2])
            raise Killed

    monkeypatch.setattr(mmengine_runner, 'save_checkpoint', killed_on_second_save)
    with pytest.raises(Killed):
        train(toy_config, tmp_path / 'work', 'killed', max_iters=4)
    work = tmp_path / 'work'
    assert saves[1].endswith('iter_4.pth.tmp')
    assert not (work / 'iter_4.pth').exists()
    assert (work / 'last_checkpoint').read_text() == str(work / 'iter_2.pth')
    assert find_resumable_checkpoint(str(work)) == str(work / 'iter_2.pth')  # intact

    monkeypatch.setattr(mmengine_runner, 'save_checkpoint', real_save)
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
    real_save = mmengine_runner.save_checkpoint

    def killed_on_second_best(checkpoint, filename, **kwargs):
        real_save(checkpoint, filename, **kwargs)
        if 'best_count_iter_4' in filename:
            data = open(filename, 'rb').read()
            open(filename, 'wb').write(data[:len(data) // 2])
            raise Killed

    monkeypatch.setattr(mmengine_runner, 'save_checkpoint', killed_on_second_best)
    with pytest.raises(Killed):
        train(cfg, tmp_path, 'killed', max_iters=4)
    assert not (tmp_path / 'best_count_iter_4.pth').exists()
    best = safe_load(tmp_path / 'best_count_iter_2.pth')  # intact, not removed
    assert best['meta']['iter'] == 2

    monkeypatch.setattr(mmengine_runner, 'save_checkpoint', real_save)
    train(cfg, tmp_path, 'resumed', max_iters=6, resume=True)
    # The best of the resumed run replaced the old one once it was written.
    assert sorted(p.name for p in tmp_path.glob('best_*')) == ['best_count_iter_6.pth']
    assert safe_load(tmp_path / 'best_count_iter_6.pth')['meta']['iter'] == 6


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
