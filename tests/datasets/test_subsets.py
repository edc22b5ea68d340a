"""The study's ImageNet-1K subsets: class-balanced, nested, the same for the same seed."""
import random
import re

import pytest

from mim_scaling.datasets.subsets import (annotation_name, make_subsets, read_annotation_file,
                                          read_class_folders, subset_size)

# class folder -> images; sizes chosen so that 10/20/50% round differently per class
SIZES = {'n01440764': 40, 'n01443537': 25, 'n01484850': 7}
FRACTIONS = (0.1, 0.2, 0.5)


def write_class_folders(image_dir, sizes=SIZES):
    for wnid, n in sizes.items():
        for i in range(n):
            # ImageNet's own file names, and one class with a nested folder
            sub = 'extra/' if wnid == 'n01484850' and i % 2 else ''
            path = image_dir / wnid / f'{sub}{wnid}_{i}.JPEG'
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b'')  # the subset maker never opens the images
    (image_dir / 'n01440764' / 'notes.txt').write_text('not an image')


@pytest.fixture
def classes(tmp_path):
    write_class_folders(tmp_path / 'train')
    return read_class_folders(tmp_path / 'train')


def test_folders_are_classes_in_sorted_order_with_their_images(classes):
    assert [(c.label, c.name, len(c.paths)) for c in classes] == [
        (0, 'n01440764', 40), (1, 'n01443537', 25), (2, 'n01484850', 7)]
    assert 'n01484850/extra/n01484850_1.JPEG' in classes[2].paths
    assert not any(p.endswith('.txt') for c in classes for p in c.paths)


def test_every_class_keeps_the_same_fraction_of_its_images(classes):
    subsets = make_subsets(classes, FRACTIONS, seed=0)
    for fraction, samples in subsets.items():
        per_class = {c.label: 0 for c in classes}
        for _, label in samples:
            per_class[label] += 1
        # round half up, never below one image: 40 -> 4/8/20, 25 -> 3/5/13, 7 -> 1/1/4
        assert per_class == {0.1: {0: 4, 1: 3, 2: 1}, 0.2: {0: 8, 1: 5, 2: 1},
                             0.5: {0: 20, 1: 13, 2: 4}}[fraction]
    assert [len(subsets[f]) for f in FRACTIONS] == [4 + 3 + 1, 8 + 5 + 1, 20 + 13 + 4]
    assert [subset_size(f, 7) for f in (0.05, 0.5, 1.0)] == [1, 4, 7]


def test_subsets_are_nested_and_hold_only_their_class_images(classes):
    subsets = make_subsets(classes, FRACTIONS, seed=3)
    paths = {c.label: set(c.paths) for c in classes}
    small, medium, large = (set(subsets[f]) for f in FRACTIONS)
    assert small < medium < large
    assert all(path in paths[label] for path, label in large)
    assert len(large) == len(subsets[0.5])  # no image twice


def test_same_seed_same_subsets_whatever_the_listing_order(classes):
    first = make_subsets(classes, FRACTIONS, seed=7)
    for c in classes:
        random.Random(1).shuffle(c.paths)
    assert make_subsets(classes, FRACTIONS, seed=7) == first
    assert make_subsets(classes, [0.5], seed=8)[0.5] != first[0.5]


def test_annotation_file_gives_the_same_classes_as_the_folders(classes, tmp_path):
    lines = [f'{p} {c.label}' for c in classes for p in c.paths]
    random.Random(0).shuffle(lines)
    ann = tmp_path / 'train.txt'
    ann.write_text('\n'.join(lines) + '\n')
    from_file = read_annotation_file(ann)
    assert [(c.label, c.paths) for c in from_file] == [(c.label, c.paths) for c in classes]
    assert make_subsets(from_file, FRACTIONS, 0) == make_subsets(classes, FRACTIONS, 0)


def test_file_names_of_the_fractions():
    assert [annotation_name(f) for f in (0.1, 0.2, 0.5, 1.0, 0.125)] == [
        'train_10pct.txt', 'train_20pct.txt', 'train_50pct.txt', 'train_100pct.txt',
        'train_12.5pct.txt']


@pytest.mark.parametrize('fraction', [0, -0.1, 1.5])
def test_a_fraction_outside_0_1_is_an_error(classes, fraction):
    with pytest.raises(ValueError, match=rf'fraction {fraction} is outside \(0, 1\]'):
        make_subsets(classes, [0.1, fraction])


def test_a_root_without_class_folders_is_an_error(tmp_path):
    (tmp_path / 'flat').mkdir()
    (tmp_path / 'flat' / 'a.JPEG').write_bytes(b'')
    with pytest.raises(ValueError, match=re.escape(f'{tmp_path / "flat"} has no class folders')):
        read_class_folders(tmp_path / 'flat')
    with pytest.raises(FileNotFoundError, match='missing is not a folder'):
        read_class_folders(tmp_path / 'missing')


def test_an_empty_class_is_an_error(tmp_path):
    write_class_folders(tmp_path, {'n01440764': 3})
    (tmp_path / 'n01443537').mkdir()
    (tmp_path / 'n01443537' / 'readme.txt').write_text('no image here')
    empty = tmp_path / 'n01443537'
    with pytest.raises(ValueError, match=re.escape(f'class folder {empty} is empty')):
        read_class_folders(tmp_path)


def test_an_annotation_file_with_a_class_without_images_or_a_bad_line_is_an_error(tmp_path):
    ann = tmp_path / 'train.txt'
    ann.write_text('a/1.JPEG 0\nc/1.JPEG 2\n')
    with pytest.raises(ValueError, match='class 1 has no image'):
        read_annotation_file(ann)
    ann.write_text('a/1.JPEG 0\na/2.JPEG\n')
    with pytest.raises(ValueError, match='line 2: expected "<image path> <label>"'):
        read_annotation_file(ann)
