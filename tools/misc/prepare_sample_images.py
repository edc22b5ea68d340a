"""Write the photographs that scikit-image ships as a tiny image set for the demo.

Layout (what mmpretrain's ``CustomDataset(with_label=False)`` reads)::

    OUT_DIR/train/*.png   most photographs
    OUT_DIR/val/*.png     a few held out, for the validation loss

Only images bundled in the scikit-image package are used (no download). Grey images are
repeated to RGB. Running it again keeps existing files.
"""
import argparse
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data

# Images that scikit-image ships inside its package (its other samples are downloaded on
# first use, which fails offline), at least 256 px on the short side so that 192-px crops
# stay sharp.
PHOTOS = ['astronaut', 'chelsea', 'coffee', 'rocket', 'hubble_deep_field',
          'immunohistochemistry', 'camera', 'coins', 'moon', 'page', 'text', 'grass', 'gravel',
          'brick', 'colorwheel', 'logo', 'retina', 'horse', 'clock']
VAL = ['chelsea', 'coins', 'rocket']  # data.cat() is chelsea again: not listed


def load(name: str):
    """The photograph as an HxWx3 uint8 array, or None when it is not bundled/usable."""
    loader = getattr(data, name, None)
    if loader is None:
        return None
    try:
        image = loader()
    except (OSError, ValueError):  # a scikit-image version without this image bundled
        return None
    image = np.asarray(image)
    if image.dtype == bool:
        image = image.astype(np.uint8) * 255
    if image.dtype != np.uint8:
        image = (255 * (image - image.min()) / max(np.ptp(image), 1e-8)).astype(np.uint8)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    if image.ndim != 3 or min(image.shape[:2]) < 128:
        return None
    return image[..., :3]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('out_dir', type=Path)
    parser.add_argument('--min-images', type=int, default=8,
                        help='fail when fewer training photographs are available')
    args = parser.parse_args(argv)

    written = {'train': 0, 'val': 0}
    for name in PHOTOS:
        split = 'val' if name in VAL else 'train'
        path = args.out_dir / split / f'{name}.png'
        if not path.exists():
            image = load(name)
            if image is None:
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(path)
        written[split] += 1
    if written['train'] < args.min_images or written['val'] == 0:
        raise SystemExit(f'only {written} photographs found in scikit-image: need at least '
                         f'{args.min_images} for training and one for validation')
    print(f'{written["train"]} training and {written["val"]} validation photographs in '
          f'{args.out_dir}')


if __name__ == '__main__':
    main()
