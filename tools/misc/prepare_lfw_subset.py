"""Write the labelled faces that scikit-image ships as a two-class image set for the miniature.

    python tools/misc/prepare_lfw_subset.py data/lfw_subset

``skimage.data.lfw_subset()`` holds 200 greyscale 25x25 crops from Labeled Faces in the
Wild, bundled in the package (no download): the first 100 are faces, the other 100 are not.
Layout (mmpretrain's ``CustomDataset`` takes the class folders, sorted, as labels 0 and 1)::

    OUT_DIR/train/face/*.png       80 faces
    OUT_DIR/train/non-face/*.png   80 non-faces
    OUT_DIR/val/face/*.png         20 faces
    OUT_DIR/val/non-face/*.png     20 non-faces

Each class is split at random by ``--seed``; the files are 8-bit greyscale PNGs named by
their index in ``lfw_subset`` (the loaders turn them into three channels). Running it again
writes the same files; a folder that holds images of another split is an error, so that no
image ends up in both.
"""
import argparse
import sys
from pathlib import Path
from typing import Dict, List

import numpy as np
from PIL import Image
from skimage import data

CLASSES = ('face', 'non-face')  # lfw_subset's two halves, in order
SPLITS = ('train', 'val')


def split_indices(num_per_class: int, val_fraction: float,
                  seed: int) -> Dict[str, Dict[str, List[int]]]:
    """``{split: {class: indices into lfw_subset}}``, the same for the same seed."""
    num_val = round(num_per_class * val_fraction)
    if not 0 < num_val < num_per_class:
        raise ValueError(f'--val-fraction {val_fraction} leaves {num_val} of the '
                         f'{num_per_class} images of a class for validation; both splits '
                         'need at least one')
    rng = np.random.default_rng(seed)
    layout = {split: {} for split in SPLITS}
    for c, name in enumerate(CLASSES):
        order = rng.permutation(num_per_class) + c * num_per_class
        layout['val'][name] = sorted(order[:num_val].tolist())
        layout['train'][name] = sorted(order[num_val:].tolist())
    return layout


def write_split(images: np.ndarray, layout: Dict[str, Dict[str, List[int]]],
                out_dir: Path) -> None:
    planned = {out_dir / split / name / f'{i:03d}.png'
               for split, classes in layout.items() for name, indices in classes.items()
               for i in indices}
    foreign = sorted(p for split in SPLITS for name in CLASSES
                     for p in (out_dir / split / name).glob('*.png') if p not in planned)
    if foreign:
        raise ValueError(f'{out_dir} already holds {len(foreign)} image(s) of another split '
                         f'(another --seed or --val-fraction?), e.g. {foreign[0]}; remove '
                         'them or choose another OUT_DIR')
    for path in sorted(planned):
        path.parent.mkdir(parents=True, exist_ok=True)
        pixels = np.round(images[int(path.stem)] * 255).astype(np.uint8)
        partial = path.with_name(path.stem + '.partial.png')
        Image.fromarray(pixels).save(partial)  # 2-D uint8: mode L
        partial.replace(path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('out_dir', type=Path)
    parser.add_argument('--val-fraction', type=float, default=0.2,
                        help='images of each class held out for validation (default: 0.2)')
    parser.add_argument('--seed', type=int, default=0, help='seed of the split (default: 0)')
    args = parser.parse_args(argv)

    images = np.asarray(data.lfw_subset())
    if images.shape[0] != 2 * 100 or images.ndim != 3:
        sys.exit(f'error: skimage.data.lfw_subset() gave an array of shape {images.shape}, '
                 'not the 200 images (100 faces, then 100 non-faces) this tool expects')
    try:
        layout = split_indices(images.shape[0] // 2, args.val_fraction, args.seed)
        write_split(images, layout, args.out_dir)
    except (OSError, ValueError) as e:
        sys.exit(f'error: {e}')
    for split, classes in layout.items():
        counts = ', '.join(f'{len(indices)} {name}' for name, indices in classes.items())
        print(f'{args.out_dir / split}: {counts}')


if __name__ == '__main__':
    main()
