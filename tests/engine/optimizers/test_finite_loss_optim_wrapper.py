"""FiniteLossOptimWrapper: by default the run stops at the first non-finite loss, naming
the iteration and the last checkpoint, before the weights are touched; with
non_finite='skip' such steps are skipped and counted in the log."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DATASETS
from mmengine.runner import Runner

import mim_scaling  # noqa: F401
from mim_scaling.engine import NonFiniteError

TOY_DIR = osp.join(osp.dirname(osp.dirname(osp.dirname(__file__))), '_toy')
# 32 samples in batches of 4, in order: the NaN loss comes at iterations 4, 12, 20, ...
NAN_SAMPLE = 12


@pytest.fixture
def toy_config(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(TOY_DIR)
    import toy_task

    @DATASETS.register_module(force=True)
    class ToyWithNaNTarget(toy_task.ToyRegressionDataset):
        """The toy set with one NaN target: the batch holding it has a NaN loss."""

        def __init__(self):
            super().__init__()
            self.targets[NAN_SAMPLE] = float('nan')

    cfg = Config.fromfile(toy_task.write_config(str(tmp_path)))
    cfg.train_dataloader.dataset = dict(type='ToyWithNaNTarget')
    cfg.train_dataloader.sampler = dict(type='InfiniteSampler', shuffle=False)
    cfg.optim_wrapper.type = 'mim_scaling.FiniteLossOptimWrapper'
    cfg.default_hooks.checkpoint = dict(type='mim_scaling.AtomicCheckpointHook', interval=2,
                                        by_epoch=False)
    cfg.work_dir = str(tmp_path)
    return cfg


def build(cfg, name, max_iters, **optim_wrapper):
    cfg = copy.deepcopy(cfg)
    cfg.experiment_name = name  # loggers of runners made within a second stay apart
    cfg.train_cfg.max_iters = max_iters
    cfg.optim_wrapper.update(optim_wrapper)
    return Runner.from_cfg(cfg)


def test_the_run_stops_at_the_first_non_finite_loss(toy_config, tmp_path):
    runner = build(toy_config, 'stop', max_iters=12)
    with pytest.raises(NonFiniteError) as error:
        runner.train()
    message = str(error.value)
    assert 'The loss is nan at iteration 4' in message
    assert f"The last checkpoint, {tmp_path / 'iter_2.pth'}, has finite weights" in message
    assert "optim_wrapper.non_finite='skip'" in message
    for value in runner.model.state_dict().values():
        assert torch.isfinite(value).all()
    assert not (tmp_path / 'iter_4.pth').exists()


def test_skipping_non_finite_steps_is_counted_in_the_log(toy_config, tmp_path):
    runner = build(toy_config, 'skip', max_iters=14, non_finite='skip')
    runner.train()
    for value in runner.model.state_dict().values():
        assert torch.isfinite(value).all()
    assert runner.message_hub.get_scalar('train/non_finite_skipped').current() == 2
    log = open(osp.join(runner.log_dir, f'{runner.timestamp}.log')).read()
    assert 'non_finite_skipped: 2' in log
    assert 'The loss is nan at iteration 12: step skipped (2 so far)' in log


def test_a_skipped_step_leaves_the_weights_and_optimizer_untouched(toy_config):
    runner = build(toy_config, 'untouched', max_iters=1, non_finite='skip')
    runner.train()
    wrapper, model = runner.optim_wrapper, runner.model
    before = {k: v.clone() for k, v in model.state_dict().items()}
    state = copy.deepcopy(wrapper.optimizer.state_dict())
    loss = model.linear.weight.sum() * float('nan')
    wrapper.update_params(loss)
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key])
    assert wrapper.optimizer.state_dict()['state'].keys() == state['state'].keys()
    for key, value in state['state'].items():
        for name, tensor in value.items():
            assert torch.equal(wrapper.optimizer.state_dict()['state'][key][name], tensor)
    assert all(p.grad is None or not p.grad.any() for p in model.parameters())


def test_unknown_switch_values_are_refused(toy_config):
    runner = build(toy_config, 'refused', max_iters=1)
    with pytest.raises(ValueError, match="must be 'stop' or 'skip'"):
        runner.build_optim_wrapper(dict(toy_config.optim_wrapper, non_finite='ignore'))
