"""Render the miniature's image set: eight classes of shapes, a few labels, a larger pool.

    python tools/misc/make_shapes.py data/shapes

Every image is 32x32 RGB: one shape (disk, ring, square, frame, triangle, plus, star or
crescent) of random size, position, rotation and colour on a background of another random
colour. What tells the classes apart is the outline alone: colours, brightness and position
carry no label, so features that only summarise colours (what a randomly initialised
encoder mostly gives) do poorly, and features that model outlines (what predicting masked
pixels has to learn) do well. The background and the shape are flat on purpose: SimMIM's
target divides each pixel by the spread of its window, which turns any small variation of a
flat area (noise, the 8-bit steps of a slow gradient) into unpredictable unit-variance
noise; with flat areas the target is 0 there and all of it is in the outlines.

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
from PIL import Image, ImageDraw

CLASSES = ('disk', 'ring', 'square', 'frame', 'triangle', 'plus', 'star', 'crescent')
SIZE = 32
_SUPERSAMPLE = 8  # drawn at 8x and reduced: anti-aliased outlines
_SPLIT_IDS = {'unlabelled': 0, 'train': 1, 'val': 2}


def _polygon(cx: float, cy: float, radii: List[float], angle: float) -> List[Tuple[float, float]]:
    """Vertices at equal angular steps from ``angle``, at the given distances from the centre."""
    step = 2 * math.pi / len(radii)
    return [(cx + r * math.cos(angle + i * step), cy + r * math.sin(angle + i * step))
            for i, r in enumerate(radii)]


def _draw_shape(draw: ImageDraw.ImageDraw, name: str, cx: float, cy: float, r: float,
                angle: float, fill: tuple, background: tuple) -> None:
    """One shape of outer radius ``r`` (in supersampled pixels) centred on (cx, cy)."""
    box = (cx - r, cy - r, cx + r, cy + r)
    if name in ('disk', 'ring', 'crescent'):
        draw.ellipse(box, fill=fill)
        if name == 'ring':
            inner = 0.55 * r
            draw.ellipse((cx - inner, cy - inner, cx + inner, cy + inner), fill=background)
        elif name == 'crescent':  # a disk bitten by a disk of the background, off-centre
            ox, oy = cx + 0.5 * r * math.cos(angle), cy + 0.5 * r * math.sin(angle)
            bite = 0.85 * r
            draw.ellipse((ox - bite, oy - bite, ox + bite, oy + bite), fill=background)
    elif name in ('square', 'frame'):
        draw.polygon(_polygon(cx, cy, [r] * 4, angle), fill=fill)
        if name == 'frame':
            draw.polygon(_polygon(cx, cy, [0.55 * r] * 4, angle), fill=background)
    elif name == 'triangle':
        draw.polygon(_polygon(cx, cy, [r] * 3, angle), fill=fill)
    elif name == 'star':
        draw.polygon(_polygon(cx, cy, [r, 0.42 * r] * 5, angle), fill=fill)
    elif name == 'plus':
        arm = 0.32 * r  # half the width of an arm
        for a in (angle, angle + math.pi / 2):
            c, s = math.cos(a), math.sin(a)
            draw.polygon([(cx + u * c - v * s, cy + u * s + v * c)
                          for u, v in ((-r, -arm), (r, -arm), (r, arm), (-r, arm))], fill=fill)
    else:
        raise ValueError(f'unknown shape {name!r}; classes are {CLASSES}')


def render(label: int, rng: np.random.Generator) -> np.ndarray:
    """A (32, 32, 3) uint8 image of class ``CLASSES[label]``, drawn from ``rng``."""
    big = SIZE * _SUPERSAMPLE
    background = rng.integers(0, 256, size=3)
    # The shape: a colour at least 90 (of 255, summed over channels) away from the
    # background, so that every outline is visible.
    r = rng.uniform(0.22, 0.40) * SIZE
    cx, cy = rng.uniform(r, SIZE - r, size=2)
    while True:
        fill = rng.integers(0, 256, size=3)
        if np.abs(fill - background).sum() >= 90:
            break
    # Drawn as a mask at 8x (the background colour cut out of it is "off"), then blended.
    mask = Image.new('L', (big, big), 0)
    _draw_shape(ImageDraw.Draw(mask), CLASSES[label], cx * _SUPERSAMPLE, cy * _SUPERSAMPLE,
                r * _SUPERSAMPLE, rng.uniform(0, 2 * math.pi), 255, 0)
    alpha = np.asarray(mask.resize((SIZE, SIZE), Image.BOX), dtype=np.float64)[..., None] / 255
    image = background * (1 - alpha) + fill * alpha
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


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
    parser.add_argument('out_dir', help='folder to write (e.g. data/shapes)')
    parser.add_argument('--pool', type=int, default=4000,
                        help='unlabelled images for pre-training (default 4000)')
    parser.add_argument('--train-per-class', type=int, default=10,
                        help='labelled images per class, the k-NN bank (default 10)')
    parser.add_argument('--val-per-class', type=int, default=40,
                        help='held-out labelled images per class (default 40: 320 in all)')
    parser.add_argument('--seed', type=int, default=0, help='random seed (default 0)')
    args = parser.parse_args(argv)
    for name in ('pool', 'train_per_class', 'val_per_class'):
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
                 for name in ('pool', 'train_per_class', 'val_per_class', 'seed')}
    if record.exists() and json.loads(record.read_text()) != arguments:
        raise SystemExit(f'tools/misc/make_shapes.py: {out_dir} was written with '
                         f'{record.read_text().strip()}, not {json.dumps(arguments)}; remove it '
                         'or choose another OUT_DIR')
    if not record.exists() and any(out_dir.glob('**/*.png')):
        raise SystemExit(f'tools/misc/make_shapes.py: {out_dir} holds images that this tool '
                         'did not write (no meta/arguments.json); choose another OUT_DIR')
    written = 0
    for split, entries in files.items():
        for i, (path, label) in enumerate(entries):
            if path.exists():
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(render(label, image_rng(args.seed, split, i))).save(path)
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
