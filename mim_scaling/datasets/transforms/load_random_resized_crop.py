"""Reading an image and taking its random resized crop in one step.

The pre-training pipeline of the reference reads each image in full and then keeps a random
67-100% of it, resized to 192 px with Pillow's antialiased bilinear filter. Done in one
transform, the crop is drawn from the image's header before any pixel is decoded, so that a
JPEG is decoded at reduced scale (libjpeg's DCT scaling, 1/2, 1/4 or 1/8) whenever the crop
keeps ``reducing_gap`` times the output size at that scale, as Pillow's own
``Image.thumbnail`` does. Full-size crops are resized by PyTorch's uint8 kernel of the same
antialiased triangle filter as Pillow's, which is faster than Pillow's own.
"""
import math
from typing import Optional, Sequence, Tuple, Union

import numpy as np
import simplejpeg
import torch
import torch.nn.functional as F
from mmcv.transforms import BaseTransform
from PIL import Image

from mim_scaling.registry import TRANSFORMS
from .image_errors import UnreadableImageError
from .loading import JPEG_START, decode_image, read_image_bytes

# The reductions libjpeg-turbo decodes faster than full size (its other M/8 scales are not).
DCT_REDUCTIONS = (8, 4, 2)


def random_crop_box(height: int, width: int,
                    crop_ratio_range: Tuple[float, float] = (0.08, 1.0),
                    aspect_ratio_range: Tuple[float, float] = (3. / 4., 4. / 3.),
                    max_attempts: int = 10) -> Tuple[int, int, int, int]:
    """``(top, left, crop_height, crop_width)`` of a random resized crop of an image.

    The distribution of torchvision's and mmpretrain's ``RandomResizedCrop``, drawn from
    numpy's global generator with the same calls in the same order, so that a seeded
    generator gives the very crops mmpretrain's transform would: an area fraction uniform in
    ``crop_ratio_range`` and an aspect ratio log-uniform in ``aspect_ratio_range``, retried
    up to ``max_attempts`` times until the crop fits, else the largest central crop whose
    aspect ratio is within the range.
    """
    area = height * width
    log_ratios = (math.log(aspect_ratio_range[0]), math.log(aspect_ratio_range[1]))
    for _ in range(max_attempts):
        crop_area = area * np.random.uniform(*crop_ratio_range)
        ratio = math.exp(np.random.uniform(*log_ratios))
        crop_w = int(round(math.sqrt(crop_area * ratio)))
        crop_h = int(round(math.sqrt(crop_area / ratio)))
        if 0 < crop_w <= width and 0 < crop_h <= height:
            top = np.random.randint(0, height - crop_h + 1)
            left = np.random.randint(0, width - crop_w + 1)
            return top, left, crop_h, crop_w
    ratio = width / height
    crop_h, crop_w = height, width
    if ratio < min(aspect_ratio_range):
        crop_h = int(round(width / min(aspect_ratio_range)))
    elif ratio > max(aspect_ratio_range):
        crop_w = int(round(height * max(aspect_ratio_range)))
    return (height - crop_h) // 2, (width - crop_w) // 2, crop_h, crop_w


def dct_reduction(crop_h: int, crop_w: int, out_h: int, out_w: int,
                  reducing_gap: Optional[float]) -> int:
    """The largest of libjpeg's fast reductions (8, 4, 2) that leaves the crop at least
    ``reducing_gap`` times the output size on both sides; 1 if none does (or if
    ``reducing_gap`` is None)."""
    if reducing_gap is None:
        return 1
    for reduction in DCT_REDUCTIONS:
        if (crop_h >= reducing_gap * reduction * out_h
                and crop_w >= reducing_gap * reduction * out_w):
            return reduction
    return 1


def decode_jpeg(path: str, data: bytes, height: int, width: int, reduction: int = 1,
                colorspace: str = 'BGR') -> np.ndarray:
    """The JPEG ``data`` of a ``height`` x ``width`` image decoded by libjpeg-turbo at
    ``1 / reduction`` scale (DCT scaling; 1, 2, 4 or 8); raises :class:`UnreadableImageError`
    naming ``path`` for a corrupt or truncated file."""
    try:
        # strict=True: libjpeg's warnings (a truncated file, corrupt data) are errors.
        return simplejpeg.decode_jpeg(
            data, colorspace=colorspace, min_height=-(-height // reduction),
            min_width=-(-width // reduction), min_factor=reduction, strict=True)
    except ValueError as error:
        raise UnreadableImageError(path, f'corrupt or truncated JPEG ({error})') from None


def resize_antialiased(img: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """Bilinear resize of an (H, W, C) uint8 array, antialiased when it shrinks.

    PyTorch's uint8 kernel of the triangle filter Pillow uses for ``Image.BILINEAR`` (it
    widens with the reduction, so nothing aliases). Returns a new C-contiguous (h, w, C)
    array.
    """
    # A crop is a strided view; PyTorch's vectorised uint8 kernel takes only contiguous
    # channels-last input (else a generic one, twice as slow): copying the crop pays.
    pixels = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1).unsqueeze(0)
    out = F.interpolate(pixels, size=size, mode='bilinear', align_corners=False,
                        antialias=True)
    return out[0].permute(1, 2, 0).contiguous().numpy()


def resize_reduced(rgb: np.ndarray, box: Tuple[int, int, int, int],
                   full_size: Tuple[int, int], size: Tuple[int, int]) -> np.ndarray:
    """Antialiased bilinear resize of the crop ``box`` (top, left, h, w) of a ``full_size``
    image, given the image decoded at reduced scale as RGB; returns BGR.

    In the reduced image the box's edges fall between pixels: Pillow's ``resize`` takes such
    a box as it is (rounding it would shift the output by up to half a reduced pixel).
    """
    (top, left, crop_h, crop_w), (height, width) = box, full_size
    sy, sx = rgb.shape[0] / height, rgb.shape[1] / width
    image = Image.frombuffer('RGB', (rgb.shape[1], rgb.shape[0]), rgb, 'raw', 'RGB', 0, 1)
    out = image.resize((size[1], size[0]), Image.BILINEAR,
                       box=(left * sx, top * sy, (left + crop_w) * sx, (top + crop_h) * sy))
    return np.ascontiguousarray(np.asarray(out)[..., ::-1])


@TRANSFORMS.register_module()
class LoadImageRandomResizedCrop(BaseTransform):
    """Reads an image file and returns a random resized crop of it, in BGR like mmcv.

    Replaces ``LoadImageFromFile`` followed by ``RandomResizedCrop(..., backend='pillow',
    interpolation='bilinear')`` with the same crops (:func:`random_crop_box`, from numpy's
    global generator), the same antialiased bilinear resampling, and less work:

    - JPEGs are decoded by libjpeg-turbo (through ``simplejpeg``) straight into a BGR
      array, at 1/2, 1/4 or 1/8 scale where the crop keeps ``reducing_gap`` times the
      output size at that scale (the crop box is then scaled with the image); the DCT
      scaling is itself an antialiasing filter, and the gap keeps the output as close to
      the full-size result as Pillow's ``Image.thumbnail(..., reducing_gap=2.0)`` is
      (docs/benchmarks.md compares them).
    - Crops of images decoded at reduced scale keep their fractional box (Pillow's
      ``resize(box=...)``); full-size crops go through PyTorch's faster uint8 kernel.
    - Other formats (PNG, ...) and JPEGs libjpeg-turbo cannot convert to BGR (CMYK) are
      decoded in full by OpenCV, as ``LoadImageFromFile`` does.

    Like the reference (Pillow), and unlike ``LoadImageFromFile`` (OpenCV), EXIF
    orientation tags are not applied, whatever the format: the image is cropped as stored.

    Required keys: ``img_path``. Added keys: ``img`` (uint8, (h, w, 3), BGR),
    ``img_shape``, ``ori_shape`` (the file's height and width).

    Raises :class:`UnreadableImageError`, naming the file, for a missing, empty, truncated
    or undecodable file.

    Args:
        scale (int | Sequence[int]): Output size, ``(h, w)`` or one int for a square.
        crop_ratio_range (tuple): Range of the crop's area as a fraction of the image's.
            Defaults to (0.08, 1.0).
        aspect_ratio_range (tuple): Range of the crop's width / height.
            Defaults to (3/4, 4/3).
        max_attempts (int): Draws before falling back to a central crop. Defaults to 10.
        reducing_gap (float, optional): Decode at reduced scale only while the crop keeps
            this many times the output size; None decodes every image at full size.
            Defaults to 2.0.
        backend_args (dict, optional): mmengine file backend arguments. Defaults to None.
    """

    def __init__(self,
                 scale: Union[int, Sequence[int]],
                 crop_ratio_range: Tuple[float, float] = (0.08, 1.0),
                 aspect_ratio_range: Tuple[float, float] = (3. / 4., 4. / 3.),
                 max_attempts: int = 10,
                 reducing_gap: Optional[float] = 2.0,
                 backend_args: Optional[dict] = None) -> None:
        self.scale = (scale, scale) if isinstance(scale, int) else tuple(scale)
        if len(self.scale) != 2 or min(self.scale) <= 0:
            raise ValueError(f'scale must be a positive int or (h, w), got {scale!r}')
        for name, (low, high) in (('crop_ratio_range', crop_ratio_range),
                                  ('aspect_ratio_range', aspect_ratio_range)):
            if not 0 < low <= high:
                raise ValueError(f'{name} must be (min, max) with 0 < min <= max, '
                                 f'got {(low, high)}')
        if crop_ratio_range[1] > 1:
            raise ValueError(f'crop_ratio_range cannot exceed 1, got {crop_ratio_range}')
        if not isinstance(max_attempts, int) or max_attempts < 0:
            raise ValueError(f'max_attempts must be an int >= 0, got {max_attempts!r}')
        if reducing_gap is not None and reducing_gap < 1:
            raise ValueError('reducing_gap must be None or >= 1 (below 1 the decoded crop '
                             f'would be smaller than the output), got {reducing_gap}')
        self.crop_ratio_range = tuple(crop_ratio_range)
        self.aspect_ratio_range = tuple(aspect_ratio_range)
        self.max_attempts = max_attempts
        self.reducing_gap = reducing_gap
        self.backend_args = backend_args

    def transform(self, results: dict) -> dict:
        path = results['img_path']
        return self._decode_and_crop(results, path, read_image_bytes(path, self.backend_args))

    def _decode_and_crop(self, results: dict, path: str, data: bytes) -> dict:
        header = self._jpeg_header(path, data)
        if header is None:  # not a JPEG libjpeg-turbo can turn into BGR: decode it in full
            # OpenCV would apply an EXIF orientation (to PNGs, CMYK JPEGs): as for the
            # other JPEGs, the reference's Pillow leaves it alone.
            img = decode_image(path, data, flag='color_ignore_orientation')
            height, width = img.shape[:2]
            top, left, crop_h, crop_w = self._crop_box(height, width)
        else:
            height, width = header
            top, left, crop_h, crop_w = self._crop_box(height, width)
            reduction = dct_reduction(crop_h, crop_w, *self.scale, self.reducing_gap)
            if reduction > 1:
                img = decode_jpeg(path, data, height, width, reduction, 'RGB')
                img = resize_reduced(img, (top, left, crop_h, crop_w), (height, width),
                                     self.scale)
                results.update(img=img, img_shape=img.shape[:2], ori_shape=(height, width))
                return results
            img = decode_jpeg(path, data, height, width)
        img = resize_antialiased(img[top:top + crop_h, left:left + crop_w], self.scale)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = (height, width)
        return results

    def _crop_box(self, height: int, width: int) -> Tuple[int, int, int, int]:
        return random_crop_box(height, width, self.crop_ratio_range, self.aspect_ratio_range,
                               self.max_attempts)

    @staticmethod
    def _jpeg_header(path: str, data: bytes) -> Optional[Tuple[int, int]]:
        """(height, width) of a JPEG that libjpeg-turbo decodes to BGR, else None."""
        if not data.startswith(JPEG_START):
            return None
        try:
            height, width, colorspace, _ = simplejpeg.decode_jpeg_header(data)
        except ValueError as error:
            raise UnreadableImageError(path, f'corrupt JPEG header ({error})') from None
        if colorspace not in ('Gray', 'YCbCr', 'RGB'):  # CMYK, YCCK: OpenCV converts them
            return None
        return height, width

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(scale={self.scale}, '
                f'crop_ratio_range={self.crop_ratio_range}, '
                f'aspect_ratio_range={self.aspect_ratio_range}, '
                f'max_attempts={self.max_attempts}, reducing_gap={self.reducing_gap})')
