"""Render the demo's and the miniature's images: eight classes of periodic patterns.

    python tools/misc/make_patterns.py data/patterns              # 32 px, the miniature's
    python tools/misc/make_patterns.py data/patterns-96px --size 96 --pool 1000 \
        --train-per-class 4 --val-per-class 4                     # the demo's (make demo)

Every image is a grey pattern between two levels: stripes, wavy stripes, zigzags, a
checkerboard, dots, a grid of lines, rings or rays, at a random orientation, phase and
period (a quarter to half of the image side; rays: 3 to 8 turns of the profile around their
centre), its two grey levels drawn at random at least 80 apart. Dots and grids have sharp
(anti-aliased) edges, the others a sinusoidal profile. Why these:

- Masked pixels can be predicted from the visible ones. SimMIM's target divides each pixel
  by the spread of its window, so flat areas become amplified noise and most of a
  photograph's normalised target is unpredictable (docs/learning.md): predicting zero, the
  local mean, stays close to the best a small model can do. A pattern continues under the
  mask, and a model that has learnt its class, orientation and phase predicts it.
- What tells the classes apart is the geometry alone, which predicting masked pixels has to
  model: brightness and contrast are drawn the same way for every class. The images are
  grey because colour, drawn at random, would dominate the pooled features of any encoder
  (random or pre-trained) while carrying no label.
- A period of a quarter to half of the side is one to two mask cells of the configs
  (32-px images with 8-px cells, 96-px images with 16-px cells): a hidden cell holds at
  most one period, predictable from its neighbours. With periods below a cell, a model
  learns nothing in the miniature's budget (docs/learning.md).

The set is rendered, not downloaded: it costs seconds, the same seed gives the same bytes on
every machine, and the unlabelled pool can be made as large as a study needs. Layout::

    OUT_DIR/unlabelled/*.png            --pool images, labels unused (SimMIM pre-training)
    OUT_DIR/meta/unlabelled_10pct.txt   the first tenth of the pool (a smaller data set)
    OUT_DIR/train/<class>/*.png         --train-per-class labelled images (the k-NN bank)
    OUT_DIR/val/<class>/*.png           --val-per-class held-out images (k-NN queries and
                                        the validation loss)

Classes are balanced in every split: image ``i`` of a split is of class ``i % 8``. Each
image is drawn from its own random stream (seed, split, index), so a larger pool begins with
the images of a smaller one. Running it again with the same arguments writes nothing new; a
folder written with other arguments (``meta/arguments.json``) is an error.
"""
import argparse
import json
import math
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
from PIL import Image

CLASSES = ('stripes', 'wavy', 'zigzag', 'checker', 'dots', 'grid', 'rings', 'rays')
MIN_CONTRAST = 80  # of 255, between the two grey levels
_SUPERSAMPLE = 4  # drawn at 4x and averaged: anti-aliased edges
_SPLIT_IDS = {'unlabelled': 0, 'train': 1, 'val': 2}


def _wave(t: np.ndarray) -> np.ndarray:
    """A sinusoid of period 1 in [0, 1]: the profile of every class but dots and grids."""
    return 0.5 + 0.5 * np.sin(2 * math.pi * t)


def pattern(name: str, rng: np.random.Generator, size: int) -> np.ndarray:
    """A (size, size) map in [0, 1] of the pattern ``name``, its parameters from ``rng``."""
    n = size * _SUPERSAMPLE
    y, x = (np.mgrid[0:n, 0:n] + 0.5) / _SUPERSAMPLE  # pixel units
    angle = rng.uniform(0, 2 * math.pi)
    u = math.cos(angle) * x + math.sin(angle) * y  # across the pattern
    v = -math.sin(angle) * x + math.cos(angle) * y  # along it
    period = rng.uniform(0.25, 0.5) * size
    phase = rng.uniform(0, 1)
    if name == 'stripes':
        m = _wave(u / period + phase)
    elif name == 'wavy':
        bend = rng.uniform(1.5, 3) * period
        m = _wave((u + 0.3 * period * np.sin(2 * math.pi * v / bend)) / period + phase)
    elif name == 'zigzag':
        bend = rng.uniform(1, 2) * period
        triangle = np.abs(np.mod(v / bend, 1.0) - 0.5) * 2
        m = _wave((u + 0.6 * period * triangle) / period + phase)
    elif name == 'checker':  # the exclusive or of two orthogonal stripes
        a, b = _wave(u / period + phase), _wave(v / period + rng.uniform())
        m = a + b - 2 * a * b
    elif name == 'dots':
        du = np.mod(u / period + phase, 1) - 0.5
        dv = np.mod(v / period + rng.uniform(), 1) - 0.5
        m = np.hypot(du, dv) < rng.uniform(0.25, 0.35)
    elif name == 'grid':
        du = np.abs(np.mod(u / period + phase, 1) - 0.5)
        dv = np.abs(np.mod(v / period + rng.uniform(), 1) - 0.5)
        width = rng.uniform(0.12, 0.2)
        m = (du > 0.5 - width) | (dv > 0.5 - width)
    elif name == 'rings':  # around a centre that may lie outside the image
        cx, cy = rng.uniform(-0.25, 1.25, size=2) * size
        m = _wave(np.hypot(x - cx, y - cy) / period + phase)
    elif name == 'rays':
        cx, cy = rng.uniform(0.2, 0.8, size=2) * size
        m = _wave(rng.integers(3, 9) * np.arctan2(y - cy, x - cx) / (2 * math.pi) + phase)
    else:
        raise ValueError(f'unknown pattern {name!r}; classes are {CLASSES}')
    return m.astype(np.float64).reshape(size, _SUPERSAMPLE, size, _SUPERSAMPLE).mean((1, 3))


def render(label: int, rng: np.random.Generator, size: int = 32) -> np.ndarray:
    """A (size, size, 3) uint8 grey image of class ``CLASSES[label]``, drawn from ``rng``."""
    m = pattern(CLASSES[label], rng, size)
    while True:
        low, high = rng.integers(0, 256, size=2)
        if abs(int(high) - int(low)) >= MIN_CONTRAST:
            break
    grey = np.clip(np.rint(low + (int(high) - int(low)) * m), 0, 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=2)


def image_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The random stream of one image: the same for the same (seed, split, index)."""
    return np.random.default_rng([seed, _SPLIT_IDS[split], index])


def layout(out_dir: Path, pool: int, train_per_class: int,
           val_per_class: int) -> Dict[str, List[Tuple[Path, int]]]:
    """``{split: [(file, label), ...]}``: image ``i`` of a split has label ``i % 8``."""
    sizes = {'unlabelled': pool, 'train': train_per_class * len(CLASSES),
             'val': val_per_class * len(CLASSES)}
    files = {}
    for split, n in sizes.items():
        files[split] = []
        for i in range(n):
            label = i % len(CLASSES)
            folder = out_dir / split if split == 'unlabelled' else (
                out_dir / split / CLASSES[label])
            files[split].append((folder / f'{i:05d}.png', label))
    return files


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('out_dir', help='folder to write (e.g. data/patterns)')
    parser.add_argument('--pool', type=int, default=4000,
                        help='unlabelled images for pre-training (default 4000)')
    parser.add_argument('--train-per-class', type=int, default=10,
                        help='labelled images per class, the k-NN bank (default 10)')
    parser.add_argument('--val-per-class', type=int, default=40,
                        help='held-out labelled images per class (default 40: 320 in all)')
    parser.add_argument('--size', type=int, default=32,
                        help='side of the square images in pixels (default 32)')
    parser.add_argument('--seed', type=int, default=0, help='random seed (default 0)')
    args = parser.parse_args(argv)
    for name in ('pool', 'train_per_class', 'val_per_class', 'size'):
        if getattr(args, name) < 1:
            parser.error(f'--{name.replace("_", "-")} must be at least 1')
    if args.pool < 10:
        parser.error('--pool must be at least 10 (its first tenth is a data set too)')
    return args


def main(argv=None):
    args = parse_args(argv)
    out_dir = Path(args.out_dir)
    files = layout(out_dir, args.pool, args.train_per_class, args.val_per_class)
    record = out_dir / 'meta' / 'arguments.json'
    arguments = {name: getattr(args, name)
                 for name in ('pool', 'train_per_class', 'val_per_class', 'size', 'seed')}
    if record.exists() and json.loads(record.read_text()) != arguments:
        raise SystemExit(f'tools/misc/make_patterns.py: {out_dir} was written with '
                         f'{record.read_text().strip()}, not {json.dumps(arguments)}; remove it '
                         'or choose another OUT_DIR')
    if not record.exists() and any(out_dir.glob('**/*.png')):
        raise SystemExit(f'tools/misc/make_patterns.py: {out_dir} holds images that this tool '
                         'did not write (no meta/arguments.json); choose another OUT_DIR')
    written = 0
    for split, entries in files.items():
        for i, (path, label) in enumerate(entries):
            if path.exists():
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(render(label, image_rng(args.seed, split, i), args.size)).save(path)
            written += 1
    meta = out_dir / 'meta'
    meta.mkdir(exist_ok=True)
    record.write_text(json.dumps(arguments) + '\n')
    tenth = [path.relative_to(out_dir / 'unlabelled').as_posix()
             for path, _ in files['unlabelled'][:args.pool // 10]]
    (meta / 'unlabelled_10pct.txt').write_text('\n'.join(tenth) + '\n')
    print(f'{out_dir}: {args.pool} unlabelled images ({len(tenth)} in '
          f'meta/unlabelled_10pct.txt), {len(files["train"])} labelled for the k-NN bank, '
          f'{len(files["val"])} held out; {written} written, the rest already there')


if __name__ == '__main__':
    main()
