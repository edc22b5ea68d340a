"""The GPU data path's worker part: the file's bytes, its size from the header, and the crop,
flip and mask draws of the CPU pipeline for the same seed and sample."""
import io
import sys
from pathlib import Path

import numpy as np
import pytest
from mmpretrain.datasets.transforms import RandomResizedCrop
from PIL import Image

from mim_scaling.datasets.transforms import UnreadableImageError
from mim_scaling.datasets.transforms.encoded_inputs import device_decodable, jpeg_frame
from mim_scaling.utils import seeded_random_states

sys.path.insert(0, str(Path(__file__).parents[2]))
from gpu_data_path import (PHOTOS, load, pipelines, write_other_kinds,  # noqa: E402
                           write_photographs)


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp('photographs')
    return write_photographs(folder), write_other_kinds(folder)


def test_the_header_gives_the_size_and_which_files_the_device_decodes(files):
    photos, others = files
    for path, (_, (width, height), _) in zip(photos, PHOTOS):
        assert device_decodable(str(path), path.read_bytes()) == ((height, width), '')
    for kind, path in others.items():
        assert device_decodable(str(path), path.read_bytes()) == (
            None, 'not a JPEG' if kind == 'PNG' else kind)
        if kind != 'PNG':
            with Image.open(path) as image:
                assert jpeg_frame(str(path), path.read_bytes())[:2] == image.size[::-1]
    data = photos[0].read_bytes()
    # No end marker: decoded strictly by the worker, which names a truncated file.
    assert device_decodable('x.jpg', data[:-2]) == (None, 'JPEG without end marker')
    assert device_decodable('x.jpg', data[:len(data) // 2]) == (None, 'JPEG without end marker')


@pytest.mark.parametrize('cut', [4, 30, 150])
def test_a_jpeg_cut_within_its_header_is_named(tmp_path, files, cut):
    data = files[0][0].read_bytes()[:cut]
    with pytest.raises(UnreadableImageError, match='x.jpg: corrupt or truncated JPEG header'):
        device_decodable('x.jpg', data)
    with pytest.raises(UnreadableImageError, match='no marker at byte 2'):
        device_decodable('x.jpg', b'\xff\xd8 not a JPEG at all')


def test_boxes_flips_and_masks_are_those_of_the_cpu_pipeline(files):
    photos, others = files
    cpu, gpu = pipelines()
    flips, encoded = [], 0
    for index, path in enumerate(photos + list(others.values())):
        for key in [(0, 0, index), (0, 1, index), (7, 0, index), (7, 3, index)]:
            ours, theirs = load(gpu, path, key), load(cpu, path, key)
            ours_sample, theirs_sample = ours['data_samples'], theirs['data_samples']
            assert ours_sample.flip == theirs_sample.flip
            np.testing.assert_array_equal(ours_sample.mask, theirs_sample.mask)
            flips.append(ours_sample.flip)
            if ours['inputs'].dim() == 3:  # decoded by the worker with the CPU pipeline's code
                assert ours_sample.decoded_on_cpu
                # Its flip is left to the data preprocessor, as for the others.
                unflipped = theirs['inputs'].flip(-1) if theirs_sample.flip else theirs['inputs']
                np.testing.assert_array_equal(ours['inputs'], unflipped)
                continue
            encoded += 1
            np.testing.assert_array_equal(ours['inputs'].numpy(),
                                          np.frombuffer(path.read_bytes(), np.uint8))
            # The box of mmpretrain's RandomResizedCrop with the same draws.
            height, width = ours_sample.ori_shape
            crop = RandomResizedCrop(192, crop_ratio_range=(0.67, 1.0))
            with seeded_random_states(key):
                expected = crop.rand_crop_params(np.empty((height, width, 0), np.uint8))
            assert tuple(ours_sample.crop_box) == expected
            assert tuple(ours_sample.img_shape) == (192, 192)
    assert encoded == 4 * len(photos) and 0 < sum(flips) < len(flips)


def with_thumbnail(data: bytes) -> bytes:
    """The JPEG ``data`` with a JPEG thumbnail in an APP1 segment after its start marker, as
    cameras write one: a complete JPEG, end marker included, inside the file's header."""
    thumbnail = data[:600] + b'\xff\xd9'
    segment = b'\xff\xe1' + (2 + len(thumbnail)).to_bytes(2, 'big') + thumbnail
    return data[:2] + segment + data[2:]


def test_bytes_after_the_end_marker_are_left_out_not_taken_for_truncation(files, tmp_path):
    # A phone's "motion photo": the image, then a video (which holds 0xFFD9 bytes of its own).
    image = with_thumbnail(files[0][0].read_bytes())
    path = tmp_path / 'motion_photo.jpg'
    path.write_bytes(image + b'\x00\x00\x00\x18ftypmp42' + b'\xff\xd8\xff\xd9' * 50 + b'moov')
    assert device_decodable(str(path), path.read_bytes()) == ((375, 500), '')
    _, gpu = pipelines()
    packed = load(gpu, path, (0, 0, 0))
    assert 'decoded_on_cpu' not in packed['data_samples']
    assert packed['inputs'].numpy().tobytes() == image  # the image alone goes to the device
    # Cut short inside its data, it still has no end marker of its own.
    truncated = image[:len(image) // 2] + b'\x00\x00\x00\x18ftypmp42'
    assert device_decodable('x.jpg', truncated) == (None, 'JPEG without end marker')


def test_an_rgb_jpeg_without_the_adobe_segment_is_decoded_by_the_worker(files):
    # Components named R, G and B, stored without a colour transform: libjpeg reads them as
    # RGB, which nvJPEG's batched decoding (YCbCr) does not promise.
    buffer = io.BytesIO()
    Image.open(files[0][0]).save(buffer, 'JPEG', quality=90, keep_rgb=True)
    data = buffer.getvalue()
    adobe = data.index(b'\xff\xeeAdobe'[:2])
    without_adobe = data[:adobe] + data[adobe + 2 + int.from_bytes(data[adobe + 2:adobe + 4],
                                                                   'big'):]
    assert b'Adobe' in data and b'Adobe' not in without_adobe
    for encoded in (data, without_adobe):
        assert device_decodable('x.jpg', encoded) == (None, 'JPEG not in YCbCr')
