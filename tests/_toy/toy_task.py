"""A tiny regression task for tests of the training tools (CPU, seconds).

A linear model, a fixed random dataset, an MSE metric and a hook that saves each rank's
final weights; registered in mmengine's root registries under names no library uses.
Configs load it with ``custom_imports=dict(imports=['toy_task'])`` and this folder on
PYTHONPATH (see :func:`write_config`).
"""
import copy
import os.path as osp

import torch
import torch.nn.functional as F
from mmengine.evaluator import BaseMetric
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.registry import DATASETS, HOOKS, METRICS, MODELS
from mmengine.runner import Runner
from torch import nn
from torch.utils.data import Dataset

IN_FEATURES = 4


@MODELS.register_module(force=True)
class ToyRegressor(BaseModel):
    """y = w.x + b, trained with the mean squared error."""

    def __init__(self, data_preprocessor=None):
        super().__init__(data_preprocessor)
        self.linear = nn.Linear(IN_FEATURES, 1)

    def forward(self, inputs, targets=None, mode='tensor'):
        preds = self.linear(inputs).squeeze(-1)
        if mode == 'loss':
            return dict(loss=F.mse_loss(preds, targets))
        if mode == 'predict':
            return [dict(pred=p, target=t) for p, t in zip(preds, targets)]
        return preds


@DATASETS.register_module(force=True)
class ToyRegressionDataset(Dataset):
    """``size`` fixed random inputs with targets of a known linear function."""
    metainfo = dict(task='toy regression')

    def __init__(self, size=32, seed=0):
        generator = torch.Generator().manual_seed(seed)
        self.inputs = torch.randn(size, IN_FEATURES, generator=generator)
        self.targets = self.inputs @ torch.arange(1., IN_FEATURES + 1) + 0.5

    def __len__(self):
        return len(self.inputs)

    def __getitem__(self, index):
        return dict(inputs=self.inputs[index], targets=self.targets[index])


@METRICS.register_module(force=True)
class ToyMSE(BaseMetric):
    """Mean squared error of the predictions."""

    def process(self, data_batch, data_samples):
        self.results.extend(float((s['pred'] - s['target'])**2) for s in data_samples)

    def compute_metrics(self, results):
        return dict(mse=sum(results) / len(results))


@HOOKS.register_module(force=True)
class DumpWeightsHook(Hook):
    """Saves every rank's final weights to ``work_dir/weights_rank{rank}.pth``."""

    def after_run(self, runner):
        model = runner.model.module if hasattr(runner.model, 'module') else runner.model
        torch.save(model.state_dict(), osp.join(runner.work_dir, f'weights_rank{runner.rank}.pth'))


CONFIG = """\
custom_imports = dict(imports=['toy_task'], allow_failed_imports=False)
model = dict(type='ToyRegressor')
train_dataloader = dict(
    batch_size=4, num_workers=0, collate_fn=dict(type='default_collate'),
    sampler=dict(type='DefaultSampler', shuffle=True), dataset=dict(type='ToyRegressionDataset'))
test_dataloader = dict(
    batch_size=4, num_workers=0, collate_fn=dict(type='default_collate'),
    sampler=dict(type='DefaultSampler', shuffle=False), dataset=dict(type='ToyRegressionDataset'))
train_cfg = dict(by_epoch=False, max_iters=4)
test_cfg = dict()
test_evaluator = dict(type='ToyMSE')
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.05, momentum=0.9))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.5, by_epoch=False, begin=0, end=2),
    dict(type='MultiStepLR', milestones=[3], gamma=0.5, by_epoch=False),
]
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=2, by_epoch=False),
    logger=dict(type='LoggerHook', interval=1))
custom_hooks = [dict(type='DumpWeightsHook')]
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
env_cfg = dict(dist_cfg=dict(backend='nccl'))
"""

TOY_DIR = osp.dirname(osp.abspath(__file__))


def write_config(directory):
    """Writes the toy config into ``directory`` and returns its path."""
    path = osp.join(directory, 'toy_regression.py')
    with open(path, 'w') as f:
        f.write(CONFIG)
    return path


def train(cfg, work_dir, name, max_iters, resume=False, hooks=()):
    """Trains a copy of ``cfg`` for ``max_iters`` in ``work_dir`` (``resume``: from its last
    checkpoint) with ``hooks`` registered too; returns the Runner."""
    cfg = copy.deepcopy(cfg)
    cfg.work_dir, cfg.experiment_name = str(work_dir), name
    cfg.train_cfg.max_iters, cfg.resume = max_iters, resume
    runner = Runner.from_cfg(cfg)
    for hook in hooks:
        runner.register_hook(hook)
    runner.train()
    return runner
