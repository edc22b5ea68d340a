"""The GPU data path's device part, run on the CPU: the batch it makes from encoded files
equals the CPU pipeline's on real photographs, and unreadable files are named or skipped."""
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.dataset import default_collate, pseudo_collate
from mmengine.logging import MessageHub
from mmengine.registry import DefaultScope
from PIL import Image

from mim_scaling.datasets.transforms import UnreadableImageError
from mim_scaling.models.data_preprocessors import device_decode
from mim_scaling.registry import MODELS

sys.path.insert(0, str(Path(__file__).parents[2]))
from gpu_data_path import (LARGE, configs, corrupt_jpeg, load, pipelines,  # noqa: E402
                           write_other_kinds, write_photographs)

KEYS = [(0, 0, 1), (0, 1, 2), (3, 0, 5), (3, 2, 8)]


@pytest.fixture(scope='module')
def setting(tmp_path_factory):
    folder = tmp_path_factory.mktemp('photographs')
    cpu_cfg, gpu_cfg = configs()
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        cpu_pre = MODELS.build(cpu_cfg.model.data_preprocessor)
        gpu_pre = MODELS.build(gpu_cfg.model.data_preprocessor)
    return dict(folder=folder, photos=write_photographs(folder),
                large=write_photographs(folder, [LARGE])[0], others=write_other_kinds(folder),
                pipelines=pipelines(), cpu_pre=cpu_pre, gpu_pre=gpu_pre)


def both_paths(setting, paths):
    """(the CPU pipeline's batch, the GPU path's batch) of the same files and draws, in grey
    levels (normalisation undone), and the GPU path's data samples."""
    cpu, gpu = setting['pipelines']
    samples = [(path, key) for path in paths for key in KEYS]
    cpu_batch = default_collate([load(cpu, path, key) for path, key in samples])
    gpu_batch = pseudo_collate([load(gpu, path, key) for path, key in samples])
    grey_levels = []
    for pre, batch in ((setting['cpu_pre'], cpu_batch), (setting['gpu_pre'], gpu_batch)):
        out = pre(batch, True)
        grey_levels.append(out['inputs'] * pre.std + pre.mean)
    return (*grey_levels, gpu_batch['data_samples'])


def reference(path, box, flip):
    """The reference's crop (torchvision's ``resized_crop`` of a Pillow image), unrounded:
    Pillow decodes the file in full, and its bilinear filter resizes each channel of the
    crop in float32 (mode 'F')."""
    top, left, height, width = box
    with Image.open(path) as image:
        rgb = np.asarray(image.convert('RGB'), np.float32)[top:top + height, left:left + width]
    channels = [np.asarray(Image.fromarray(np.ascontiguousarray(rgb[..., c]), 'F').resize(
        (192, 192), Image.BILINEAR)) for c in range(3)]
    crop = np.stack(channels)
    return torch.from_numpy(crop[..., ::-1].copy() if flip else crop)


def references(paths, samples):
    return torch.stack([reference(path, sample.crop_box, sample.flip)
                        for path, sample in zip([p for p in paths for _ in KEYS], samples)])


def test_images_equal_the_cpu_pipelines_on_photographs(setting):
    photos = setting['photos']
    cpu, gpu, samples = both_paths(setting, photos)
    assert gpu.shape == cpu.shape == (16, 3, 192, 192) and gpu.dtype == torch.float32
    assert all('crop_box' in s for s in samples)  # all decoded by the data preprocessor
    diff = (gpu - cpu).abs()
    # Measured: mean 0.26, largest 0.99 grey levels: the CPU pipeline rounds its resize to
    # uint8 and resizes with PyTorch's fixed-point uint8 kernel; the GPU path resizes the
    # same libjpeg-turbo pixels in float32.
    assert diff.mean() < 0.3 and diff.max() < 1.0, (diff.mean(), diff.max())
    # A one-pixel shift of the box, or a flip left out, is far off: the test can tell.
    assert (gpu - cpu.roll(1, dims=-1)).abs().mean() > 3
    assert (gpu - cpu.flip(-1)).abs().mean() > 10
    # Against Pillow's float resize of the crop (an independent implementation of the same
    # triangle filter), measured: largest difference 0.002 grey levels.
    assert (gpu - references(photos, samples)).abs().max() < 0.01


def test_large_photographs_are_decoded_at_full_size_as_by_the_reference(setting):
    # At 1600x1200 the CPU pipeline decodes at 1/2 or 1/4 scale where the crop allows;
    # nvJPEG has no reduced-scale decoding, so the GPU path resizes from full size.
    cpu, gpu, samples = both_paths(setting, [setting['large']])
    expected = references([setting['large']], samples)
    # Measured: 0.003 grey levels at most; reduced-scale decoding: 0.33 on average.
    assert (gpu - expected).abs().max() < 0.01
    assert (gpu - cpu).abs().mean() < 0.5


def test_files_the_device_cannot_take_are_decoded_by_the_workers_and_counted(setting):
    others = setting['others']
    hub = MessageHub.get_current_instance()
    cpu, gpu, samples = both_paths(setting, [setting['photos'][0], *others.values()])
    assert (gpu - cpu).abs().max() <= 1.5
    assert [s.get('decoded_on_cpu') for s in samples] == [None] * 4 + [
        kind if kind != 'PNG' else 'not a JPEG' for kind in others for _ in KEYS]
    assert hub.get_scalar('train/decoded_on_cpu').current() == 16  # of this batch


def test_a_file_the_device_decoder_refuses_is_decoded_on_the_cpu(setting, monkeypatch):
    photos = setting['photos'][:3]
    encoded = [torch.from_numpy(np.frombuffer(p.read_bytes(), np.uint8).copy()) for p in photos]
    real = device_decode.decode_jpeg

    def refusing_device(data, mode, device='cpu'):  # a device decoder refusing photos[1]
        if torch.device(device).type == 'cpu':
            return real(data, mode=mode)
        if any(d is encoded[1] for d in (data if isinstance(data, list) else [data])):
            raise RuntimeError('Error while decoding JPEG images: unsupported')
        return ([real(d, mode=mode).to(device) for d in data] if isinstance(data, list)
                else real(data, mode=mode).to(device))

    monkeypatch.setattr(device_decode, 'decode_jpeg', refusing_device)
    images, notes = device_decode.decode_jpegs(encoded, 'meta')
    assert notes == ['', device_decode.REFUSED, '']
    assert [image.device.type for image in images] == ['meta'] * 3


def test_a_corrupt_file_is_named_or_skipped_and_reported(setting):
    photos, folder = setting['photos'], setting['folder']
    bad = corrupt_jpeg(folder / 'bad_table.jpg', photos[0])
    _, gpu = setting['pipelines']
    keys = [(0, 0, 0), (0, 0, 1), (0, 0, 2)]
    batch = pseudo_collate([load(gpu, path, key)
                            for path, key in zip([photos[1], bad, photos[2]], keys)])
    with pytest.raises(UnreadableImageError) as info:
        setting['gpu_pre'](batch, True)
    assert info.value.path == str(bad) and 'Bogus Huffman table' in info.value.reason

    skipping = MODELS.build(dict(configs()[1].model.data_preprocessor, skip_unreadable=True))
    out = skipping(batch, True)['inputs']
    assert out.shape == (3, 3, 192, 192) and torch.isfinite(out).all()
    assert torch.equal(out[1], out[2])  # the next sample's image in its place
    (path, reason), = skipping.new_reports()
    assert path == str(bad) and 'corrupt JPEG data' in reason
    assert skipping.new_reports() == []
