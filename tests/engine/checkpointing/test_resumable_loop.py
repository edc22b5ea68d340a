"""ResumableIterBasedTrainLoop builds a sampler that can start anywhere and a dataset that
seeds each sample, and refuses a sampler it could only position by loading batches."""
import copy
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

import mim_scaling  # noqa: F401
from mim_scaling.datasets import ResumableInfiniteSampler, SampleSeededDataset

TOY_DIR = osp.join(osp.dirname(osp.dirname(osp.dirname(__file__))), '_toy')


@pytest.fixture
def toy_config(tmp_path, monkeypatch, request):
    monkeypatch.syspath_prepend(TOY_DIR)
    import toy_task
    cfg = Config.fromfile(toy_task.write_config(str(tmp_path)))
    cfg.train_cfg = dict(type='mim_scaling.ResumableIterBasedTrainLoop', max_iters=3)
    cfg.work_dir, cfg.experiment_name = str(tmp_path), request.node.name
    return cfg


def test_an_infinite_sampler_becomes_resumable_and_samples_are_seeded(toy_config):
    toy_config.train_dataloader.sampler = dict(type='InfiniteSampler', shuffle=True)
    runner = Runner.from_cfg(toy_config)
    loop = runner.build_train_loop(copy.deepcopy(runner._train_loop))
    assert isinstance(loop.sampler, ResumableInfiniteSampler)
    assert loop.sampler.seed == 0  # the config's randomness.seed, shared by all ranks
    assert isinstance(loop.dataloader.dataset, SampleSeededDataset)
    assert loop.dataloader_iterator is None  # nothing is loaded before run() knows where


def test_a_sampler_that_cannot_start_elsewhere_is_refused(toy_config):
    toy_config.train_dataloader.sampler = dict(type='DefaultSampler', shuffle=True)
    runner = Runner.from_cfg(toy_config)
    with pytest.raises(TypeError, match='needs a sampler that can start at a given position'):
        runner.build_train_loop(copy.deepcopy(runner._train_loop))
