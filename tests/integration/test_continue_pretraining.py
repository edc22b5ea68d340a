"""Continuing the pre-training of a released checkpoint on a folder of one's own images: the
config starts from the released encoder and decoder (``load_from``) and scales Table 1's lr
to the batch actually used."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner
from PIL import Image

from mim_scaling.zoo.fetch import fetch
from tool_scripts import load_tool

ROOT = Path(__file__).parents[2]
CONFIG = ROOT / 'configs/pretrain/simmim_swinv2-b_continue-20k_folder.py'


@pytest.fixture
def released(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / 'tests/_zoo'))
    import released_format
    return released_format


def demo_photographs(out_dir, splits=dict(train=['astronaut', 'coffee'], val=['chelsea'])):
    """A few of the demo's photographs, read and laid out as tools/misc/prepare_sample_images.py
    does (all of them take seconds to write)."""
    tool = load_tool('misc/prepare_sample_images.py')
    for split, names in splits.items():
        (out_dir / split).mkdir(parents=True)
        for name in names:
            Image.fromarray(tool.load(name)).save(out_dir / split / f'{name}.png')


class RecordStart(Hook):
    """What the model and the optimizer hold when the first iteration starts."""

    def before_train(self, runner):
        self.state = {k: v.clone() for k, v in runner.model.state_dict().items()}
        self.initial_lr = runner.optim_wrapper.optimizer.param_groups[0]['initial_lr']


def test_continued_pretraining_starts_from_the_released_encoder_and_decoder(
        tmp_path, released):
    images = tmp_path / 'my_images'
    demo_photographs(images)
    # A released SimMIM checkpoint of a tiny SwinV2 pre-trained at 192 px, window 4.
    mirror = tmp_path / 'mirror'
    mirror.mkdir()
    torch.save(released.released_pretrained(released.timm_swinv2(img_size=192)),
               mirror / 'swinv2_base_1k_500k.pth')
    checkpoint, converted = fetch('swinv2_base_1k_500k', tmp_path / 'pretrained', str(mirror))

    cfg = Config.fromfile(CONFIG)
    assert cfg.load_from == 'work_dirs/pretrained/swinv2_base_1k_500k.pth'  # fetch's output
    cfg.model.backbone.update(released.BACKBONE, img_size=192)
    cfg.model.neck.in_channels = 128
    loader = dict(batch_size=2, num_workers=0, persistent_workers=False, pin_memory=False)
    cfg.train_dataloader.update(loader)
    cfg.val_dataloader.update(loader)
    cfg.merge_from_dict({
        'load_from': str(checkpoint), 'work_dir': str(tmp_path / 'work'), 'custom_hooks': [],
        'train_cfg.max_iters': 1, 'train_cfg.val_interval': 1,
        'default_hooks.logger.interval': 1, 'default_hooks.checkpoint.interval': 1,
        'train_dataloader.dataset.data_root': str(images),
        'val_dataloader.dataset.data_root': str(images)})
    # mmengine's own Runner, for a tiny released model whose window 4 does not tile 192 px,
    # which mim_scaling.Runner's checks would refuse: without the hook that stops it.
    cfg.default_hooks.pop('runner_type_check')
    runner = Runner.from_cfg(cfg)
    start = RecordStart()
    runner.register_hook(start)
    runner.train()

    for key, value in converted['state_dict'].items():
        torch.testing.assert_close(start.state[key], value, msg=key)
    assert start.initial_lr == pytest.approx(4e-4 * 2 / 2048)  # Table 1's lr at batch 2
    assert (tmp_path / 'work' / 'iter_1.pth').is_file()
    log = next((tmp_path / 'work').glob('*/*.log')).read_text()
    assert 'reconstruction/loss' in log
