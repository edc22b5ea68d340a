"""tools/misc/make_shapes.py: the miniature's rendered image set."""
import hashlib
from collections import Counter

import numpy as np
import pytest
from PIL import Image

from tool_scripts import call_tool, load_tool

make_shapes = load_tool('misc/make_shapes.py')
SMALL = ['--pool', '30', '--train-per-class', '2', '--val-per-class', '3']


def digest(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.glob('**/*.png'))}


def test_the_same_arguments_give_the_same_files(tmp_path):
    make_shapes.main([str(tmp_path / 'a'), *SMALL])
    make_shapes.main([str(tmp_path / 'b'), *SMALL])
    assert digest(tmp_path / 'a') == digest(tmp_path / 'b') != {}
    make_shapes.main([str(tmp_path / 'c'), *SMALL, '--seed', '1'])
    assert digest(tmp_path / 'c').keys() == digest(tmp_path / 'a').keys()
    assert digest(tmp_path / 'c') != digest(tmp_path / 'a')
    # A larger pool begins with the smaller one's images.
    make_shapes.main([str(tmp_path / 'd'), '--pool', '60', '--train-per-class', '2',
                      '--val-per-class', '3'])
    small, large = digest(tmp_path / 'a'), digest(tmp_path / 'd')
    assert all(large[name] == h for name, h in small.items() if name.startswith('unlabelled'))


def test_classes_are_balanced_and_the_layout_is_as_documented(tmp_path):
    make_shapes.main([str(tmp_path), *SMALL])
    for split, per_class in (('train', 2), ('val', 3)):
        counts = Counter(p.parent.name for p in (tmp_path / split).glob('*/*.png'))
        assert counts == {name: per_class for name in make_shapes.CLASSES}
    assert len(list((tmp_path / 'unlabelled').glob('*.png'))) == 30
    tenth = (tmp_path / 'meta' / 'unlabelled_10pct.txt').read_text().split()
    assert tenth == ['00000.png', '00001.png', '00002.png']
    with Image.open(tmp_path / 'val' / 'ring' / '00001.png') as image:
        assert image.size == (32, 32) and image.mode == 'RGB'


def test_an_image_is_a_flat_shape_on_a_flat_background():
    rng = make_shapes.image_rng(0, 'train', 0)
    image = make_shapes.render(make_shapes.CLASSES.index('square'), rng).astype(int)
    # The corners are background (a shape stays inside its bounding box, away from them).
    background = image[0, 0]
    colours, counts = np.unique(image.reshape(-1, 3), axis=0, return_counts=True)
    fill = colours[np.argsort(counts)[-2]]  # the second most frequent colour
    assert np.abs(fill - background).sum() >= 90
    on_background = (image == background).all(-1).mean()
    on_shape = (image == fill).all(-1).mean()
    # A square of radius 7-13 px covers 10-33% of the image; the rest but its anti-aliased
    # outline is the background.
    assert 0.05 < on_shape < 0.35 and on_background + on_shape > 0.85


def test_other_arguments_in_the_same_folder_are_refused(tmp_path):
    make_shapes.main([str(tmp_path), *SMALL])
    make_shapes.main([str(tmp_path), *SMALL])  # the same: nothing to do
    assert 'was written with' in call_tool('misc/make_shapes.py', tmp_path, *SMALL,
                                           '--seed', '3')
    with pytest.raises(SystemExit):
        make_shapes.parse_args([str(tmp_path), '--pool', '5'])
