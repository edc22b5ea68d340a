"""Per-sample randomness: each sample's transforms draw from generators of its own.

A sampler such as :class:`~mim_scaling.datasets.ResumableInfiniteSampler` yields
:class:`SeededIndex` objects, dataset indices that carry the key of the sampler's pass;
:class:`SampleSeededDataset` seeds the global generators from (key, index) before loading
the sample. Crops, flips and masks then depend only on the seed, the pass and the index,
not on the worker that loads the sample or on what it loaded before, so a run resumed
mid-way loads exactly the samples the interrupted run would have. Transforms need no change:
they draw from the global generators as mmcv's and mmpretrain's do.
"""
from typing import Tuple

from torch.utils.data import get_worker_info

from mim_scaling.registry import DATASETS
from mim_scaling.utils import seeded_random_states
from .dataset_wrapper import DatasetWrapper

__all__ = ['SeededIndex', 'SampleSeededDataset']


class SeededIndex(int):
    """A dataset index that also carries the key its sample's randomness is derived from."""

    def __new__(cls, index: int, key: Tuple[int, ...]) -> 'SeededIndex':
        obj = super().__new__(cls, index)
        obj.key = tuple(key)
        return obj

    def __reduce__(self):
        # Indices travel to dataloader workers by pickle.
        return SeededIndex, (int(self), self.key)

    def __repr__(self) -> str:
        return f'SeededIndex({int(self)}, key={self.key})'


@DATASETS.register_module()
class SampleSeededDataset(DatasetWrapper):
    """Wraps a dataset so that each :class:`SeededIndex` seeds the global generators.

    For the duration of ``dataset[index]`` Python's, numpy's and torch's CPU generators are
    seeded from ``(*index.key, index)`` (through ``SeedSequence``); in the main process
    (``num_workers=0``) their previous states are restored afterwards, so that loading does
    not disturb the model's own draws. Plain integer indices load as they would without the
    wrapper. Other attributes are those of the wrapped dataset (:class:`DatasetWrapper`).

    Args:
        dataset (dict | Dataset): The dataset, or its config.
    """

    def __getitem__(self, index):
        key = getattr(index, 'key', None)
        if key is None:
            return self.dataset[index]
        # In a worker, nothing else reads the global streams: no need to restore them.
        with seeded_random_states((*key, int(index)), restore=get_worker_info() is None):
            return self.dataset[int(index)]
