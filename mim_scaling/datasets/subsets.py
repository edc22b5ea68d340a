"""Class-balanced, nested, seeded subsets of an image classification training set.

The study pre-trains on 10%, 20% and 50% of ImageNet-1K train. Every class keeps the same
fraction of its images (``round(fraction * n)``, at least one), so a subset has the class
distribution of the full set and no class is lost. An image's place in its class is the
SHA-256 of ``'<seed>:<path>'``: a subset takes the first images of that order, which makes
the subsets nested (10% within 20% within 50%), the same for the same seed on any machine,
Python or NumPy version, and independent of the order in which images were listed.

The sets are read from one folder per class (``train/<wnid>/*.JPEG``, labels are the
positions of the sorted folder names, as mmpretrain's ``ImageNet`` gives them) or from an
mmpretrain annotation file (``<path> <label>`` per line), and written in that format.
"""
import hashlib
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Sequence, Tuple

# mmpretrain's ImageNet.IMG_EXTENSIONS: the files its folder scan takes as images.
IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif')
STUDY_FRACTIONS = (0.1, 0.2, 0.5)


@dataclass
class ImageClass:
    """One class of a training set: its label, a name to print, and its image paths."""
    label: int
    name: str
    paths: List[str]


def read_class_folders(image_dir: str) -> List[ImageClass]:
    """The classes of a one-folder-per-class layout; paths are relative to ``image_dir``."""
    image_dir = Path(image_dir)
    if not image_dir.is_dir():
        raise FileNotFoundError(f'{image_dir} is not a folder: expected one folder per class '
                                f'with the images inside (e.g. {image_dir}/n01440764/*.JPEG)')
    folders = sorted(p.name for p in image_dir.iterdir() if p.is_dir())
    if not folders:
        raise ValueError(f'{image_dir} has no class folders: expected one folder per class '
                         f'with the images inside (e.g. {image_dir}/n01440764/*.JPEG)')
    classes = []
    for label, folder in enumerate(folders):
        paths = []
        for parent, _, files in os.walk(image_dir / folder):
            rel = Path(parent).relative_to(image_dir).as_posix()
            paths += [f'{rel}/{f}' for f in files if f.lower().endswith(IMG_EXTENSIONS)]
        if not paths:
            raise ValueError(f'class folder {image_dir / folder} is empty: it holds no image '
                             f'({", ".join(IMG_EXTENSIONS)})')
        classes.append(ImageClass(label, folder, sorted(paths)))
    return classes


def read_image_folder(image_dir: str) -> List[ImageClass]:
    """Unlabelled images lying directly in ``image_dir``, as one class of label 0 (what a
    folder of one's own photographs gives; ``CustomDataset`` reads the subsets with
    ``with_label=True``)."""
    image_dir = Path(image_dir)
    if not image_dir.is_dir():
        raise FileNotFoundError(f'{image_dir} is not a folder of images')
    paths = sorted(p.name for p in image_dir.iterdir()
                   if p.is_file() and p.name.lower().endswith(IMG_EXTENSIONS))
    if not paths:
        raise ValueError(f'{image_dir} holds no image ({", ".join(IMG_EXTENSIONS)})')
    return [ImageClass(0, image_dir.name, paths)]


def read_annotation_file(ann_file: str) -> List[ImageClass]:
    """The classes of an mmpretrain annotation file (``<path> <label>`` per line)."""
    by_label: Dict[int, List[str]] = {}
    with open(ann_file) as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            path, _, label = line.strip().rpartition(' ')
            if not path or not label.isdigit():
                raise ValueError(f'{ann_file}, line {number}: expected "<image path> <label>", '
                                 f'got {line.strip()!r}')
            by_label.setdefault(int(label), []).append(path)
    if not by_label:
        raise ValueError(f'annotation file {ann_file} lists no image')
    empty = sorted(set(range(max(by_label) + 1)) - set(by_label))
    if empty:
        raise ValueError(f'{ann_file}: class{"es" if len(empty) > 1 else ""} '
                         f'{_shorten(empty)} {"have" if len(empty) > 1 else "has"} no image '
                         f'(labels run from 0 to {max(by_label)})')
    return [ImageClass(label, str(label), sorted(paths)) for label, paths in
            sorted(by_label.items())]


def check_fraction(fraction: float) -> float:
    if not 0 < fraction <= 1:
        raise ValueError(f'subset fraction {fraction} is outside (0, 1]')
    return fraction


def subset_size(fraction: float, num_images: int) -> int:
    """Images a class of ``num_images`` keeps: the fraction rounded half up, at least one."""
    return max(1, math.floor(check_fraction(fraction) * num_images + 0.5))


def make_subsets(classes: Sequence[ImageClass], fractions: Iterable[float],
                 seed: int = 0) -> Dict[float, List[Tuple[str, int]]]:
    """``{fraction: [(path, label), ...]}``, class-balanced and nested (see module doc)."""
    fractions = sorted(set(check_fraction(f) for f in fractions))
    subsets: Dict[float, List[Tuple[str, int]]] = {f: [] for f in fractions}
    for cls in classes:
        order = sorted(cls.paths, key=lambda p: hashlib.sha256(f'{seed}:{p}'.encode()).digest())
        for fraction in fractions:
            kept = sorted(order[:subset_size(fraction, len(order))])
            subsets[fraction] += [(path, cls.label) for path in kept]
    return subsets


def annotation_name(fraction: float) -> str:
    """``train_10pct.txt`` for 0.1: the file the subset configs read."""
    return f'train_{check_fraction(fraction) * 100:g}pct.txt'


def format_annotations(samples: Sequence[Tuple[str, int]]) -> str:
    return ''.join(f'{path} {label}\n' for path, label in samples)


def count_table(classes: Sequence[ImageClass],
                subsets: Mapping[float, Sequence[Tuple[str, int]]]) -> str:
    """Images per class in the full set and in each subset, with a total line."""
    fractions = sorted(subsets)
    counts = {f: {} for f in fractions}
    for f in fractions:
        for _, label in subsets[f]:
            counts[f][label] = counts[f].get(label, 0) + 1
    width = max([len(c.name) for c in classes] + [5])
    head = ['class'.ljust(width), f'{"all":>8}'] + [f'{f * 100:>7g}%' for f in fractions]
    lines = [' '.join(head)]
    for c in classes:
        lines.append(' '.join([c.name.ljust(width), f'{len(c.paths):>8}'] +
                              [f'{counts[f].get(c.label, 0):>8}' for f in fractions]))
    lines.append(' '.join(['total'.ljust(width), f'{sum(len(c.paths) for c in classes):>8}'] +
                          [f'{len(subsets[f]):>8}' for f in fractions]))
    return '\n'.join(lines)


def _shorten(values: Sequence[int], shown: int = 10) -> str:
    text = ', '.join(map(str, values[:shown]))
    return text + (f' and {len(values) - shown} more' if len(values) > shown else '')
