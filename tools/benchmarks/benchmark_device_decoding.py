"""The GPU data path (``decode_on_device=True``): worker CPU time and the device's share.

Measurements on the data-pipeline benchmark's JPEGs (``benchmark_data_pipeline``:
scikit-image's photographs, cropped, with a photograph's fine texture, 500x375 at quality 90
by default)::

    # CPU time per image of the transforms in a dataloader worker: the GPU path's worker
    # part against the whole CPU pipeline of configs/_base_/datasets/imagenet_simmim_192.py
    python tools/benchmarks/benchmark_device_decoding.py --part worker
    # ... and of the whole worker (seeding, lookup, transforms, collate, hand-over)
    python tools/benchmarks/benchmark_device_decoding.py --part loader --batch 32 --batches 8
    # images/s of the device part (decode, crop, resize, flip, normalise) at a batch
    python tools/benchmarks/benchmark_device_decoding.py --part device --device cuda --batch 128
    # ... against the SimMIM step of a config on the same device, and the share it adds
    python tools/benchmarks/benchmark_device_decoding.py --part step --device cuda \
        --batch 128 --dtype bfloat16
    # how long a training run waited for data: data_time against time in its json log
    python tools/benchmarks/benchmark_device_decoding.py --part log --work-dir work_dirs/run
    # the JPEGs themselves, as an image folder (train/, val/) for a training run
    python tools/benchmarks/benchmark_device_decoding.py --save-jpegs data/jpegs

The worker part runs in one process with one torch thread and OpenCV's threads off, as a
dataloader worker does, the candidates in turns (``benchmark_utils.time_interleaved``); its
figure is the process's CPU time, which the machine's other load does not inflate as it
does wall time. The loader part runs a real dataloader (one worker, the training set's
seeding and sampler on a folder of the JPEGs, the path's collate function) and reads the
worker's CPU clock at each batch it collates. The step part times ``model.train_step`` of
the config's model (its preprocessor is the GPU path's) on the batch the CPU pipeline makes
of the same files (the CPU pipeline's step) and on the encoded batch (the step that
decodes), in turns. On a GPU,
the device and step parts also print the largest difference of the device part's batch to
the same part run on the CPU (nvJPEG against libjpeg-turbo, CUDA's resize against the CPU's).
"""
import argparse
import copy
import json
import os
import os.path as osp
import statistics
import sys
import tempfile
import time

import cv2
import numpy as np
import torch
from mmcv.transforms import Compose
from mmengine.config import Config
from mmengine.dataset import default_collate, pseudo_collate
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope, init_default_scope
from mmengine.runner import Runner
from torch.utils.data import DataLoader

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from benchmark_data_pipeline import write_jpegs  # noqa: E402
from benchmark_utils import (Result, format_table, machine_summary, print_results,  # noqa: E402
                             synchronize, time_interleaved)

import mim_scaling  # noqa: E402,F401  (registers the transforms and the preprocessor)
from mim_scaling.datasets import ResumableInfiniteSampler, SampleSeededDataset  # noqa: E402
from mim_scaling.engine.config.gpu_data_path import apply_decode_on_device  # noqa: E402
from mim_scaling.registry import MODELS  # noqa: E402

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEFAULT_CONFIG = osp.join(REPO, 'configs', 'pretrain', 'simmim_swinv2-b_125k_in1k.py')


def gpu_path_config(config: str) -> Config:
    """The config with ``decode_on_device=True`` applied (the GPU path's pipeline and
    preprocessor)."""
    cfg = Config.fromfile(config)
    cfg.decode_on_device = True
    apply_decode_on_device(cfg)
    return cfg


def pipelines(config: str):
    """(the CPU pipeline, the GPU path's worker pipeline) of the config's training set."""
    cpu = Config.fromfile(config).train_dataloader.dataset.pipeline
    gpu = gpu_path_config(config).train_dataloader.dataset.pipeline
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return Compose(cpu), Compose(gpu)


def load_batch(pipeline, paths, batch: int, collate):
    """``batch`` samples (the files in turn) through ``pipeline``, collated."""
    return collate([pipeline(dict(img_path=paths[i % len(paths)], sample_idx=i))
                    for i in range(batch)])


def cpu_timed(fn, seconds: list):
    """``fn`` that appends the process CPU time of each call to ``seconds``."""
    def run():
        start = time.process_time()
        fn()
        seconds.append(time.process_time() - start)
    return run


def worker_part(config: str, paths, repeats: int) -> dict:
    """CPU seconds per image of the CPU pipeline and of the GPU path's worker part."""
    cpu_pipeline, gpu_pipeline = pipelines(config)
    cpu_seconds = {'CPU pipeline (whole)': [], 'GPU path, worker part': []}

    def run_all(pipeline):
        def run():
            for i, path in enumerate(paths):
                pipeline(dict(img_path=path, sample_idx=i))
        return run

    fns = {name: cpu_timed(run_all(p), cpu_seconds[name])
           for name, p in zip(cpu_seconds, (cpu_pipeline, gpu_pipeline))}
    np.random.seed(0)
    wall = time_interleaved(fns, repeats=repeats, warmup=1)
    results = [Result(name, seconds[1:], items=len(paths))  # the warm-up call left out
               for name, seconds in cpu_seconds.items()]
    print('CPU time of one worker process, median of the repeats:')
    print_results(results, reference='CPU pipeline (whole)')
    per_image = {r.name: r.median / len(paths) for r in results}
    rows = [[name, f'{1e3 * s:.3f}', f'{1e3 * statistics.median(wall[name]) / len(paths):.3f}']
            for name, s in per_image.items()]
    print(format_table(['', 'CPU ms/image', 'wall ms/image'], rows))
    cpu, gpu = per_image.values()
    print(f'The worker part takes {cpu / gpu:.1f}x less CPU time per image than the whole CPU '
          'pipeline.', flush=True)
    return per_image


class StampedCollate:
    """A collate function that also returns the worker's CPU time once it has collated."""

    def __init__(self, collate) -> None:
        self.collate = collate

    def __call__(self, samples):
        return self.collate(samples), time.process_time()


def training_loader(cfg: Config, folder: str, batch: int) -> DataLoader:
    """One worker loading ``folder``'s images as training does: the config's pipeline on
    an image folder, seeded per sample (``SampleSeededDataset``) in the order of
    ``ResumableInfiniteSampler``, with the config's collate function, stamped."""
    dataset = dict(type='CustomDataset', data_root=folder, data_prefix='', with_label=False,
                   pipeline=cfg.train_dataloader.dataset.pipeline)
    loader = dict(batch_size=batch, num_workers=1, persistent_workers=False, pin_memory=False,
                  sampler=dict(type=ResumableInfiniteSampler, shuffle=True, seed=0),
                  collate_fn=cfg.train_dataloader.collate_fn,
                  dataset=dict(type=SampleSeededDataset, dataset=dataset))
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        loader = Runner.build_dataloader(loader, seed=0)
    loader.collate_fn = StampedCollate(loader.collate_fn)
    return loader


def whole_worker(config: str, folder: str, batch: int, batches: int, repeats: int) -> dict:
    """CPU seconds per image of a whole dataloader worker, CPU pipeline against GPU path:
    seeding, sample lookup, transforms, collate and hand-over (pickling the batch into the
    queue), from the worker's own CPU clock at consecutive batches (after 2 warm-up
    batches); and the main process's CPU time to receive the batches."""
    configs = {'CPU pipeline': Config.fromfile(config), 'GPU path': gpu_path_config(config)}
    worker = {name: [] for name in configs}
    main = {name: [] for name in configs}
    for _ in range(repeats):
        for name, cfg in configs.items():  # in turns, so that load changes hit both
            loader = iter(training_loader(cfg, folder, batch))
            for _ in range(2):
                _, start = next(loader)
            main_start = time.process_time()
            for _ in range(batches):
                _, end = next(loader)
            main[name].append((time.process_time() - main_start) / (batch * batches))
            worker[name].append((end - start) / (batch * batches))
            del loader  # its worker exits
    rows = []
    for name in configs:
        rows.append([name, f'{1e3 * statistics.median(worker[name]):.3f}',
                     f'{1e3 * min(worker[name]):.3f}-{1e3 * max(worker[name]):.3f}',
                     f'{1e3 * statistics.median(main[name]):.3f}'])
    print(f'Whole dataloader worker, batch {batch}, {batches} batches, median of {repeats} '
          'repeats in turns (CPU ms per image):')
    print(format_table(['', 'worker', 'range', 'main process, receiving'], rows))
    ratios = sorted(c / g for c, g in zip(worker['CPU pipeline'], worker['GPU path']))
    print(f'The GPU path\'s whole worker takes {statistics.median(ratios):.1f}x less CPU time '
          f'per image (paired ratios {ratios[0]:.1f}-{ratios[-1]:.1f}x).', flush=True)
    return {name: statistics.median(seconds) for name, seconds in worker.items()}


def device_preprocessor(config: str, device):
    cfg = gpu_path_config(config)
    return MODELS.build(cfg.model.data_preprocessor).to(device)


def compare_with_cpu(config: str, data, preprocessor, device) -> float:
    """Prints and returns the largest difference, in grey levels, of the device part's batch
    on ``device`` to the same batch made on the CPU."""
    on_cpu = device_preprocessor(config, 'cpu')
    ours = preprocessor(data, True)['inputs'].float().cpu() * on_cpu.std
    theirs = on_cpu(data, True)['inputs'] * on_cpu.std
    diff = (ours - theirs).abs()
    print(f'The device part on {device_label(device)} against the CPU: mean difference '
          f'{diff.mean():.3f}, largest {diff.max():.2f} grey levels.', flush=True)
    return diff.max().item()


def device_part(config: str, paths, batch: int, device, repeats: int, warmup: int = 2):
    """Seconds per call of the device part on a batch of ``batch`` encoded files."""
    _, gpu_pipeline = pipelines(config)
    data = load_batch(gpu_pipeline, paths, batch, pseudo_collate)
    preprocessor = device_preprocessor(config, device)
    times = time_interleaved({'device part': lambda: preprocessor(data, True)}, repeats, warmup,
                             device)['device part']
    result = Result(f'device part on {device_label(device)}, batch {batch}', times, batch)
    print_results([result])
    if torch.device(device).type != 'cpu':
        compare_with_cpu(config, data, preprocessor, device)
    return result


def device_label(device) -> str:
    device = torch.device(device)
    return torch.cuda.get_device_name(device) if device.type == 'cuda' else 'the CPU'


def step_part(config: str, paths, batch: int, device, dtype: str, repeats: int,
              warmup: int = 3):
    """The SimMIM step on decoded input, the same step decoding its batch, and the device
    part alone, in turns; prints the device part's images/s over the step's and its share."""
    from benchmark_simmim import optim_wrapper_for

    cfg = gpu_path_config(config)
    cpu_pipeline, gpu_pipeline = pipelines(config)
    decoded = load_batch(cpu_pipeline, paths, batch, default_collate)
    encoded = load_batch(gpu_pipeline, paths, batch, pseudo_collate)
    with DefaultScope.overwrite_default_scope('mmpretrain'):  # whatever scope is current
        model = MODELS.build(copy.deepcopy(cfg.model))
    model.init_weights()
    model.to(device).train()
    optim_wrapper = optim_wrapper_for(model, cfg, dtype)
    preprocessor = model.data_preprocessor
    fns = {
        'SimMIM step, decoded batch': lambda: model.train_step(decoded, optim_wrapper),
        'SimMIM step, decoding its batch': lambda: model.train_step(encoded, optim_wrapper),
        'device part alone': lambda: preprocessor(encoded, True),
    }
    times = time_interleaved(fns, repeats, warmup, device)
    results = [Result(name, seconds, batch) for name, seconds in times.items()]
    print_results(results)
    if torch.device(device).type != 'cpu':
        compare_with_cpu(config, encoded, preprocessor, device)
    step, decoding_step, alone = (statistics.median(times[name]) for name in fns)
    print(f'The device part delivers {step / alone:.2f}x the images/s of the step '
          f'({batch / alone:.0f} against {batch / step:.0f} img/s) and adds '
          f'{decoding_step / step - 1:+.1%} to a step ({alone / step:.1%} of the step timed '
          'alone).', flush=True)
    return times


def data_wait(work_dir: str, skip: int = 10) -> dict:
    """Medians of ``data_time`` and ``time`` over the iterations after the first ``skip`` in
    the json log of the newest run in ``work_dir``, and the mean ``decoded_on_cpu`` (images
    of a batch decoded on the CPU) over the same iterations."""
    runs = sorted(d for d in os.listdir(work_dir) if d[:1] == '2')
    log = osp.join(work_dir, runs[-1], 'vis_data', f'{runs[-1]}.json')
    entries = [json.loads(line) for line in open(log) if '"data_time"' in line]
    late = [e for e in entries if e.get('iter', 0) > skip] or entries
    data_time = statistics.median(e['data_time'] for e in late)
    step_time = statistics.median(e['time'] for e in late)
    counts = [e['decoded_on_cpu'] for e in late if 'decoded_on_cpu' in e]
    decoded_on_cpu = statistics.mean(counts) if counts else None
    print(f'{work_dir}: iterations {late[0]["iter"]}-{late[-1]["iter"]}: median data_time '
          f'{data_time:.4f} s, time {step_time:.4f} s: the step waits for data '
          f'{data_time / step_time:.1%} of the time'
          + (f'; images of a batch decoded on the CPU: {decoded_on_cpu:g}'
             if decoded_on_cpu is not None
             else ''), flush=True)
    return dict(data_time=data_time, time=step_time, decoded_on_cpu=decoded_on_cpu)


def save_jpegs(folder: str, count: int, size, quality: int) -> None:
    """``count`` of the benchmark's JPEGs in ``folder``/train and 8 in ``folder``/val."""
    for split, number, seed in (('train', count, 0), ('val', 8, 1)):
        os.makedirs(osp.join(folder, split), exist_ok=True)
        write_jpegs(osp.join(folder, split), number, size, quality, seed=seed)
    print(f'{count} + 8 JPEGs of {size[0]}x{size[1]} px in {folder}', flush=True)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--part', choices=['worker', 'loader', 'device', 'step', 'log'],
                        default='worker')
    parser.add_argument('--work-dir', help='--part log: the training run to read')
    parser.add_argument('--save-jpegs', metavar='DIR',
                        help='only write the JPEGs into DIR/train and DIR/val')
    parser.add_argument('--config', default=DEFAULT_CONFIG, help='a pre-training config')
    parser.add_argument('--num-images', type=int, default=64)
    parser.add_argument('--size', type=int, nargs=2, default=(500, 375), metavar=('W', 'H'))
    parser.add_argument('--quality', type=int, default=90)
    parser.add_argument('--batch', type=int, default=32,
                        help='batch of the device part and of the loader')
    parser.add_argument('--batches', type=int, default=8,
                        help='--part loader: batches timed per repeat')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--dtype', default='float32', choices=['float32', 'bfloat16', 'float16'],
                        help='autocast dtype of the SimMIM step (float32: none)')
    parser.add_argument('--repeats', type=int, default=7)
    parser.add_argument('--threads', type=int, default=1,
                        help='torch threads (1: as in a dataloader worker)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.part == 'log':
        return data_wait(args.work_dir)
    if args.save_jpegs:
        return save_jpegs(args.save_jpegs, args.num_images, args.size, args.quality)
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(0)  # mmengine's default mp_cfg.opencv_num_threads
    init_default_scope('mmpretrain')
    MMLogger.get_instance('benchmark_device_decoding', log_level='WARNING')
    device = torch.device(args.device)
    print(machine_summary(device))
    with tempfile.TemporaryDirectory() as directory:
        paths = write_jpegs(directory, args.num_images, args.size, args.quality)
        mean_kb = np.mean([osp.getsize(p) for p in paths]) / 1024
        print(f'{len(paths)} JPEGs of {args.size[0]}x{args.size[1]} px, quality '
              f'{args.quality}, {mean_kb:.0f} KiB on average', flush=True)
        if args.part == 'worker':
            return worker_part(args.config, paths, args.repeats)
        if args.part == 'loader':
            return whole_worker(args.config, directory, args.batch, args.batches, args.repeats)
        if args.part == 'device':
            return device_part(args.config, paths, args.batch, device, args.repeats)
        synchronize(device)
        return step_part(args.config, paths, args.batch, device, args.dtype, args.repeats)


if __name__ == '__main__':
    main()
