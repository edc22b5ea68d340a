"""Samplers that can start anywhere in their stream, for exact resumption."""
import numpy as np
import torch
from mmengine.dataset import InfiniteSampler

from mim_scaling.registry import DATA_SAMPLERS
from .sample_seeding import SeededIndex

__all__ = ['ResumableInfiniteSampler']


@DATA_SAMPLERS.register_module()
class ResumableInfiniteSampler(InfiniteSampler):
    """mmengine's ``InfiniteSampler``, able to start at any position and seeding each sample.

    The stream is a sequence of passes over the dataset. Pass ``p`` is a permutation drawn
    from ``(seed, p)`` alone (mmengine's sampler draws every pass from one running
    generator), so :meth:`set_start` reaches any position without going through the passes
    before it, and nothing is loaded to get there. Rank ``r`` of ``w`` takes positions
    ``start + r``, ``start + r + w``, ...: the one stream is shared out, whatever the number
    of ranks. Each index is a :class:`~mim_scaling.datasets.SeededIndex` with key
    ``(seed, p)``, from which :class:`~mim_scaling.datasets.SampleSeededDataset` seeds the
    sample's transforms.

    Args:
        dataset (Sized): The dataset.
        shuffle (bool): Whether each pass is a random permutation. Defaults to True.
        seed (int, optional): The seed of the permutations and of the samples; ``None``
            draws one on rank 0 and shares it, as mmengine's samplers do.
    """

    def __init__(self, dataset, shuffle: bool = True, seed=None) -> None:
        super().__init__(dataset, shuffle=shuffle, seed=seed)
        if self.size == 0:
            raise ValueError('ResumableInfiniteSampler: the dataset is empty')
        self.seed &= 0xFFFF_FFFF_FFFF_FFFF  # seed sequences take non-negative words
        self.start = 0

    def set_start(self, position: int) -> None:
        """Makes the next iteration begin at ``position``, in samples over all ranks."""
        self.start = int(position)

    def _order(self, pass_index: int) -> np.ndarray:
        if not self.shuffle:
            return np.arange(self.size)
        generator = torch.Generator()
        generator.manual_seed(int(np.random.SeedSequence(
            [self.seed, pass_index]).generate_state(1, np.uint64)[0]))
        return torch.randperm(self.size, generator=generator).numpy()

    def __iter__(self):
        position = self.start + self.rank
        order_pass, order = None, None
        while True:
            pass_index, offset = divmod(position, self.size)
            if pass_index != order_pass:
                order_pass, order = pass_index, self._order(pass_index)
            yield SeededIndex(int(order[offset]), (self.seed, pass_index))
            position += self.world_size
