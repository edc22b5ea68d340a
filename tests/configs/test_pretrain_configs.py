"""Every value of Table 1 (SimMIM pre-training) holds in every pre-training config."""
import bisect
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import mmengine.optim  # noqa: F401  (registers mmengine's parameter schedulers)
from mmengine.config import Config
from mmengine.registry import PARAM_SCHEDULERS
from timm.scheduler.scheduler import Scheduler

ROOT = Path(__file__).parents[2]
MODELS_OF_STUDY = {'s': 'small', 'b': 'base', 'l': 'large', 'h': 'huge', 'g': 'giant'}
EMBED_DIMS = {'s': 96, 'b': 128, 'l': 192, 'h': 352, 'g': 448}
LENGTHS = {125: 109_375, 250: 218_750, 500: 437_500}  # iterations -> step iteration


def config_path(model: str, kiters: int) -> Path:
    return ROOT / f'configs/pretrain/simmim_swinv2-{model}_{kiters}k_in1k.py'


CONFIGS = [(m, k) for m in MODELS_OF_STUDY for k in LENGTHS]


@pytest.mark.parametrize('model,kiters', CONFIGS)
def test_table_1(model, kiters):
    cfg = Config.fromfile(config_path(model, kiters))
    backbone = cfg.model.backbone
    assert backbone.type == 'mim_scaling.SwinV2'
    assert backbone.arch == MODELS_OF_STUDY[model]
    assert (backbone.img_size, backbone.window_size, backbone.patch_size) == (192, 12, 4)
    assert backbone.drop_path_rate == 0.1
    assert backbone.use_mask_token
    assert cfg.model.neck.in_channels == 8 * EMBED_DIMS[model]
    assert cfg.model.neck.encoder_stride == 32
    assert cfg.model.target_generator == dict(type='mim_scaling.SlidingWindowNormTarget',
                                              window_size=47)
    assert cfg.model.head.loss.criterion == 'L1'

    steps = {t['type']: t for t in cfg.train_dataloader.dataset.pipeline}
    assert steps['mim_scaling.SimMIMMaskGenerator'] == dict(
        type='mim_scaling.SimMIMMaskGenerator', input_size=192, mask_patch_size=32,
        model_patch_size=4, mask_ratio=0.6)
    crop = steps['mim_scaling.LoadImageRandomResizedCrop']  # reads and crops in one step
    assert crop.scale == 192
    assert crop.crop_ratio_range == (0.67, 1.0)
    assert crop.aspect_ratio_range == pytest.approx((3 / 4, 4 / 3))
    assert steps['RandomFlip'].prob == 0.5

    assert cfg.train_cfg.type == 'mim_scaling.ResumableIterBasedTrainLoop'
    assert cfg.train_cfg.max_iters == kiters * 1000
    optimizer = cfg.optim_wrapper.optimizer
    assert optimizer == dict(type='AdamW', lr=4e-4, weight_decay=0.05, eps=1e-8,
                             betas=(0.9, 0.999), fused=True)
    assert cfg.optim_wrapper.clip_grad == dict(max_norm=5.0)
    # The weight decay of the reference's pre-training as it ran (parameter by parameter:
    # tests/engine/optimizers/test_no_weight_decay.py).
    assert cfg.optim_wrapper.constructor == 'mim_scaling.MergedGroupsOptimWrapperConstructor'
    assert cfg.optim_wrapper.paramwise_cfg == dict(no_decay_rule='as_released')
    assert cfg.auto_scale_lr.base_batch_size == 2048

    # The comment states GPUs x per-GPU batch; together they make Table 1's 2048.
    gpus, per_gpu = map(int, re.search(r'2048 = (\d+) GPUs x (\d+)',
                                       config_path(model, kiters).read_text()).groups())
    assert gpus * per_gpu == 2048
    assert cfg.train_dataloader.batch_size == per_gpu


class ReferenceMultiStepLR(Scheduler):
    """The reference's pre-training lr (``MultiStepLRScheduler`` of its ``lr_scheduler.py``,
    on timm's scheduler base): ``warmup_t`` linear steps from ``warmup_lr_init``, then the
    base lr times ``gamma`` per milestone reached; the warm-up start is set at construction."""

    def __init__(self, optimizer, milestones, gamma, warmup_t, warmup_lr_init):
        super().__init__(optimizer, param_group_field='lr', t_in_epochs=False)
        self.milestones, self.gamma = milestones, gamma
        self.warmup_t, self.warmup_lr_init = warmup_t, warmup_lr_init
        self.warmup_steps = [(base - warmup_lr_init) / warmup_t for base in self.base_values]
        self.update_groups(warmup_lr_init)

    def _get_lr(self, t):
        if t < self.warmup_t:
            return [self.warmup_lr_init + t * step for step in self.warmup_steps]
        return [base * self.gamma ** bisect.bisect_right(self.milestones, t)
                for base in self.base_values]


def reference_lrs(iters: int, warmup_iters: int, decay_iters: int) -> list:
    """The lr of each update of the reference's loop (``main_simmim_pt.py``): its config's
    rates per 512 images scaled to 2048 (base 1e-4, warm-up start 5e-7), and
    ``step_update(idx)`` after update ``idx``."""
    optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1e-4 * 2048 / 512)
    scheduler = ReferenceMultiStepLR(optimizer, [decay_iters], 0.1, warmup_iters,
                                     5e-7 * 2048 / 512)
    lrs = []
    for idx in range(iters):
        lrs.append(optimizer.param_groups[0]['lr'])
        scheduler.step_update(idx)
    return lrs


def our_lrs(cfg: Config, iters: int) -> list:
    """The lr of each iteration under mmengine's ParamSchedulerHook, which steps every
    iteration-based scheduler after each iteration."""
    optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))],
                                  lr=cfg.optim_wrapper.optimizer.lr)
    schedulers = [PARAM_SCHEDULERS.build(dict(s, optimizer=optimizer))
                  for s in cfg.param_scheduler]
    lrs = []
    for _ in range(iters):
        lrs.append(optimizer.param_groups[0]['lr'])
        for s in schedulers:
            s.step()
    return lrs


def schedule_of_length(max_iters: int, warmup_iters: int, decay_iters: int) -> Config:
    """The 125k schedule as written, for other lengths."""
    text = (ROOT / 'configs/_base_/schedules/simmim_step_125k.py').read_text()
    for name, value in (('max_iters', max_iters), ('warmup_iters', warmup_iters),
                        ('decay_iters', [decay_iters])):
        text, count = re.subn(rf'^{name} = .*$', f'{name} = {value!r}', text, flags=re.M)
        assert count == 1, name
    return Config.fromstring(text, '.py')


def test_lr_is_the_references_at_every_update_of_a_short_schedule():
    ours = our_lrs(schedule_of_length(20, warmup_iters=5, decay_iters=15), 20)
    theirs = reference_lrs(20, warmup_iters=5, decay_iters=15)
    assert ours == pytest.approx(theirs, rel=1e-9)
    # Each value one update late: updates 0 and 1 at the warm-up start, 4e-4 from update 6
    # (not 5), x0.1 from update 16 (not 15).
    assert theirs[0] == theirs[1] == pytest.approx(2e-6)
    assert theirs[2] == pytest.approx(2e-6 + (4e-4 - 2e-6) / 5)
    assert theirs[5] < 4e-4 and theirs[6] == pytest.approx(4e-4)
    assert theirs[15] == pytest.approx(4e-4) and theirs[16] == pytest.approx(4e-5)


@pytest.mark.parametrize('config,iters,warmup,decay', [
    *[(config_path('b', k), k * 1000, 6250, step) for k, step in LENGTHS.items()],
    (ROOT / 'configs/pretrain/simmim_swinv2-b_continue-20k_folder.py', 20_000, 1000, 17_500),
], ids=['125k', '250k', '500k', 'continue-20k'])
def test_lr_is_the_references_at_table_1_lengths(config, iters, warmup, decay):
    """Table 1: 6250 warm-up iterations to 4e-4, x0.1 at its step iteration; the
    continued pre-training: the same shortened to 20k."""
    cfg = Config.fromfile(config)
    assert cfg.train_cfg.max_iters == iters
    end = decay + 3  # the lr stays as it is from there to the end
    ours, theirs = our_lrs(cfg, end), reference_lrs(end, warmup, decay)
    np.testing.assert_allclose(ours, theirs, rtol=1e-9)
    assert ours[warmup] < ours[warmup + 1] == pytest.approx(4e-4)
    assert ours[decay] == pytest.approx(4e-4) and ours[decay + 1] == pytest.approx(4e-5)
