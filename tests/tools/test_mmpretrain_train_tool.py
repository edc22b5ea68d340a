"""mmpretrain's own tools/train.py (installed with mmpretrain) on the demo config: it builds
the configs' runner_type, so skip_unreadable_images, tensorboard and the build-time checks
work as under this project's tools/train.py."""
import os.path as osp
import re
import runpy
import sys
from pathlib import Path

import mmpretrain
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from mim_scaling.engine.config import ConfigError
from mim_scaling.safe_loading import safe_load
from unreadable_files import jpeg_bytes, write_bad_images

ROOT = Path(__file__).parents[2]
MMPRETRAIN_TRAIN = Path(mmpretrain.__file__).parent / '.mim/tools/train.py'

# The demo config at 64 px (window 4: token maps 16, 8, 4, 2): one batch of all 5 images,
# loaded by 2 workers; no validation.
TINY_DEMO = """
_base_ = ['{demo}']
model = dict(backbone=dict(img_size=64, window_size=4))
mask = dict(type='mim_scaling.SimMIMMaskGenerator', input_size=64, mask_patch_size=32,
            model_patch_size=4, mask_ratio=0.6)
train_pipeline = [dict(type='mim_scaling.LoadImageFromFile'),
                  dict(type='RandomResizedCrop', scale=64, backend='pillow'),
                  mask, dict(type='PackInputs')]
train_dataloader = dict(batch_size=5, num_workers=2,
                        dataset=dict(data_root='{data_root}', pipeline=train_pipeline))
train_cfg = dict(max_iters=1)
val_cfg = val_dataloader = val_evaluator = None
test_cfg = test_dataloader = test_evaluator = None
param_scheduler = []
custom_hooks = []
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=1))
"""


@pytest.fixture
def mmpretrain_train(monkeypatch):
    """Runs mmpretrain's tools/train.py in this process, as `python tools/train.py ARGS`."""
    assert MMPRETRAIN_TRAIN.is_file()
    monkeypatch.setenv('LOCAL_RANK', '0')

    def run(*args):
        monkeypatch.setattr(sys, 'argv', [str(MMPRETRAIN_TRAIN), *map(str, args)])
        runpy.run_path(str(MMPRETRAIN_TRAIN), run_name='__main__')
    return run


@pytest.fixture
def tiny_demo(tmp_path):
    """The tiny demo config over 2 good images and 3 unreadable files; returns (config,
    unreadable paths)."""
    data = tmp_path / 'data'
    bad = [p for p in write_bad_images(data / 'train') if osp.exists(p)]  # found by scanning
    for i in range(2):
        (data / 'train' / f'good{i}.jpg').write_bytes(jpeg_bytes(seed=i))
    config = tmp_path / 'tiny.py'
    config.write_text(TINY_DEMO.format(
        demo=ROOT / 'configs/demo/simmim_swinv2-demo_300it_skimage.py', data_root=data))
    return config, bad


def test_skips_and_lists_unreadable_images_and_logs_to_tensorboard(mmpretrain_train, tiny_demo,
                                                                   tmp_path):
    config, bad = tiny_demo
    work_dir = tmp_path / 'work'
    mmpretrain_train(config, '--work-dir', work_dir, '--cfg-options',
                     'skip_unreadable_images=True', 'tensorboard=True')

    (log_file, ) = work_dir.glob('*/*.log')
    log = log_file.read_text()
    assert 'Iter(train) [1/1]' in log  # trained to the end
    # Every bad file was drawn at least once (the batch is the whole set); replacements
    # may draw a bad file again, which counts as another skipped sample.
    message = re.search(r'Skipped (\d+) samples with unreadable images by iteration 1, '
                        r'from 3 files .*', log)
    assert message and int(message.group(1)) >= 3, log[-3000:]
    for path in bad:
        assert message.group(0).count(f'{path}: ') == 1
    (listing, ) = work_dir.glob('*/unreadable_images.txt')
    listed = [line.split('\t')[0] for line in listing.read_text().splitlines()]
    assert sorted(listed) == sorted(bad)  # each file once

    (events, ) = work_dir.glob('*/vis_data/events.out.tfevents.*')
    assert 'loss' in EventAccumulator(str(events)).Reload().Tags()['scalars']
    # The Runner's checkpoint records the windows the backbone used (64 px, window 4).
    meta = safe_load(work_dir / 'iter_1.pth')['meta']
    assert meta['pretrained_window_sizes'] == [4, 4, 4, 2]


def test_a_config_mistake_fails_before_anything_is_built(mmpretrain_train, tiny_demo, tmp_path):
    config, _ = tiny_demo
    with pytest.raises(ConfigError, match=r'model.neck.in_channels=128 .*256'):
        mmpretrain_train(config, '--work-dir', tmp_path / 'work', '--cfg-options',
                         'model.neck.in_channels=128')
    assert not (tmp_path / 'work').exists()
