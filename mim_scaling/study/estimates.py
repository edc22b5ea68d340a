"""What a run of a study costs before it starts: the images it trains on, the GPU-hours at a
measured training throughput, and their price.

Throughputs (training images per second per GPU) are measured figures, in
``throughputs.tsv`` beside this module (shipped with the package) or in a file of the same
tab-separated columns measured on one's own GPUs: ``gpu`` (its name, as ``nvidia-smi``
gives it), ``model`` (the SwinV2 ``arch`` the config names: ``small``, ``base``, ``large``,
``huge``, ``giant``), ``task`` (``pretrain``: SimMIM; ``finetune``: classification),
``image_size`` (the backbone's ``img_size``), ``images_per_second`` and ``source`` (how
and when it was measured). A run without a matching row has no estimate: nothing is made
up.
"""
import csv
from dataclasses import dataclass, fields
from pathlib import Path
from typing import List, Optional, Tuple, Union

from mmengine.config import Config

from mim_scaling.utils.config_types import type_name

from .observations import IMAGENET_1K_TRAIN

__all__ = ['Throughput', 'THROUGHPUTS', 'TASKS', 'RunEstimate', 'read_throughputs',
           'throughput_key', 'find_throughput', 'trained_images', 'estimate']

THROUGHPUTS = Path(__file__).with_name('throughputs.tsv')
TASKS = ('pretrain', 'finetune')


@dataclass(frozen=True)
class Throughput:
    """A measured training throughput: images/s per GPU of one model, task and image size."""
    gpu: str
    model: str  # the SwinV2 arch: small, base, large, huge, giant
    task: str  # one of TASKS
    image_size: int
    images_per_second: float
    source: str  # how and when it was measured


COLUMNS = tuple(f.name for f in fields(Throughput))


def read_throughputs(path: Union[str, Path] = THROUGHPUTS) -> List[Throughput]:
    """The rows of a throughput table (tab-separated, the columns of :class:`Throughput`);
    a malformed row is refused with its line number."""
    with open(path, newline='') as f:
        reader = csv.DictReader(f, delimiter='\t')
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise ValueError(f'{path}: the header must be the tab-separated columns '
                             f'{" ".join(COLUMNS)}, not {reader.fieldnames}')
        rows = []
        for row in reader:
            where = f'{path}, line {reader.line_num}'
            if None in row or None in row.values():
                raise ValueError(f'{where}: {len(COLUMNS)} tab-separated cells expected')
            cells = {key: value.strip() for key, value in row.items()}
            if cells['task'] not in TASKS:
                raise ValueError(f'{where}: task {cells["task"]!r} is not one of {TASKS}')
            try:
                size, speed = int(cells['image_size']), float(cells['images_per_second'])
            except ValueError:
                raise ValueError(f'{where}: image_size must be an integer and '
                                 'images_per_second a number') from None
            if size <= 0 or not speed > 0:
                raise ValueError(f'{where}: image_size and images_per_second must be positive')
            if not (cells['gpu'] and cells['model'] and cells['source']):
                raise ValueError(f'{where}: a figure needs its gpu, model and source (how and '
                                 'when it was measured)')
            rows.append(Throughput(cells['gpu'], cells['model'], cells['task'], size, speed,
                                   cells['source']))
    return rows


def throughput_key(cfg: Config) -> Optional[Tuple[str, int]]:
    """(arch, image size) of a config's backbone, as the throughput table names them; None
    for a backbone without a named arch or a square image size."""
    backbone = (cfg.get('model') or {}).get('backbone') or {}
    arch, size = backbone.get('arch'), backbone.get('img_size')
    if isinstance(size, (list, tuple)) and len(size) == 2 and size[0] == size[1]:
        size = size[0]
    if not isinstance(arch, str) or not isinstance(size, int):
        return None
    return arch, size


def find_throughput(table: List[Throughput], model: str, task: str, image_size: int,
                    gpu: Optional[str] = None) -> Optional[Throughput]:
    """The row of ``table`` for the model, task and image size, on ``gpu`` (a part of its
    name, any case) if given; ``ValueError`` if rows of several GPUs match."""
    rows = [row for row in table if (row.model, row.task, row.image_size) ==
            (model, task, image_size) and (gpu is None or gpu.lower() in row.gpu.lower())]
    gpus = sorted({row.gpu for row in rows})
    if len(gpus) > 1:
        raise ValueError(f'the throughput table has figures for SwinV2 {model} {task} at '
                         f'{image_size} px on several GPUs ({", ".join(gpus)}): name yours '
                         'with --gpu-type')
    return rows[-1] if rows else None  # the last row of a GPU: the latest measurement


def _dataset_images(dataset: dict) -> Optional[int]:
    ann_file = dataset.get('ann_file')
    if ann_file:
        path = Path(dataset.get('data_root') or '') / ann_file
        if path.is_file():
            with open(path) as f:
                return sum(1 for line in f if line.strip())
    if (type_name(dataset.get('type', '')) == 'ImageNet' and dataset.get('split') == 'train'
            and not ann_file):
        # ILSVRC-2012 train, for a dry run on a machine without the annotation file
        return IMAGENET_1K_TRAIN
    return None


def trained_images(cfg: Config, total_batch: int) -> Optional[int]:
    """The images a run of ``cfg`` trains on with ``total_batch`` images per iteration:
    iterations x total batch, or epochs x the training set (None when it cannot be told)."""
    train_cfg = cfg.get('train_cfg') or {}
    if 'max_iters' in train_cfg:
        return int(train_cfg['max_iters']) * total_batch
    if 'max_epochs' in train_cfg:
        per_epoch = _dataset_images(cfg.train_dataloader.get('dataset') or {})
        return None if per_epoch is None else int(train_cfg['max_epochs']) * per_epoch
    return None


@dataclass
class RunEstimate:
    """Images, GPU-hours and cost of one run; ``None`` where there is no figure."""
    images: Optional[int]
    gpus: int
    images_per_second: Optional[float]  # per GPU
    price_per_gpu_hour: Optional[float] = None

    @property
    def gpu_hours(self) -> Optional[float]:
        if self.images is None or not self.images_per_second:
            return None
        return self.images / self.images_per_second / 3600

    @property
    def hours(self) -> Optional[float]:
        """Wall-clock hours on ``gpus`` GPUs."""
        return None if self.gpu_hours is None else self.gpu_hours / self.gpus

    @property
    def cost(self) -> Optional[float]:
        if self.gpu_hours is None or self.price_per_gpu_hour is None:
            return None
        return self.gpu_hours * self.price_per_gpu_hour


def estimate(cfg: Config, total_batch: int, gpus: int, images_per_second: Optional[float],
             price_per_gpu_hour: Optional[float] = None) -> RunEstimate:
    """The :class:`RunEstimate` of a run of ``cfg`` on ``gpus`` GPUs."""
    return RunEstimate(trained_images(cfg, total_batch), gpus, images_per_second,
                       price_per_gpu_hour)
