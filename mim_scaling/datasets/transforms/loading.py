"""Image loading that names the file whenever it cannot read an image."""
import io
from typing import Optional

import mmcv
import mmengine.fileio as fileio
from mmcv.transforms import LoadImageFromFile as MMCVLoadImageFromFile
from PIL import Image

from mim_scaling.registry import TRANSFORMS
from .image_errors import UnreadableImageError

JPEG_START, _JPEG_END = b'\xff\xd8', b'\xff\xd9'


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


def check_not_truncated(path: str, data: bytes) -> None:
    """Raises :class:`UnreadableImageError` for a JPEG whose data stops early.

    OpenCV decodes a truncated JPEG without an error (the missing rows come out grey), so
    training would silently see a broken image. A complete JPEG ends with the EOI marker;
    files that do not (truncated, or with trailing bytes after the marker) are decoded once
    more by Pillow, which raises only for the truncated ones.
    """
    if not data.startswith(JPEG_START) or ends_with_jpeg_end(data):
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
