"""SimMIM's block mask: cell counts, shapes, randomness, errors, and the mmpretrain pipeline."""
import numpy as np
import pytest
import torch
from mmengine.dataset import Compose
from mmengine.registry import DefaultScope
from PIL import Image
from skimage import data as skdata

from mim_scaling.datasets.transforms import SimMIMMaskGenerator
from mim_scaling.registry import TRANSFORMS


def build(**kwargs):
    return TRANSFORMS.build(dict(type='mim_scaling.SimMIMMaskGenerator', **kwargs))


def cell_mask(mask, scale):
    """The cell grid behind a token mask, checking that each cell is uniform."""
    side = mask.shape[0] // scale
    blocks = mask.reshape(side, scale, side, scale)
    cells = blocks[:, 0, :, 0]
    assert (blocks == cells[:, None, :, None]).all(), 'a cell is not uniformly (un)masked'
    return cells


def test_defaults_mask_22_of_36_cells_on_a_48x48_grid():
    transform = build()
    assert isinstance(transform, SimMIMMaskGenerator)
    mask = transform(dict(sample_idx=0))['mask']
    assert isinstance(mask, np.ndarray) and mask.dtype == np.uint8
    assert mask.shape == (48, 48)
    assert set(np.unique(mask)) == {0, 1}
    cells = cell_mask(mask, 8)
    assert cells.shape == (6, 6) and cells.sum() == 22
    assert mask.sum() == 22 * 8 * 8


@pytest.mark.parametrize('sizes, tokens, scale, masked_cells', [
    (dict(input_size=224, mask_patch_size=32, model_patch_size=4, mask_ratio=0.6), 56, 8, 30),
    (dict(input_size=192, mask_patch_size=32, model_patch_size=4, mask_ratio=0.75), 48, 8, 27),
    (dict(input_size=224, mask_patch_size=16, model_patch_size=16, mask_ratio=0.4), 14, 1, 79),
    (dict(input_size=96, mask_patch_size=32, model_patch_size=8, mask_ratio=0.5), 12, 4, 5),
    (dict(input_size=64, mask_patch_size=64, model_patch_size=4, mask_ratio=0.1), 16, 16, 1),
    # 100 * 0.07 is 7.000000000000001 in floating point: still 7 cells, not 8.
    (dict(input_size=100, mask_patch_size=10, model_patch_size=5, mask_ratio=0.07), 20, 2, 7),
])
def test_other_sizes_and_ratios(sizes, tokens, scale, masked_cells):
    mask = build(**sizes)(dict(sample_idx=3))['mask']
    assert mask.shape == (tokens, tokens)
    assert cell_mask(mask, scale).sum() == masked_cells


def test_every_cell_is_equally_likely():
    np.random.seed(0)
    transform = build()
    freq = np.mean([cell_mask(transform({})['mask'], 8) for _ in range(3000)], axis=0)
    # 22/36 = 0.611; the binomial standard error over 3000 draws is 0.009.
    np.testing.assert_allclose(freq, 22 / 36, atol=0.04)


def test_seed_and_sample_idx_fix_the_mask_whatever_the_order():
    first, second = build(seed=7), build(seed=7)
    forward = [first(dict(sample_idx=i))['mask'] for i in range(10)]
    backward = [second(dict(sample_idx=i))['mask'] for i in reversed(range(10))][::-1]
    again = [first(dict(sample_idx=i))['mask'] for i in range(10)]  # a second epoch
    for a, b, c in zip(forward, backward, again):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    assert len({m.tobytes() for m in forward}) == 10  # different across samples
    other_seed = build(seed=8)(dict(sample_idx=0))['mask']
    assert not np.array_equal(other_seed, forward[0])


def test_seed_without_sample_idx_gives_a_reproducible_sequence():
    first, second = build(seed=3), build(seed=3)
    seq_a = [first({})['mask'] for _ in range(5)]
    seq_b = [second({})['mask'] for _ in range(5)]
    for a, b in zip(seq_a, seq_b):
        np.testing.assert_array_equal(a, b)
    assert len({m.tobytes() for m in seq_a}) == 5


def test_without_seed_follows_numpys_global_rng():
    # mmengine seeds numpy's global RNG (per worker) from randomness=dict(seed=...).
    transform = build()
    np.random.seed(123)
    seq_a = [transform(dict(sample_idx=i))['mask'] for i in range(5)]
    np.random.seed(123)
    seq_b = [transform(dict(sample_idx=i))['mask'] for i in range(5)]
    for a, b in zip(seq_a, seq_b):
        np.testing.assert_array_equal(a, b)
    assert len({m.tobytes() for m in seq_a}) == 5


@pytest.mark.parametrize('kwargs, message', [
    (dict(input_size=200), 'input_size=200 is not divisible by mask_patch_size=32'),
    (dict(mask_patch_size=30), 'input_size=192 is not divisible by mask_patch_size=30'),
    (dict(mask_patch_size=32, model_patch_size=5),
     'mask_patch_size=32 is not divisible by model_patch_size=5'),
    (dict(mask_ratio=0.0), r'mask_ratio must be in \(0, 1\), got 0.0'),
    (dict(mask_ratio=1.0), r'mask_ratio must be in \(0, 1\), got 1.0'),
    (dict(mask_ratio=-0.5), r'mask_ratio must be in \(0, 1\), got -0.5'),
    (dict(mask_ratio=60), r'mask_ratio must be in \(0, 1\), got 60'),
    (dict(input_size=0), 'input_size must be a positive integer, got 0'),
    (dict(mask_patch_size=-32), 'mask_patch_size must be a positive integer, got -32'),
    (dict(model_patch_size=0), 'model_patch_size must be a positive integer, got 0'),
    (dict(input_size=192.0), 'input_size must be a positive integer, got 192.0'),
    (dict(seed=-1), 'seed must be None or a non-negative integer, got -1'),
])
def test_impossible_settings_fail_at_build(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build(**kwargs)


def test_repr():
    assert repr(build(input_size=224, mask_ratio=0.5, seed=1)) == (
        'SimMIMMaskGenerator(input_size=224, mask_patch_size=32, model_patch_size=4, '
        'mask_ratio=0.5, seed=1)')


@pytest.mark.parametrize('pack', [
    dict(type='PackInputs'),
    dict(type='PackInputs', algorithm_keys=['mask']),
])
def test_mask_reaches_the_data_sample_through_mmpretrain_pipeline(tmp_path, pack):
    path = tmp_path / 'chelsea.png'
    Image.fromarray(skdata.chelsea()).save(path)  # a 300x451 photo
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        pipeline = Compose([
            dict(type='LoadImageFromFile'),
            dict(type='RandomResizedCrop', scale=192, crop_ratio_range=(0.67, 1.0),
                 aspect_ratio_range=(3 / 4, 4 / 3)),
            dict(type='RandomFlip', prob=0.5),
            dict(type='mim_scaling.SimMIMMaskGenerator', input_size=192, mask_patch_size=32,
                 model_patch_size=4, mask_ratio=0.6, seed=0),
            pack,
        ])
    packed = pipeline(dict(img_path=str(path), sample_idx=5))
    assert packed['inputs'].shape == (3, 192, 192)
    mask = packed['data_samples'].mask
    assert mask.shape == (48, 48)
    expected = build(seed=0)(dict(sample_idx=5))['mask']
    np.testing.assert_array_equal(np.asarray(mask), expected)
    if 'algorithm_keys' not in pack:
        # PackInputs turns ``mask`` into a tensor by itself; listing it in algorithm_keys
        # overwrites that tensor with the raw array.
        assert isinstance(mask, torch.Tensor)
