"""``decode_on_device=True``: one switch puts any pre-training config on the GPU data path
(the training pipeline, its collate function and the data preprocessor), and a run on it,
killed and resumed, logs the losses of the same run left alone, skipping a corrupt file."""
import importlib
import multiprocessing
import os
import re
import signal
import time
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from PIL import Image
from skimage import data

from mim_scaling.engine.config import ConfigError, rewrite_config
from mim_scaling.engine.config.gpu_data_path import apply_decode_on_device

from gpu_data_path import corrupt_jpeg
from tiny_pretrain import ROOT, environment, logged_losses, write_config

PRETRAIN = ROOT / 'configs/pretrain'
CONFIGS = ['simmim_swinv2-b_125k_in1k.py', 'simmim_swinv2-l_500k_in22k.py',
           'simmim_swinv2-b_continue-20k_folder.py']


def switched(name, **keys):
    cfg = Config.fromfile(PRETRAIN / name)
    cfg.merge_from_dict(dict(decode_on_device=True, **keys))
    return cfg


def steps(pipeline):
    return [(str(step.type), {k: v for k, v in step.items() if k != 'type'})
            for step in pipeline]


@pytest.mark.parametrize('name', CONFIGS)
def test_the_switch_puts_a_pretraining_config_on_the_gpu_path(name):
    cpu = Config.fromfile(PRETRAIN / name)
    assert cpu.decode_on_device is False
    untouched = cpu.to_dict()
    apply_decode_on_device(cpu)
    assert cpu.to_dict() == untouched  # off by default

    cfg = switched(name)
    rewrite_config(cfg)  # as the Runner does, checks included
    expected = [('mim_scaling.LoadEncodedRandomResizedCrop', steps(cpu.train_pipeline)[0][1]),
                ('mim_scaling.RandomFlipOnDevice', dict(prob=0.5)),
                steps(cpu.train_pipeline)[2], ('mim_scaling.PackEncodedInputs', {})]
    assert steps(cfg.train_dataloader.dataset.pipeline) == expected
    assert cfg.train_dataloader.collate_fn == dict(type='pseudo_collate')
    assert cfg.model.data_preprocessor == dict(
        cpu.model.data_preprocessor, type='mim_scaling.DeviceDecodeDataPreprocessor',
        skip_unreadable=False)
    assert cfg.val_dataloader == cpu.val_dataloader  # validation keeps the CPU pipeline
    again = cfg.copy()
    rewrite_config(again)
    assert again.to_dict() == cfg.to_dict()


def test_unreadable_images_are_skipped_by_the_preprocessor_too():
    cfg = switched(CONFIGS[0], skip_unreadable_images=True)
    rewrite_config(cfg)
    wrapper = cfg.train_dataloader.dataset
    assert wrapper.type == 'mim_scaling.SkipUnreadableImages'
    assert str(wrapper.dataset.pipeline[0].type).endswith('LoadEncodedRandomResizedCrop')
    assert cfg.model.data_preprocessor.skip_unreadable is True


def test_a_pipeline_the_gpu_path_cannot_stand_in_for_is_refused():
    cfg = switched(CONFIGS[0])
    cfg.train_dataloader.dataset.pipeline.insert(2, dict(type='ColorJitter', brightness=0.4))
    cfg.model.data_preprocessor.type = 'ImgDataPreprocessor'
    with pytest.raises(ConfigError) as info:
        apply_decode_on_device(cfg)
    assert 'train_dataloader.dataset.pipeline[2] is ColorJitter' in str(info.value)
    assert 'model.data_preprocessor is ImgDataPreprocessor' in str(info.value)


# tiny_pretrain's run (the demo config at 64 px with a 16-wide SwinV2, two workers) with the
# pre-training pipeline and the GPU data path, on photographs as JPEGs, files the workers
# decode (PNG, greyscale) and one that only decoding finds corrupt; no validation.
CONFIG = """\
_base_ = ['{tiny}']
train_pipeline = [
    dict(type='mim_scaling.LoadImageRandomResizedCrop', scale=64, crop_ratio_range=(0.67, 1.0)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='mim_scaling.SimMIMMaskGenerator', input_size=64, mask_patch_size=32,
         model_patch_size=4, mask_ratio=0.6),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(data_root='{data}', pipeline=train_pipeline))
val_dataloader = val_cfg = val_evaluator = None
test_dataloader = test_cfg = test_evaluator = None
decode_on_device = True
skip_unreadable_images = True
"""
ITERS, CHECKPOINT = 8, 3


def write_data(root: Path):
    train = root / 'train'
    train.mkdir(parents=True)
    for name in ('astronaut', 'chelsea', 'coffee', 'rocket', 'immunohistochemistry'):
        image = Image.fromarray(getattr(data, name)()[..., :3]).resize((96, 80))
        image.save(train / f'{name}.jpg', quality=90)
    image.save(train / 'immunohistochemistry.png')
    Image.fromarray(data.camera()).resize((90, 72)).save(train / 'camera.jpg')  # greyscale
    return corrupt_jpeg(train / 'corrupt.jpg', train / 'coffee.jpg')


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp('gpu_path_runs')
    corrupt = write_data(tmp_path / 'data')
    config = tmp_path / 'config.py'
    tiny = write_config(tmp_path, ITERS, checkpoint_interval=CHECKPOINT)
    config.write_text(CONFIG.format(tiny=tiny, data=tmp_path / 'data'))
    killed_dir, straight_dir = tmp_path / 'killed', tmp_path / 'straight'
    with pytest.MonkeyPatch.context() as patch:
        for key, value in environment().items():
            patch.setenv(key, value)
        patch.syspath_prepend(str(ROOT / 'tools'))
        train = importlib.import_module('train')
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        # The run to kill, in a forked copy of this process (no second start-up of Python)
        # with two workers, killed at its first checkpoint (its longer max_iters only keeps
        # it from ending first); then the uninterrupted run and the resumed one, in this
        # process and without workers: each sample's draws do not depend on who loads it.
        killed = multiprocessing.get_context('fork').Process(target=train.main, args=(
            [str(config), '--work-dir', str(killed_dir), '--cfg-options',
             'train_cfg.max_iters=1000'], ))
        in_process = ['--cfg-options', 'train_dataloader.num_workers=0',
                      'train_dataloader.persistent_workers=False']
        killed.start()
        try:
            deadline = time.monotonic() + 120
            while not (killed_dir / f'iter_{CHECKPOINT}.pth').exists():
                assert killed.is_alive(), f'the run to kill ended ({killed.exitcode})'
                assert time.monotonic() < deadline, 'no checkpoint after 120 s'
                time.sleep(0.01)
            os.kill(killed.pid, signal.SIGKILL)
            killed.join(timeout=10)
            assert killed.exitcode == -signal.SIGKILL
            train.main([str(config), '--work-dir', str(straight_dir), *in_process])
            train.main([str(config), '--work-dir', str(killed_dir), '--resume', *in_process])
        finally:
            torch.set_num_threads(threads)
            if killed.is_alive():
                killed.kill()
    logs = {name: sorted(d.glob('2*/2*.log'))[-1].read_text()
            for name, d in (('straight', straight_dir), ('resumed', killed_dir))}
    return dict(straight=logged_losses(straight_dir)[0], killed=logged_losses(killed_dir),
                logs=logs, corrupt=str(corrupt))


def test_the_resumed_run_logs_the_losses_of_the_uninterrupted_one(runs):
    straight = runs['straight']
    assert sorted(straight) == list(range(1, ITERS + 1))
    *interrupted, resumed = runs['killed']
    resumed_from = int(runs['logs']['resumed'].split('resumed epoch: 0, iter: ')[1].split()[0])
    assert CHECKPOINT <= resumed_from < ITERS  # the next checkpoint, if the kill came late
    assert sorted(resumed) == list(range(resumed_from + 1, ITERS + 1))
    assert resumed == {i: straight[i] for i in resumed}  # exactly, iteration by iteration
    for losses in interrupted:
        assert losses == {i: straight[i] for i in losses}


def test_a_run_names_and_counts_what_the_workers_decoded_and_the_file_it_skipped(runs):
    log = runs['logs']['straight']
    assert 'decoding on the CPU where the device cannot: not a JPEG' in log, log[-3000:]
    assert 'greyscale JPEG' in log and 'decoded_on_cpu: ' in log
    assert re.search(r'Skipped \d+ samples with unreadable images by iteration 8, from 1 files',
                     log)
    assert f'{runs["corrupt"]}: corrupt JPEG data (' in log
