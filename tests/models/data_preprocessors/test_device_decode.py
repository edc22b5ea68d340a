"""The GPU data path's device part, run on the CPU: the batch it makes from encoded files
equals the CPU pipeline's on real photographs, and unreadable files are named or skipped."""
import sys
import weakref
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.dataset import default_collate, pseudo_collate
from mmengine.logging import MessageHub
from mmengine.registry import DefaultScope
from PIL import Image

from mim_scaling.datasets.transforms import UnreadableImageError
from mim_scaling.models.data_preprocessors import device_decode
from mim_scaling.registry import MODELS

sys.path.insert(0, str(Path(__file__).parents[2]))
from gpu_data_path import (LARGE, configs, corrupt_jpeg, cut_scan_data, load,  # noqa: E402
                           pipelines, taller_frame, write_other_kinds, write_photographs)

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
    images, notes = device_decode.decode_jpegs(encoded, [str(p) for p in photos], 'meta')
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


def encoded_files(paths):
    return [torch.from_numpy(np.frombuffer(p.read_bytes(), np.uint8).copy()) for p in paths]


class RecordingDevice:
    """A CUDA device's decoder stood in for by the CPU's: records each batched call (and
    each synchronisation of the caller's stream), refuses ``refused`` files, and runs out
    of memory with ``out_of_memory``."""

    def __init__(self, monkeypatch, encoded, refused=(), out_of_memory=None):
        self.calls, self.encoded = [], encoded
        self.refused, self.out_of_memory = refused, out_of_memory
        real = device_decode.decode_jpeg

        def decode(data, mode, device='cpu'):
            assert torch.device(device).type == 'cuda' and isinstance(data, list)
            self.calls.append(sorted(self.index(d) for d in data))
            if self.out_of_memory is not None:
                raise self.out_of_memory
            if any(self.index(d) in self.refused for d in data):
                raise RuntimeError('Error while decoding JPEG images: Failed to decode batch: 4')
            return [real(d, mode=mode) for d in data]

        class Stream:
            def synchronize(stream):
                self.calls.append('synchronize')

        monkeypatch.setattr(device_decode, 'decode_jpeg', decode)
        monkeypatch.setattr(torch.cuda, 'current_stream', lambda device=None: Stream())

    def index(self, data):
        return next(i for i, d in enumerate(self.encoded) if d is data)


def test_the_callers_stream_is_drained_before_every_device_decode(setting, monkeypatch):
    photos = setting['photos']
    encoded = encoded_files(photos)
    device = RecordingDevice(monkeypatch, encoded)
    images, notes = device_decode.decode_jpegs(encoded, [str(p) for p in photos], 'cuda')
    assert device.calls == ['synchronize', [0, 1, 2, 3]] and notes == [''] * 4


def test_a_refused_file_is_remembered_and_the_rest_of_its_batch_decoded_batched(
        setting, monkeypatch):
    photos = setting['photos'] * 2  # 8 files, the 6th refused
    encoded = encoded_files(photos)
    paths = [f'{p}#{i}' for i, p in enumerate(photos)]
    device = RecordingDevice(monkeypatch, encoded, refused={5})
    refused = set()
    monkeypatch.setattr(torch.Tensor, 'to', lambda self, *args, **kwargs: self)  # 'cuda'
    images, notes = device_decode.decode_jpegs(encoded, paths, 'cuda', refused)
    assert notes == [''] * 5 + [device_decode.REFUSED] + [''] * 2
    assert refused == {paths[5]} and all(image is not None for image in images)
    decodes = [call for call in device.calls if call != 'synchronize']
    assert len(device.calls) == 2 * len(decodes)  # each one after a synchronisation
    # Halved down to the file at fault: the 7 others in 3 batched calls, not one by one.
    assert decodes == [list(range(8)), [0, 1, 2, 3], [4, 5, 6, 7], [4, 5], [4], [5], [6, 7]]
    expected = torch.from_numpy(np.array(Image.open(photos[5]).convert('RGB')))
    assert (images[5].permute(1, 2, 0).int() - expected.int()).abs().max() <= 1

    device.calls.clear()  # drawn again: straight to the CPU, the others in one call
    _, notes = device_decode.decode_jpegs(encoded, paths, 'cuda', refused)
    assert device.calls == ['synchronize', [0, 1, 2, 3, 4, 6, 7]]
    assert notes[5] == device_decode.REFUSED


@pytest.mark.parametrize('error', [
    torch.OutOfMemoryError('CUDA out of memory. Tried to allocate 2.00 GiB'),
    RuntimeError('Error while decoding JPEG images: CUDA out of memory. Tried to allocate 2 GiB'),
    RuntimeError('Error while decoding JPEG images: Failed to decode batch: 5'),  # allocator
])
def test_running_out_of_memory_in_the_decoder_is_raised_as_such(setting, monkeypatch, error):
    photos = setting['photos'][:2]
    encoded = encoded_files(photos)
    device = RecordingDevice(monkeypatch, encoded, out_of_memory=error)
    refused = set()
    with pytest.raises(torch.OutOfMemoryError):
        device_decode.decode_jpegs(encoded, [str(p) for p in photos], 'cuda', refused)
    assert refused == set() and device.calls == ['synchronize', [0, 1]]  # no retries


def test_running_out_of_memory_in_the_copy_names_no_file(setting, monkeypatch):
    photos = setting['photos'][:2]
    encoded = encoded_files(photos)
    RecordingDevice(monkeypatch, encoded, refused={1})

    def out_of_memory(self, *args, **kwargs):
        raise torch.OutOfMemoryError('CUDA out of memory. Tried to allocate 1.00 MiB')

    monkeypatch.setattr(torch.Tensor, 'to', out_of_memory)
    with pytest.raises(torch.OutOfMemoryError):
        device_decode.decode_jpegs(encoded, [str(p) for p in photos], 'cuda')


@pytest.fixture(scope='module')
def cut_short(setting):
    """{kind: file} of JPEGs whose data stops early but that end with their end marker."""
    folder, source = setting['folder'], setting['photos'][0].read_bytes()
    files = {'scan data cut in half': cut_scan_data(source),
             'header with more rows than the data': taller_frame(source, 600)}
    paths = {}
    for kind, data in files.items():
        paths[kind] = folder / f'{kind.replace(" ", "_")}.jpg'
        paths[kind].write_bytes(data)
    return paths


def test_jpegs_cut_short_before_their_end_marker_are_named_by_both_paths(setting, cut_short):
    cpu, gpu = setting['pipelines']
    photo = setting['photos'][1]
    for kind, path in cut_short.items():
        with pytest.raises(UnreadableImageError, match='premature end of data segment'):
            load(cpu, path, (0, 0, 0))
        batch = pseudo_collate([load(gpu, p, (0, 0, i)) for i, p in enumerate([photo, path])])
        with pytest.raises(UnreadableImageError) as info:
            setting['gpu_pre'](batch, True)
        assert info.value.path == str(path), kind
        assert 'premature end of data segment' in info.value.reason, kind

    skipping = MODELS.build(dict(configs()[1].model.data_preprocessor, skip_unreadable=True))
    batch = pseudo_collate([load(gpu, p, (0, 0, i))
                            for i, p in enumerate([photo, *cut_short.values()])])
    out = skipping(batch, True)['inputs']
    assert torch.equal(out[1], out[0]) and torch.equal(out[2], out[0])
    assert [path for path, _ in skipping.new_reports()] == [str(p) for p in cut_short.values()]


def test_a_photograph_with_a_grey_corner_is_not_taken_for_a_cut_one(setting):
    pixels = np.asarray(Image.open(setting['photos'][0]).convert('RGB')).copy()
    pixels[-40:, -40:] = 128  # what decoders put where data is missing, but complete
    path = setting['folder'] / 'grey_corner.jpg'
    Image.fromarray(pixels).save(path, quality=95)
    _, gpu = setting['pipelines']
    batch = pseudo_collate([load(gpu, path, (0, 0, 0))])
    images = setting['gpu_pre'](batch, True)['inputs']
    assert images.shape == (1, 3, 192, 192)


def test_a_decoded_size_other_than_the_headers_names_the_file(setting, monkeypatch):
    photo = setting['photos'][0]
    _, gpu = setting['pipelines']
    batch = pseudo_collate([load(gpu, photo, (0, 0, 0))])
    real = device_decode.decode_jpeg
    monkeypatch.setattr(device_decode, 'decode_jpeg',
                        lambda data, mode, device: [real(d, mode=mode)[:, :-8] for d in data])
    with pytest.raises(UnreadableImageError, match='decoded 367x500, the header says 375x500'):
        setting['gpu_pre'](batch, True)


def test_large_crops_are_resized_in_strips_with_the_result_of_one_call(monkeypatch):
    image = torch.randint(0, 256, (3, 2600, 2500), dtype=torch.uint8)
    floats, real = [], device_decode._resize
    monkeypatch.setattr(device_decode, '_resize',
                        lambda images, size: floats.append(images.numel()) or real(images, size))
    # 2500 rows in strips of 499 (and a last one of 5), and a crop taken whole.
    for box in [(17, 333, 2500, 2100), (5, 7, 190, 193)]:
        top, left, height, width = box
        whole = F.interpolate(image[None, :, top:top + height, left:left + width].float(),
                              (192, 192), mode='bilinear', align_corners=False, antialias=True)
        assert torch.equal(device_decode.resized_crop(image, box, (192, 192)), whole[0])
    # No more than a strip of the 5.25-megapixel crop was float32 at once.
    assert len(floats) == 6 + 1 + 1 and max(floats) <= 3 * device_decode.STRIP_PIXELS


def test_each_full_decode_is_freed_once_cropped_and_calls_are_bounded(setting, monkeypatch):
    photos = setting['photos']
    _, gpu = setting['pipelines']
    batch = pseudo_collate([load(gpu, p, (0, 0, i)) for i, p in enumerate(photos)])
    expected = setting['gpu_pre'](batch, True)['inputs']

    alive, calls = [], []
    real_crop, real_decode = device_decode.resized_crop, device_decode.decode_jpegs

    def resized_crop(image, box, size):
        # No full decode of an earlier sample is still held by the data preprocessor.
        assert sum(ref() is not None for ref in alive) == 0
        alive.append(weakref.ref(image))
        return real_crop(image, box, size)

    def decode_jpegs(data, *args):
        calls.append(len(data))
        return real_decode(data, *args)

    monkeypatch.setattr(device_decode, 'resized_crop', resized_crop)
    monkeypatch.setattr(device_decode, 'decode_jpegs', decode_jpegs)
    monkeypatch.setattr(device_decode, 'DECODE_PIXELS', 500 * 427)  # one photograph a call
    assert torch.equal(setting['gpu_pre'](batch, True)['inputs'], expected)
    assert calls == [1, 1, 1, 1] and len(alive) == 4
