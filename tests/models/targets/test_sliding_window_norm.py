"""The normalised target equals SimMIM's avg-pool formula, computed independently here."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from skimage import data as skdata

from mim_scaling.models.targets import SlidingWindowNormTarget
from mim_scaling.registry import MODELS

IMAGENET_MEAN = np.array([123.675, 116.28, 103.53])
IMAGENET_STD = np.array([58.395, 57.12, 57.375])


def avg_pool_formula(x, window_size=47, eps=1e-6):
    """The reference implementation's formula, written plainly with avg_pool2d."""
    pad = window_size // 2
    mean = F.avg_pool2d(x, window_size, stride=1, padding=pad, count_include_pad=False)
    mean_sq = F.avg_pool2d(x**2, window_size, stride=1, padding=pad, count_include_pad=False)
    # With count_include_pad=True the divisor is window_size**2, so this counts valid pixels.
    count = F.avg_pool2d(torch.ones_like(x), window_size, stride=1, padding=pad,
                         count_include_pad=True) * window_size**2
    var = ((mean_sq - mean**2) * count / (count - 1)).clamp(min=0)
    return (x - mean) / (var + eps).sqrt()


def photo(name, crop):
    """A crop of a scikit-image sample photo, ImageNet-normalised, as (1, 3, H, W)."""
    top, left, height, width = crop
    img = getattr(skdata, name)()[top:top + height, left:left + width].astype(np.float64)
    img = (img - IMAGENET_MEAN) / IMAGENET_STD
    return torch.from_numpy(img).permute(2, 0, 1)[None].float()


def test_build_from_registry():
    target = MODELS.build(dict(type='mim_scaling.SlidingWindowNormTarget', window_size=31))
    assert isinstance(target, SlidingWindowNormTarget)
    assert target.window_size == 31 and target.eps == 1e-6


@pytest.mark.parametrize('shape, window_size', [
    ((2, 3, 64, 64), 47),
    ((1, 3, 50, 70), 47),   # not square
    ((2, 1, 20, 30), 47),   # smaller than the window in both directions
    ((1, 2, 60, 12), 47),   # taller than the window, narrower than it
    ((2, 3, 33, 41), 7),
    ((1, 3, 16, 16), 3),
])
def test_equals_avg_pool_formula_on_random_data(shape, window_size):
    torch.manual_seed(0)
    x = torch.randn(shape) * 2 + 0.5
    expected = avg_pool_formula(x.double(), window_size)
    out = SlidingWindowNormTarget(window_size)(x)
    torch.testing.assert_close(out.double(), expected, rtol=0, atol=1e-4)


@pytest.mark.parametrize('name, crop', [
    ('astronaut', (0, 0, 128, 160)),    # flat studio background on the left
    ('coffee', (100, 200, 144, 112)),
    ('chelsea', (60, 120, 160, 160)),
])
def test_equals_avg_pool_formula_on_photos(name, crop):
    x = photo(name, crop)
    expected = avg_pool_formula(x.double())
    out = SlidingWindowNormTarget(47)(x)
    torch.testing.assert_close(out.double(), expected, rtol=0, atol=1e-4)


def test_precise_in_nearly_flat_regions():
    # A small local spread on a large offset: mean(x^2) - mean^2 cancels almost entirely, so
    # float32 sums are far off after division by sqrt(var + eps); float64 sums are not.
    torch.manual_seed(0)
    x = 2.2 + 1e-3 * torch.randn(2, 3, 64, 64)
    expected = avg_pool_formula(x.double())
    out = SlidingWindowNormTarget(47)(x)
    torch.testing.assert_close(out.double(), expected, rtol=0, atol=1e-4)
    float32_error = (avg_pool_formula(x).double() - expected).abs().max()
    assert float32_error > 1e-2  # the case really needs the extra precision


@pytest.mark.parametrize('value', [0.0, 2.2489, -1.7])
def test_flat_image_gives_zeros(value):
    x = torch.full((2, 3, 40, 56), value)
    out = SlidingWindowNormTarget(47)(x)
    torch.testing.assert_close(out, torch.zeros_like(x), rtol=0, atol=1e-6)


def test_window_of_one_pixel_gives_zeros():
    # A single pixel has no spread: the unbiased variance would be 0/0.
    out = SlidingWindowNormTarget(1)(torch.randn(1, 3, 8, 8))
    assert torch.equal(out, torch.zeros_like(out))


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64, torch.float16, torch.bfloat16])
def test_keeps_shape_and_dtype(dtype):
    x = torch.randn(2, 3, 24, 40).to(dtype)
    out = SlidingWindowNormTarget(47)(x)
    assert out.shape == x.shape and out.dtype == dtype
    expected = avg_pool_formula(x.double()).to(dtype)
    tol = dict(rtol=0, atol=1e-4) if dtype in (torch.float32, torch.float64) else {}
    torch.testing.assert_close(out, expected, **tol)


def test_is_a_constant_target_without_gradient():
    x = torch.randn(1, 3, 32, 32, requires_grad=True)
    out = SlidingWindowNormTarget(47)(x)
    assert not out.requires_grad and out.grad_fn is None


@pytest.mark.parametrize('window_size', [0, -3, 4, 46, 4.0, True, '47'])
def test_rejects_bad_window_size(window_size):
    with pytest.raises(ValueError, match='window_size must be a positive odd integer'):
        MODELS.build(dict(type='mim_scaling.SlidingWindowNormTarget', window_size=window_size))


def test_rejects_negative_eps():
    with pytest.raises(ValueError, match='eps must be non-negative'):
        SlidingWindowNormTarget(47, eps=-1e-6)


def test_rejects_bad_input():
    target = SlidingWindowNormTarget(47)
    with pytest.raises(ValueError, match=r'shape \(N, C, H, W\)'):
        target(torch.randn(3, 32, 32))
    with pytest.raises(ValueError, match='floating-point'):
        target(torch.zeros(1, 3, 32, 32, dtype=torch.uint8))


def test_denormalize_with_every_pixel_visible_inverts_the_target():
    target = SlidingWindowNormTarget(window_size=7)
    images = torch.randn(2, 3, 20, 24)
    visible = torch.ones(2, 1, 20, 24)
    torch.testing.assert_close(target.denormalize(target(images), images, visible), images,
                               atol=1e-5, rtol=1e-5)


def visible_avg_pool_formula(x, visible, window_size=47, eps=1e-6):
    """Mean and std over the visible pixels of each window, written plainly with avg_pool2d:
    with count_include_pad=True every pool divides by window_size**2, which cancels."""
    pad = window_size // 2

    def pool(t):
        return F.avg_pool2d(t, window_size, stride=1, padding=pad, count_include_pad=True)

    count = pool(visible) * window_size**2
    mean = pool(x * visible) / pool(visible)
    mean_sq = pool(x * x * visible) / pool(visible)
    var = ((mean_sq - mean**2) * count / (count - 1)).clamp(min=0)
    return mean, (var + eps).sqrt(), count


def block_mask(n, size, cell, seed):
    """(N, 1, size, size) visible pixels of SimMIM's block mask: 60% of the cells hidden."""
    g = torch.Generator().manual_seed(seed)
    cells = (size // cell) ** 2
    visible = torch.ones(n, cells)
    for v in visible:
        v[torch.randperm(cells, generator=g)[:int(np.ceil(0.6 * cells))]] = 0
    visible = visible.view(n, 1, size // cell, size // cell)
    return visible.repeat_interleave(cell, 2).repeat_interleave(cell, 3)


def test_visible_statistics_equal_the_masked_avg_pool_formula():
    torch.manual_seed(0)
    x = (torch.randn(4, 3, 96, 96) * 2 + 0.5).double()
    visible = block_mask(4, 96, 16, seed=1).double()
    mean, std = SlidingWindowNormTarget(15).visible_statistics(x, visible)
    expected_mean, expected_std, count = visible_avg_pool_formula(x, visible, 15)
    # 16-px cells and 15-px windows: windows inside hidden cells see no visible pixel
    enough = (count >= 2).expand_as(x)
    assert not enough.all()
    torch.testing.assert_close(mean[enough], expected_mean[enough], rtol=0, atol=1e-8)
    torch.testing.assert_close(std[enough], expected_std[enough], rtol=0, atol=1e-8)
    # ... where the visible pixels of the whole image and channel stand in
    v = visible.bool().expand_as(x)
    for i, c in ((0, 0), (3, 2)):
        pixels = x[i, c][v[i, c]]
        few = ~enough[i, c]
        assert torch.allclose(mean[i, c][few], pixels.mean())
        assert torch.allclose(std[i, c][few], (pixels.var() + 1e-6).sqrt())


def test_a_zero_prediction_shows_nothing_of_the_hidden_pixels():
    """A bright square hidden under the mask, on a dim, textured background: predicting zero
    for the target must draw the same whatever the hidden pixels hold. The statistics of
    the whole image would draw the square, blurred."""
    torch.manual_seed(0)
    background = 0.1 * torch.randn(1, 3, 96, 96)
    visible = torch.ones(1, 1, 96, 96)
    visible[..., 32:64, 32:64] = 0
    hidden_square = background.clone()
    hidden_square[..., 36:60, 36:60] = 3.0
    target = SlidingWindowNormTarget(47)
    zero = torch.zeros_like(background)
    drawn = target.denormalize(zero, hidden_square, visible)
    torch.testing.assert_close(drawn, target.denormalize(zero, background, visible),
                               rtol=0, atol=1e-6)
    # With the whole image's statistics the square shows through: what the fix removes.
    whole_image_mean, _ = target.local_statistics(hidden_square)
    assert whole_image_mean[..., 48, 48].min() > 0.5 > drawn[..., 48, 48].abs().max()


def test_visible_statistics_reject_a_mask_that_does_not_fit():
    target = SlidingWindowNormTarget(47)
    images = torch.randn(2, 3, 32, 32)
    with pytest.raises(ValueError, match=r'visible of shape \(N, 1 or C, H, W\)'):
        target.visible_statistics(images, torch.ones(2, 1, 16, 16))
    with pytest.raises(ValueError, match='at least two visible pixels'):
        target.visible_statistics(images, torch.zeros(2, 1, 32, 32))
