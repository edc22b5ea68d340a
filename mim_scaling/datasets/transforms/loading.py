"""Image loading that names the file whenever it cannot read an image."""
import io
import re
import struct
from typing import Optional

import mmcv
import mmengine.fileio as fileio
from mmcv.transforms import LoadImageFromFile as MMCVLoadImageFromFile
from PIL import Image

from mim_scaling.registry import TRANSFORMS
from .image_errors import UnreadableImageError

JPEG_START, _JPEG_END = b'\xff\xd8', b'\xff\xd9'
# The next marker, from a segment's start or within entropy-coded data, where 0xFF is
# followed by 0x00 (a stuffed byte) or a restart marker (no segment), or by more 0xFF (fill).
_NEXT_MARKER = re.compile(rb'\xff+([^\x00\xd0-\xd7\xff])')


def read_image_bytes(path: str, backend_args: Optional[dict] = None,
                     file_client_args: Optional[dict] = None) -> bytes:
    """The bytes of an image file; :class:`UnreadableImageError` if missing or empty.

    ``backend_args`` (or mmcv's deprecated ``file_client_args``) pick the file backend.
    """
    try:
        if file_client_args is not None:
            data = fileio.FileClient.infer_client(file_client_args, path).get(path)
        else:
            data = fileio.get(path, backend_args=backend_args)
    except FileNotFoundError:
        raise UnreadableImageError(path, 'file not found') from None
    except (IsADirectoryError, PermissionError) as error:
        raise UnreadableImageError(path, f'cannot open the file ({error.strerror})') from None
    if not data:
        raise UnreadableImageError(path, 'empty file (0 bytes)')
    return data


def ends_with_jpeg_end(data: bytes) -> bool:
    """Whether the file ends with JPEG's end-of-image marker (padding aside): true of a
    complete JPEG, false of a truncated one or one with data after the marker."""
    return data.rstrip(b'\x00\r\n ').endswith(_JPEG_END)


def jpeg_length(data: bytes) -> Optional[int]:
    """The length of the JPEG ``data`` to decode, None if it has no end-of-image marker.

    A file that ends with the marker is taken whole (almost every file; decoders stop at
    their first end marker). Others may carry bytes after the image (a phone's "motion
    photo" appends its video): their marker is found by walking the segments (an embedded
    thumbnail's markers are skipped with its segment) and the markers in the
    entropy-coded data.
    """
    if ends_with_jpeg_end(data):  # almost every file: nothing to walk
        return len(data)
    position = 2
    while True:
        match = _NEXT_MARKER.search(data, position)
        if match is None:
            return None
        marker, position = match.group(1)[0], match.end()
        if marker == _JPEG_END[1]:
            return position
        if marker != 0x01:  # TEM stands alone; every other marker starts a segment
            if position + 2 > len(data):
                return None
            position += struct.unpack_from('>H', data, position)[0]


def check_not_truncated(path: str, data: bytes) -> None:
    """Raises :class:`UnreadableImageError` for a JPEG whose data stops early.

    OpenCV decodes a truncated JPEG without an error (the missing rows come out grey), so
    training would silently see a broken image. A complete JPEG has its EOI marker (at the
    end, or before bytes that are not part of the image); files without one are decoded
    once more by Pillow, which names what is wrong.
    """
    if not data.startswith(JPEG_START) or jpeg_length(data) is not None:
        return
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
    except OSError as error:
        raise UnreadableImageError(path, f'truncated JPEG, {error}') from None


def decode_image(path: str, data: bytes, flag: str = 'color', backend: str = 'cv2'):
    """``mmcv.imfrombytes`` with :class:`UnreadableImageError` for bytes that are no image."""
    check_not_truncated(path, data)
    try:
        img = mmcv.imfrombytes(data, flag=flag, backend=backend)
    except Exception as error:  # decoders raise anything from cv2.error to struct.error
        raise UnreadableImageError(
            path, f'not a decodable image, {type(error).__name__}: {error}') from None
    if img is None:  # cv2 returns None for bytes it does not recognise
        raise UnreadableImageError(path, f'not a decodable image ({len(data)} bytes)')
    return img


@TRANSFORMS.register_module()
class LoadImageFromFile(MMCVLoadImageFromFile):
    """mmcv's ``LoadImageFromFile``, raising :class:`UnreadableImageError` for bad files.

    mmcv's transform fails on a zero-byte file with an OpenCV assertion that does not name
    it and loads a truncated JPEG without complaint. This one raises
    :class:`UnreadableImageError` (naming the file and the reason) for a missing, empty,
    truncated or undecodable file, which ``skip_unreadable_images=True`` in a config turns
    into a skipped and logged sample (see :mod:`mim_scaling.datasets.skip_unreadable`).
    Arguments are mmcv's; ``ignore_empty=True`` still returns None for any such file.
    """

    def transform(self, results: dict) -> Optional[dict]:
        filename = results['img_path']
        try:
            data = read_image_bytes(filename, self.backend_args, self.file_client_args)
            img = decode_image(filename, data, self.color_type, self.imdecode_backend)
        except UnreadableImageError:
            if self.ignore_empty:
                return None
            raise
        if self.to_float32:
            img = img.astype('float32')
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results
