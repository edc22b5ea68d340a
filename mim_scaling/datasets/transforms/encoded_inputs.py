"""The dataloader worker's part of the GPU data path (``decode_on_device=True``).

Decoding a full-size JPEG takes about 2.5 ms of a core per ImageNet image, far more than
everything else a worker does; on a GPU, nvJPEG decodes a whole batch in a few
milliseconds. With these transforms the workers only read each file and its header, draw
the crop box, the flip and the mask, and pass the encoded bytes on;
:class:`~mim_scaling.models.data_preprocessors.DeviceDecodeDataPreprocessor` decodes,
crops, resizes, flips and normalises the batch on the model's device. The draws are those of
:class:`LoadImageRandomResizedCrop` and mmcv's ``RandomFlip`` (the same calls of the same
generators, in the same order), so for a given seed and sample the boxes, flips and masks
are those of the CPU pipeline, and exact resume works as with it.

Files the device decoder is not given (anything but an 8-bit, three-component sequential
JPEG with its end marker: PNGs, greyscale, progressive, CMYK or truncated JPEGs) are
decoded and cropped in the worker by :class:`LoadImageRandomResizedCrop`'s own code, which
also names an unreadable file with :class:`UnreadableImageError`.
"""
import struct
from typing import Optional, Tuple

import numpy as np
import torch
from mmcv.transforms import RandomFlip
from mmpretrain.datasets.transforms import PackInputs

from mim_scaling.registry import TRANSFORMS
from .image_errors import UnreadableImageError
from .load_random_resized_crop import LoadImageRandomResizedCrop
from .loading import JPEG_START, jpeg_length, read_image_bytes

# Start-of-frame markers (SOF0-SOF15 but DHT, JPG and DAC); SOF0 and SOF1 are the sequential
# Huffman-coded frames that nvJPEG decodes in its batched (hardware) path.
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_SEQUENTIAL = (0xC0, 0xC1)
_STANDALONE = frozenset([0x01, *range(0xD0, 0xD8)])  # TEM, RSTn: no length field


def jpeg_frame(path: str, data: bytes) -> Tuple[int, int, int, int, Optional[int]]:
    """``(height, width, components, SOF marker, Adobe transform)`` of the JPEG ``data``,
    read from its markers up to the frame header (none of the image data is read).

    The Adobe transform is that of an APP14 "Adobe" segment (0: RGB or CMYK stored as they
    are, 1: YCbCr, 2: YCCK), None without one; three components named R, G and B without a
    JFIF or Adobe segment count as 0, as libjpeg reads them (RGB stored as it is). Raises
    :class:`UnreadableImageError` naming ``path`` when the markers stop before a frame
    header.
    """
    adobe, jfif, i = None, False, 2
    try:
        while True:
            if data[i] != 0xFF:
                raise UnreadableImageError(path, f'corrupt JPEG header (no marker at byte {i})')
            marker = data[i + 1]
            if marker == 0xFF:  # fill byte
                i += 1
                continue
            if marker in _STANDALONE:
                i += 2
                continue
            if marker in (0xD9, 0xDA):  # end of image or start of scan before any frame
                raise UnreadableImageError(path, 'corrupt JPEG header (no frame header)')
            length, = struct.unpack_from('>H', data, i + 2)
            if marker in _SOF:
                height, width, components = struct.unpack_from('>HHB', data, i + 5)
                if data[i + 4] != 8:  # 12-bit samples: the device decoders take 8 bits only
                    marker = -marker
                if (adobe is None and not jfif and components == 3
                        and data[i + 10:i + 17:3] == b'RGB'):  # the component ids
                    adobe = 0
                return height, width, components, marker, adobe
            if marker == 0xEE and data[i + 4:i + 9] == b'Adobe' and length >= 12:
                adobe = data[i + 15]
            jfif |= marker == 0xE0 and data[i + 4:i + 9] == b'JFIF\0'
            i += 2 + length
    except (IndexError, struct.error):
        raise UnreadableImageError(path, 'corrupt or truncated JPEG header') from None


def device_decodable(path: str, data: bytes) -> Tuple[Optional[Tuple[int, int]], str]:
    """``((height, width), '')`` for a JPEG the data preprocessor decodes on the device,
    else ``(None, why)``: the kind of file that the worker decodes instead."""
    if not data.startswith(JPEG_START):
        return None, 'not a JPEG'
    height, width, components, marker, adobe = jpeg_frame(path, data)
    if marker not in _SEQUENTIAL:
        return None, 'progressive JPEG' if marker in (0xC2, 0xC6) else 'JPEG of another coding'
    if components != 3 or adobe == 0:
        return None, {1: 'greyscale JPEG', 4: 'CMYK JPEG'}.get(components, 'JPEG not in YCbCr')
    if height == 0 or width == 0:  # the height is in a DNL marker after the first scan
        return None, 'JPEG without its size in the frame header'
    # A file that stops before its end-of-image marker is decoded strictly in the worker,
    # which names a truncated file as the CPU pipeline does.
    if jpeg_length(data) is None:
        return None, 'JPEG without end marker'
    return (height, width), ''


@TRANSFORMS.register_module()
class LoadEncodedRandomResizedCrop(LoadImageRandomResizedCrop):
    """Reads an image file's bytes and draws its random resized crop without decoding it.

    The worker's part of ``LoadImageRandomResizedCrop`` for the GPU data path, with its
    arguments and its crops (the same draws from numpy's global generator). For a JPEG
    that the device decodes (:func:`device_decodable`) it adds ``img_bytes`` (the encoded
    image, np.uint8, without any bytes after its end marker), ``crop_box`` ((top, left,
    height, width) in the file's pixels), ``img_shape`` (the output size the data
    preprocessor resizes the crop to) and ``ori_shape``. Any other file is decoded and
    cropped here as ``LoadImageRandomResizedCrop`` does (``img``, BGR) and
    ``decoded_on_cpu`` says why.

    Raises :class:`UnreadableImageError`, naming the file, for a missing, empty or
    undecodable file, and for a corrupt JPEG header.
    """

    def transform(self, results: dict) -> dict:
        path = results['img_path']
        data = read_image_bytes(path, self.backend_args)
        size, why = device_decodable(path, data)
        if size is None:
            results = self._decode_and_crop(results, path, data)
            results['decoded_on_cpu'] = why
            return results
        results['crop_box'] = self._crop_box(*size)
        # Without what follows the image (a motion photo's video): nvJPEG takes the image.
        results['img_bytes'] = np.frombuffer(data, np.uint8, count=jpeg_length(data))
        results['img_shape'] = self.scale
        results['ori_shape'] = size
        return results


@TRANSFORMS.register_module()
class RandomFlipOnDevice(RandomFlip):
    """mmcv's ``RandomFlip``, drawing the flip and leaving the pixels alone.

    The same arguments and the same draw (``flip``, ``flip_direction``) as ``RandomFlip``;
    the data preprocessor of the GPU data path flips the image after resizing it.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        if self.direction not in ('horizontal', ['horizontal']):
            raise ValueError(f'the GPU data path flips horizontally only, got direction='
                             f'{self.direction!r}')

    def _flip(self, results: dict) -> None:
        pass  # the data preprocessor flips the resized image


@TRANSFORMS.register_module()
class PackEncodedInputs(PackInputs):
    """mmpretrain's ``PackInputs`` for the GPU data path: the inputs are the encoded file
    (a 1-D uint8 tensor) where the worker did not decode it, else the decoded crop as
    ``PackInputs`` packs it; ``crop_box`` and ``decoded_on_cpu`` join the meta keys.
    Collate with ``pseudo_collate`` (the files differ in length)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.meta_keys = (*self.meta_keys, 'crop_box', 'decoded_on_cpu')

    def transform(self, results: dict) -> dict:
        packed = super().transform(results)
        if 'img_bytes' in results:
            packed['inputs'] = torch.from_numpy(results['img_bytes'].copy())
        return packed
