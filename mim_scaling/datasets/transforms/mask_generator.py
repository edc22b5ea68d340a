"""SimMIM's random block mask, as a data transform."""
import math
import numbers
from typing import Dict, Optional

import numpy as np
from mmcv.transforms import BaseTransform

from mim_scaling.registry import TRANSFORMS


@TRANSFORMS.register_module()
class SimMIMMaskGenerator(BaseTransform):
    """Random block mask of SimMIM over the token grid of the model.

    The image is cut into a grid of ``input_size / mask_patch_size`` cells per side;
    ``ceil(cells * mask_ratio)`` of them, picked by a random permutation, are masked, and the
    cell mask is repeated ``mask_patch_size / model_patch_size`` times along both axes to the
    ``input_size / model_patch_size`` token grid of the model. With the defaults, 22 of the
    36 cells of 32 px are masked, which gives a 48x48 token mask.

    Added key: ``mask`` (np.ndarray of uint8, 1 = masked), shape (tokens, tokens). Pack it
    into the data sample with ``dict(type='PackInputs')``, which turns it into a tensor
    (listing it in ``algorithm_keys`` would overwrite that with the raw array).

    Randomness:

    - ``seed=None`` (training): draws from numpy's global RNG. mmengine seeds it in every
      dataloader worker from ``randomness=dict(seed=...)``, so a seeded run is reproducible
      and the workers do not repeat each other's masks.
    - ``seed=int`` (validation): the mask of a sample depends only on ``seed`` and the
      sample's ``sample_idx`` (set by mmengine's datasets), so every evaluation of the same
      set sees the same masks whatever the number or order of workers. Without a
      ``sample_idx`` the transform draws from its own generator seeded once with ``seed``
      (each dataloader worker then holds a copy of it, so use ``sample_idx`` with workers).

    Args:
        input_size (int): Side of the (square) input image in pixels. Defaults to 192.
        mask_patch_size (int): Side of a masked cell in pixels; must divide ``input_size``.
            Defaults to 32.
        model_patch_size (int): Patch size of the model's patch embedding; must divide
            ``mask_patch_size``. Defaults to 4.
        mask_ratio (float): Fraction of cells to mask, in (0, 1). Defaults to 0.6.
        seed (int, optional): Makes masks deterministic per sample (see above).
            Defaults to None.
    """

    def __init__(self,
                 input_size: int = 192,
                 mask_patch_size: int = 32,
                 model_patch_size: int = 4,
                 mask_ratio: float = 0.6,
                 seed: Optional[int] = None) -> None:
        sizes = dict(input_size=input_size, mask_patch_size=mask_patch_size,
                     model_patch_size=model_patch_size)
        for name, value in sizes.items():
            if (not isinstance(value, numbers.Integral) or isinstance(value, bool)
                    or value <= 0):
                raise ValueError(f'{name} must be a positive integer, got {value!r}')
        if input_size % mask_patch_size:
            raise ValueError(f'input_size={input_size} is not divisible by '
                             f'mask_patch_size={mask_patch_size}')
        if mask_patch_size % model_patch_size:
            raise ValueError(f'mask_patch_size={mask_patch_size} is not divisible by '
                             f'model_patch_size={model_patch_size}')
        if (not isinstance(mask_ratio, numbers.Real) or isinstance(mask_ratio, bool)
                or not 0 < mask_ratio < 1):
            raise ValueError(f'mask_ratio must be in (0, 1), got {mask_ratio!r}')
        if seed is not None and (not isinstance(seed, numbers.Integral) or seed < 0):
            raise ValueError(f'seed must be None or a non-negative integer, got {seed!r}')

        self.input_size = int(input_size)
        self.mask_patch_size = int(mask_patch_size)
        self.model_patch_size = int(model_patch_size)
        self.mask_ratio = float(mask_ratio)
        self.seed = seed

        self.cells_per_side = self.input_size // self.mask_patch_size
        self.num_cells = self.cells_per_side**2
        # Rounding first keeps float noise from adding a cell: 0.07 * 100 is
        # 7.000000000000001 in binary floating point, and its ceil would be 8.
        self.num_masked = math.ceil(round(self.num_cells * self.mask_ratio, 9))
        self.scale = self.mask_patch_size // self.model_patch_size
        self._rng = None if seed is None else np.random.default_rng(seed)

    def _generator(self, results: Dict):
        if self.seed is None:
            return np.random  # the global RNG, seeded per worker by mmengine
        if results.get('sample_idx') is not None:
            return np.random.default_rng([self.seed, int(results['sample_idx'])])
        return self._rng

    def transform(self, results: Dict) -> Dict:
        """Draw a mask and store it under ``results['mask']``."""
        masked_cells = self._generator(results).permutation(self.num_cells)[:self.num_masked]
        cell_mask = np.zeros(self.num_cells, dtype=np.uint8)
        cell_mask[masked_cells] = 1
        cell_mask = cell_mask.reshape(self.cells_per_side, self.cells_per_side)
        results['mask'] = cell_mask.repeat(self.scale, axis=0).repeat(self.scale, axis=1)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(input_size={self.input_size}, '
                f'mask_patch_size={self.mask_patch_size}, '
                f'model_patch_size={self.model_patch_size}, '
                f'mask_ratio={self.mask_ratio}, seed={self.seed})')
