"""Image files for tests of unreadable images: JPEG bytes and the four kinds of unreadable
file (missing, empty, truncated, not an image)."""
import io

import numpy as np
from PIL import Image


def jpeg_bytes(size=64, seed=0):
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format='JPEG', quality=90)
    return buffer.getvalue()


def write_bad_images(folder):
    """The four kinds of unreadable file, as {path: words of the reason}."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / 'empty.jpg').write_bytes(b'')
    (folder / 'truncated.jpg').write_bytes(jpeg_bytes()[:1500])
    (folder / 'text.jpg').write_text('this is not an image\n')
    return {str(folder / 'empty.jpg'): 'empty file', str(folder / 'truncated.jpg'): 'truncated',
            str(folder / 'text.jpg'): 'not a decodable image',
            str(folder / 'missing.jpg'): 'file not found'}
