"""Write the photographs that scikit-image ships as a tiny image set for the demo.

Each photograph is cut in two along its longer side: the first two thirds for training,
the last third held out for the validation loss. Sixteen photographs teach a small model
too little about photographs in general for it to predict masked pixels of a different
photograph within minutes (docs/learning.md); held-out parts of the same photographs ask
it to generalise to pixels it never trained on, with the textures it did learn.

Layout (what mmpretrain's ``CustomDataset(with_label=False)`` reads)::

    OUT_DIR/train/*.png   the first two thirds of each photograph
    OUT_DIR/val/*.png     the last third of each, for the validation loss

``--hold-out NAME ...`` holds out those whole photographs instead, and trains on the
others whole.

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
# data.cat() is chelsea again: not listed.


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


def split_photograph(image: np.ndarray):
    """(training part, held-out part): the first two thirds and the last third of the
    photograph along its longer side."""
    axis = 0 if image.shape[0] > image.shape[1] else 1
    cut = image.shape[axis] * 2 // 3
    return np.split(image, [cut], axis=axis)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('out_dir', type=Path)
    parser.add_argument('--min-images', type=int, default=8,
                        help='fail when fewer training photographs are available')
    parser.add_argument('--hold-out', nargs='+', default=[], choices=PHOTOS, metavar='NAME',
                        help='hold out these whole photographs instead of a third of each')
    args = parser.parse_args(argv)

    written = {'train': 0, 'val': 0}
    for name in PHOTOS:
        if args.hold_out:
            splits = ['val' if name in args.hold_out else 'train']
        else:
            splits = ['train', 'val']
        paths = {split: args.out_dir / split / f'{name}.png' for split in splits}
        if not all(path.exists() for path in paths.values()):
            image = load(name)
            if image is None:
                continue
            parts = [image] if args.hold_out else split_photograph(image)
            for split, part in zip(splits, parts):
                paths[split].parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(part).save(paths[split])
        for split in splits:
            written[split] += 1
    if written['train'] < args.min_images or written['val'] == 0:
        raise SystemExit(f'only {written} images from scikit-image\'s photographs: need at '
                         f'least {args.min_images} for training and one for validation')
    print(f'{written["train"]} training and {written["val"]} held-out images in {args.out_dir}')


if __name__ == '__main__':
    main()
