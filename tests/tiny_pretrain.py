"""A tiny SimMIM pre-training run through tools/train.py, for tests of long-run behaviour.

The demo config at 64 px with a 16-wide SwinV2, stochastic depth on, two dataloader
workers, on noise images the test writes itself. This module, imported by the config, adds
what the tests observe and do through environment variables:

- ``CountLoads`` (a pipeline step) appends one line per loaded sample to the file named by
  ``COUNT_LOADS_FILE``, so a test can count what a run loaded;
- ``LongRunProbe`` (a hook) appends, at the end of every iteration, the resident memory of
  the training process and of each of its child processes to ``MEMORY_SAMPLES_FILE``, and
  kills the process with SIGKILL at the end of iteration ``KILL_AT_ITERATION``: the same
  samples and the same kill whatever the load of the machine.
"""
import json
import os
import signal
import sys
from pathlib import Path

import numpy as np
import psutil
from mmengine.hooks import Hook
from mmengine.registry import HOOKS, TRANSFORMS
from PIL import Image

ROOT = Path(__file__).parents[1]
DEMO = ROOT / 'configs/demo/simmim_swinv2-demo_300it_skimage.py'

CONFIG = """\
_base_ = ['{demo}']
custom_imports = dict(imports=['mim_scaling', 'tiny_pretrain'], allow_failed_imports=False)
model = dict(
    backbone=dict(
        arch=dict(_delete_=True, embed_dims=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 2, 2]),
        img_size=64, window_size=4, drop_path_rate=0.3),
    neck=dict(in_channels=16 * 8))
mask_generator = dict(type='mim_scaling.SimMIMMaskGenerator', input_size=64,
                      mask_patch_size=32, model_patch_size=4, mask_ratio=0.6)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=64, crop_ratio_range=(0.67, 1.0), backend='pillow',
         interpolation='bilinear'),
    dict(type='RandomFlip', prob=0.5),
    mask_generator,
    dict(type='CountLoads'),
    dict(type='PackInputs'),
]
val_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='CenterCrop', crop_size=64),
    dict(mask_generator, seed=0),
    dict(type='PackInputs'),
]
train_dataloader = dict(batch_size=4, num_workers=2, persistent_workers=True,
                        dataset=dict(data_root='{data}', pipeline=train_pipeline))
val_dataloader = dict(batch_size=4, dataset=dict(data_root='{data}', pipeline=val_pipeline))
test_dataloader = val_dataloader
train_cfg = dict(max_iters={max_iters}, val_interval={val_interval})
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval={checkpoint_interval}, max_keep_ckpts=1))
log_processor = dict(window_size=1)
custom_hooks = [dict(type='LongRunProbe')]
"""


@TRANSFORMS.register_module(force=True)
class CountLoads:
    """Appends the sample index to $COUNT_LOADS_FILE (one short O_APPEND write per sample)."""

    def __call__(self, results):
        path = os.environ.get('COUNT_LOADS_FILE')
        if path:
            with open(path, 'a') as f:
                f.write(f"{results['sample_idx']}\n")
        return results


@HOOKS.register_module(force=True)
class LongRunProbe(Hook):
    """Memory samples and a kill at a given iteration, as the module docstring says."""
    priority = 'LOWEST'  # after the checkpoint of the iteration, if any

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        iteration = runner.iter + 1
        path = os.environ.get('MEMORY_SAMPLES_FILE')
        if path:
            process, children = psutil.Process(), {}
            for child in process.children(recursive=True):
                try:
                    children[child.pid] = child.memory_info().rss
                except psutil.NoSuchProcess:
                    pass  # a short-lived helper
            with open(path, 'a') as f:
                f.write(json.dumps([iteration, process.memory_info().rss, children]) + '\n')
        if os.environ.get('KILL_AT_ITERATION') == str(iteration):
            os.kill(os.getpid(), signal.SIGKILL)


def memory_samples(path: Path) -> list:
    """(iteration, resident bytes, {child pid: resident bytes}) per iteration, in order."""
    return [(i, rss, {int(pid): m for pid, m in children.items()})
            for i, rss, children in map(json.loads, path.read_text().splitlines())]


def write_images(root: Path, train: int = 12, val: int = 4) -> Path:
    rng = np.random.default_rng(0)
    for split, count in (('train', train), ('val', val)):
        (root / split).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            pixels = rng.integers(0, 256, (80, 96, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / split / f'{i:03d}.png')
    return root


def write_config(tmp_path: Path, max_iters: int, val_interval: int = 1000,
                 checkpoint_interval: int = 1000) -> Path:
    data = write_images(tmp_path / 'images')
    path = tmp_path / 'tiny_pretrain_config.py'
    path.write_text(CONFIG.format(demo=DEMO, data=data, max_iters=max_iters,
                                  val_interval=val_interval,
                                  checkpoint_interval=checkpoint_interval))
    return path


def train_command(config: Path, work_dir: Path, *options: str):
    return [sys.executable, str(ROOT / 'tools/train.py'), str(config), '--work-dir',
            str(work_dir), *options]


def environment(count_file: Path = None, memory_file: Path = None,
                kill_at_iteration: int = None) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    env['PYTHONPATH'] = os.pathsep.join([str(Path(__file__).parent),
                                         env.get('PYTHONPATH', '')])
    for key, value in (('COUNT_LOADS_FILE', count_file), ('MEMORY_SAMPLES_FILE', memory_file),
                       ('KILL_AT_ITERATION', kill_at_iteration)):
        env.pop(key, None)
        if value is not None:
            env[key] = str(value)
    return env


def json_logs(work_dir: Path) -> list:
    """The json log of each run in ``work_dir`` (``<timestamp>/vis_data/<timestamp>.json``)."""
    return [run / 'vis_data' / f'{run.name}.json' for run in sorted(work_dir.glob('2*'))
            if (run / 'vis_data' / f'{run.name}.json').exists()]


def logged_losses(work_dir: Path) -> list:
    """{iteration: training loss} of each run in ``work_dir``, oldest run first."""
    runs = []
    for log in json_logs(work_dir):
        losses = {}
        for line in log.read_text().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a line being written
            if 'loss' in entry:
                losses[entry['iter']] = entry['loss']
        runs.append(losses)
    return runs
