"""LoadImageRandomResizedCrop: mmpretrain's crops, the reference's resampling, less decoding."""
import numpy as np
import pytest
from mmpretrain.datasets.transforms import RandomResizedCrop
from PIL import Image
from scipy.stats import ks_2samp

from mim_scaling.datasets.transforms import LoadImageRandomResizedCrop, UnreadableImageError
from mim_scaling.datasets.transforms.load_random_resized_crop import (dct_reduction,
                                                                      random_crop_box)

SPEC = dict(crop_ratio_range=(0.67, 1.0), aspect_ratio_range=(3. / 4., 4. / 3.))


def photo_like(height, width, seed=0):
    """An RGB image with the 1/f spectrum of photographs (JPEG cost and detail alike)."""
    rng = np.random.default_rng(seed)
    fy, fx = np.fft.fftfreq(height)[:, None], np.fft.rfftfreq(width)[None]
    falloff = np.maximum(np.hypot(fy, fx), 1. / max(height, width))**-1.25
    channels = []
    for _ in range(3):
        spectrum = rng.normal(size=falloff.shape) + 1j * rng.normal(size=falloff.shape)
        channel = np.fft.irfft2(spectrum * falloff, s=(height, width))
        channels.append(channel / channel.std())
    return np.clip(np.stack(channels, -1) * 45 + 120, 0, 255).astype(np.uint8)


def reference(path, seed, scale=192):
    """The reference's pipeline: Pillow decodes in full, mmpretrain crops, Pillow resizes."""
    with Image.open(path) as image:
        rgb = np.asarray(image.convert('RGB'))
    np.random.seed(seed)
    crop = RandomResizedCrop(scale, backend='pillow', interpolation='bilinear', **SPEC)
    return crop(dict(img=np.ascontiguousarray(rgb[..., ::-1])))['img']


def ours(path, seed, **kwargs):
    np.random.seed(seed)
    return LoadImageRandomResizedCrop(192, **SPEC, **kwargs)(dict(img_path=str(path)))


@pytest.mark.parametrize('size', [(375, 500), (500, 333), (100, 400), (64, 64)])
def test_crops_are_mmpretrains_for_the_same_seed(size):
    # (100, 400) is too wide for the aspect ratios: both fall back to the same central crop.
    mmpretrain = RandomResizedCrop(192, **SPEC)
    image = np.empty(size + (0, ), np.uint8)
    np.random.seed(1)
    expected = [mmpretrain.rand_crop_params(image) for _ in range(200)]
    np.random.seed(1)
    assert [random_crop_box(*size, **SPEC) for _ in range(200)] == expected


def test_scale_and_aspect_ratio_distributions_match_mmpretrain():
    height, width, draws = 375, 500, 4000
    mmpretrain = RandomResizedCrop(192, **SPEC)
    image = np.empty((height, width, 0), np.uint8)
    np.random.seed(2)  # independent draws: the test compares distributions, not sequences
    theirs = np.array([mmpretrain.rand_crop_params(image)[2:] for _ in range(draws)], float)
    np.random.seed(3)
    mine = np.array([random_crop_box(height, width, **SPEC)[2:] for _ in range(draws)], float)
    for crops in (theirs, mine):
        scale = crops[:, 0] * crops[:, 1] / (height * width)
        assert 0.66 < scale.min() and scale.max() <= 1.0
    for statistic in (lambda c: c[:, 0] * c[:, 1], lambda c: c[:, 1] / c[:, 0]):
        assert ks_2samp(statistic(mine), statistic(theirs)).pvalue > 0.01
    # and the test can tell another distribution apart (the default scale range 0.08-1):
    np.random.seed(4)
    other = np.array([random_crop_box(height, width)[2:] for _ in range(draws)], float)
    assert ks_2samp(other[:, 0] * other[:, 1], theirs[:, 0] * theirs[:, 1]).pvalue < 1e-6


def test_full_size_decode_equals_the_reference(tmp_path):
    path = tmp_path / 'photo.jpg'
    Image.fromarray(photo_like(375, 500)).save(path, quality=90)
    for seed in range(4):
        results = ours(path, seed)
        expected = reference(path, seed)
        assert results['img'].shape == expected.shape == (192, 192, 3)
        assert results['img'].flags.c_contiguous and results['ori_shape'] == (375, 500)
        diff = np.abs(results['img'].astype(int) - expected)
        # Only rounding differs: PyTorch's and Pillow's fixed-point filters, two decoders.
        assert diff.mean() < 0.3 and diff.max() <= 3, (diff.mean(), diff.max())


def pillow_shortcut(path, seed, size=192, gap=2.0):
    """Pillow's own reduced-scale resize (``Image.thumbnail``'s recipe): DCT scaling by
    ``draft`` to at least ``gap`` times the output, then ``resize(reducing_gap=gap)``."""
    with Image.open(path) as image:
        np.random.seed(seed)
        top, left, h, w = random_crop_box(image.height, image.width, **SPEC)
        full_w, full_h = image.size
        image.draft('RGB', (int(full_w * size * gap / w), int(full_h * size * gap / h)))
        sx, sy = image.width / full_w, image.height / full_h
        box = (left * sx, top * sy, (left + w) * sx, (top + h) * sy)
        rgb = image.convert('RGB').resize((size, size), Image.BILINEAR, box=box,
                                          reducing_gap=gap)
    return np.asarray(rgb)[..., ::-1]


def test_large_images_are_decoded_at_reduced_scale_as_closely_as_pillows_shortcut(tmp_path):
    assert dct_reduction(1000, 1400, 192, 192, 2.0) == 2
    assert dct_reduction(3100, 3100, 192, 192, 2.0) == 8
    assert dct_reduction(383, 1000, 192, 192, 2.0) == 1  # 383 / 2 < 192: full size
    assert dct_reduction(3100, 3100, 192, 192, None) == 1
    path = tmp_path / 'large.jpg'
    Image.fromarray(photo_like(1200, 1600)).save(path, quality=90)
    errors = {'ours': [], 'exact': [], 'pillow': []}
    for seed in range(3):
        np.random.seed(seed)
        assert dct_reduction(*random_crop_box(1200, 1600, **SPEC)[2:], 192, 192, 2.0) > 1
        expected = reference(path, seed).astype(int)
        for name, crop in (('ours', ours(path, seed)['img']),
                           ('exact', ours(path, seed, reducing_gap=None)['img']),
                           ('pillow', pillow_shortcut(path, seed))):
            errors[name].append(np.abs(crop.astype(int) - expected).mean())
    assert np.mean(errors['exact']) < 0.3
    assert 0 < np.mean(errors['ours']) <= np.mean(errors['pillow'])


def test_other_formats_and_grey_jpegs(tmp_path):
    rgb = photo_like(120, 160)
    Image.fromarray(rgb).save(tmp_path / 'photo.png')
    Image.fromarray(rgb[..., 0]).save(tmp_path / 'grey.jpg', quality=90)
    png = ours(tmp_path / 'photo.png', 0)
    np.testing.assert_allclose(png['img'], reference(tmp_path / 'photo.png', 0), atol=3)
    grey = ours(tmp_path / 'grey.jpg', 0)['img']
    assert grey.shape == (192, 192, 3) and (grey[..., 0] == grey[..., 2]).all()


def test_unreadable_files_are_named(tmp_path):
    Image.fromarray(photo_like(120, 160)).save(tmp_path / 'good.jpg', quality=90)
    data = (tmp_path / 'good.jpg').read_bytes()
    (tmp_path / 'truncated.jpg').write_bytes(data[:len(data) // 2])
    (tmp_path / 'empty.jpg').write_bytes(b'')
    (tmp_path / 'text.jpg').write_bytes(b'not an image at all')
    (tmp_path / 'bad_header.jpg').write_bytes(data[:2] + b'\x00' * 64)
    for name in ('missing.jpg', 'truncated.jpg', 'empty.jpg', 'text.jpg', 'bad_header.jpg'):
        with pytest.raises(UnreadableImageError, match=name):
            ours(tmp_path / name, 0)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match='reducing_gap'):
        LoadImageRandomResizedCrop(192, reducing_gap=0.5)
    with pytest.raises(ValueError, match='crop_ratio_range'):
        LoadImageRandomResizedCrop(192, crop_ratio_range=(1.0, 0.5))


@pytest.mark.parametrize('kind', ['PNG', 'CMYK JPEG', 'JPEG'])
def test_exif_orientation_is_not_applied_to_any_format(tmp_path, kind):
    # Pixels stored 40 rows x 60 columns, with an EXIF tag saying "rotate by 90 degrees",
    # which OpenCV (the transform's decoder for PNGs and CMYK JPEGs) would apply.
    pixels = photo_like(40, 60)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / ('image.png' if kind == 'PNG' else 'image.jpg')
    image = Image.fromarray(pixels).convert('CMYK' if kind == 'CMYK JPEG' else 'RGB')
    image.save(path, exif=exif.tobytes(), **({} if kind == 'PNG' else dict(quality=95)))
    with Image.open(path) as stored:
        assert stored.getexif()[0x0112] == 6
        expected = np.asarray(stored.convert('RGB'))[..., ::-1]  # Pillow ignores the tag
    np.random.seed(0)
    crop = LoadImageRandomResizedCrop((40, 60), crop_ratio_range=(1, 1),
                                      aspect_ratio_range=(1.5, 1.5))(dict(img_path=str(path)))
    assert crop['ori_shape'] == (40, 60)
    assert np.abs(crop['img'].astype(int) - expected).mean() < 1.5  # decoders' rounding
