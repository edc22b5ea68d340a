"""What a run of a study costs before it starts: the images it trains on, the GPU-hours at a
measured training throughput, and their price.

The throughput (training images per second per GPU) is the user's figure or one measured
and written down in the table "Training throughput per GPU" of ``docs/benchmarks.md``, one
row per config name pattern::

    | configs | GPU | images/s per GPU | measured with |
    |---|---|---|---|
    | simmim_swinv2-b_* | NVIDIA H100 80GB SXM | 1234 | tools/benchmarks/benchmark_simmim.py ... |

A config without a measured row has no estimate: nothing is made up.
"""
import fnmatch
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Union

from mmengine.config import Config

from .observations import IMAGENET_1K_TRAIN

__all__ = ['Throughput', 'BENCHMARKS', 'RunEstimate', 'read_throughputs', 'find_throughput',
           'trained_images', 'estimate']

BENCHMARKS = Path(__file__).resolve().parents[2] / 'docs' / 'benchmarks.md'
TABLE_HEADING = '## Training throughput per GPU'


@dataclass(frozen=True)
class Throughput:
    """A measured training throughput: images/s per GPU of the configs matching a pattern."""
    configs: str  # fnmatch pattern of config names (file names without .py)
    gpu: str
    images_per_second: float
    measured_with: str = ''


def read_throughputs(path: Union[str, Path] = BENCHMARKS) -> List[Throughput]:
    """The rows of the table under :data:`TABLE_HEADING` in ``path``."""
    text = Path(path).read_text()
    start = text.find(TABLE_HEADING)
    if start < 0:
        return []
    rows = []
    for line in text[start:].splitlines()[1:]:
        if line.startswith('#'):
            break  # the next section
        cells = [cell.strip() for cell in line.strip().strip('|').split('|')]
        if not line.startswith('|') or len(cells) < 3 or set(cells[0]) <= set('-: '):
            continue
        try:
            figure = float(cells[2].replace(',', ''))
        except ValueError:
            continue  # the header row
        rows.append(Throughput(cells[0].strip('`'), cells[1], figure,
                               cells[3] if len(cells) > 3 else ''))
    return rows


def find_throughput(config: str, table: List[Throughput]) -> Optional[Throughput]:
    """The first row of ``table`` whose pattern matches the config's name."""
    name = Path(config).stem
    return next((row for row in table if fnmatch.fnmatchcase(name, row.configs)), None)


def _dataset_images(dataset: dict) -> Optional[int]:
    ann_file = dataset.get('ann_file')
    if ann_file:
        path = Path(dataset.get('data_root') or '') / ann_file
        if path.is_file():
            with open(path) as f:
                return sum(1 for line in f if line.strip())
    kind = str(dataset.get('type', '')).split('.')[-1]
    if kind == 'ImageNet' and dataset.get('split') == 'train' and not ann_file:
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
