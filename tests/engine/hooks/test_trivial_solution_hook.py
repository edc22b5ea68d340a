"""TrivialSolutionHook: a validation after the warm-up whose gain over the zero prediction is
about 0 says so in the log, in a real pre-training run and case by case."""
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.optim import LinearLR, MultiStepLR
from PIL import Image

from mim_scaling.engine import Runner
from mim_scaling.engine.hooks import TrivialSolutionHook
from mim_scaling.visualization.loss_curves import loss_curves_figure

ROOT = Path(__file__).parents[3]

# A 16-wide SwinV2 at 64 px whose decoder (loaded as zeros) predicts exactly zero and stays
# so (lr 0): the validation loss is the zero prediction's. Warm-up to iteration 2,
# validations at 1 and 2.
CONFIG = """
_base_ = ['{root}/configs/_base_/models/simmim_swinv2-b.py',
          '{root}/configs/_base_/datasets/folder_simmim_192.py',
          '{root}/configs/_base_/schedules/simmim_step_125k.py',
          '{root}/configs/_base_/default_runtime_pretrain.py']
model = dict(
    backbone=dict(arch=dict(_delete_=True, embed_dims=16, depths=[1, 1, 1, 1],
                            num_heads=[1, 1, 2, 2]), img_size=64, window_size=4),
    neck=dict(in_channels=16 * 8))
load_from = '{zero_decoder}'
mask_generator = dict(type='mim_scaling.SimMIMMaskGenerator', input_size=64,
                      mask_patch_size=32, model_patch_size=4, mask_ratio=0.6)
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False, dataset=dict(
    data_root='{data}', pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='RandomResizedCrop', scale=64, crop_ratio_range=(0.67, 1.0)),
        mask_generator, dict(type='PackInputs')]))
val_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False, dataset=dict(
    data_root='{data}', pipeline=[
        dict(type='LoadImageFromFile'), dict(type='CenterCrop', crop_size=64),
        dict(mask_generator, seed=0), dict(type='PackInputs')]))
test_dataloader = val_dataloader
optim_wrapper = dict(optimizer=dict(lr=0.0))
param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=2)]
train_cfg = dict(max_iters=2, val_interval=1)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(save_last=False))  # none saved
work_dir = '{work_dir}'
"""


def write_images(root: Path) -> Path:
    rng = np.random.default_rng(0)
    for split in ('train', 'val'):
        (root / split).mkdir(parents=True)
        for i in range(4):
            pixels = rng.integers(0, 256, (72, 80, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / split / f'{i}.png')
    return root


def test_a_run_that_predicts_the_local_mean_says_so(tmp_path):
    zero_decoder = tmp_path / 'zero_decoder.pth'
    torch.save({'state_dict': {'neck.decoder.0.weight': torch.zeros(32 * 32 * 3, 16 * 8, 1, 1),
                               'neck.decoder.0.bias': torch.zeros(32 * 32 * 3)}}, zero_decoder)
    config = tmp_path / 'zero_decoder.py'
    config.write_text(CONFIG.format(root=ROOT, data=write_images(tmp_path / 'images'),
                                    work_dir=tmp_path / 'work', zero_decoder=zero_decoder))
    Runner.from_cfg(Config.fromfile(config)).train()

    (run, ) = (tmp_path / 'work').glob('2*')
    scalars = map(json.loads, (run / 'vis_data/scalars.json').read_text().splitlines())
    validations = {r['step']: r for r in scalars if 'reconstruction/loss' in r}
    assert sorted(validations) == [1, 2]
    for r in validations.values():
        assert r['reconstruction/zero_prediction_loss'] == r['reconstruction/loss'] > 0
        assert r['reconstruction/gain'] == 0
    log = (run / f'{run.name}.log').read_text()
    warnings = [line for line in log.splitlines() if 'TrivialSolutionHook:' in line]
    # the validation at iteration 1 is in the warm-up: not judged
    assert len(warnings) == 1 and 'at iteration 2' in warnings[0], warnings
    assert 'WARNING' in warnings[0] and 'the trivial solution' in warnings[0]

    # The loss-curve figure draws the zero prediction beside the validation loss.
    figure = loss_curves_figure({'run': tmp_path / 'work'})
    lines = {line.get_label(): line for line in figure.axes[0].get_lines()}
    baseline = lines['run val, predicting zero (the local mean)']
    assert list(baseline.get_xdata()) == [1, 2]
    assert list(baseline.get_ydata()) == [validations[s]['reconstruction/loss'] for s in (1, 2)]
    assert 'run val, predicting zero (the local mean)' in [
        text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    assert (tmp_path / 'work' / 'reconstruction.png').exists()


class Recorder:
    def __init__(self):
        self.warnings = []

    def warning(self, message):
        self.warnings.append(message)


def runner_at(iteration, warmup_end=10, epoch=0):
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    schedulers = [LinearLR(optimizer, start_factor=0.1, by_epoch=False, begin=0, end=warmup_end),
                  MultiStepLR(optimizer, milestones=[50], by_epoch=False, begin=0, end=100)]
    return SimpleNamespace(iter=iteration, epoch=epoch, param_schedulers=schedulers,
                           logger=Recorder())


@pytest.mark.parametrize('iteration, gain, warned', [
    (10, 0.004, True),     # at the end of the warm-up, within 1% of the zero prediction
    (40, -0.009, True),    # a little worse than predicting zero: the same solution
    (9, 0.004, False),     # still warming up
    (40, 0.05, False),     # 5% below the zero prediction's loss: learning
    (40, -0.2, False),     # far worse than zero: not the trivial solution
    (40, float('nan'), False),
])
def test_warns_after_the_warmup_when_the_gain_is_about_zero(iteration, gain, warned):
    runner = runner_at(iteration)
    TrivialSolutionHook().after_val_epoch(runner, {'reconstruction/gain': gain})
    assert len(runner.logger.warnings) == int(warned)


def test_threshold_and_runs_without_a_warmup_or_a_gain():
    runner = runner_at(5)
    runner.param_schedulers = runner.param_schedulers[1:]  # no warm-up: every validation
    TrivialSolutionHook(threshold=0.1).after_val_epoch(runner, {'reconstruction/gain': 0.05})
    assert len(runner.logger.warnings) == 1
    TrivialSolutionHook().after_val_epoch(runner, {'accuracy/top1': 0.0})  # another metric
    assert len(runner.logger.warnings) == 1
    with pytest.raises(ValueError, match='threshold must be positive'):
        TrivialSolutionHook(threshold=0)
