"""tools/misc/make_patterns.py: the miniature's and the demo's rendered image set."""
import hashlib
from collections import Counter

import numpy as np
import pytest
from PIL import Image

from tool_scripts import call_tool, load_tool

make_patterns = load_tool('misc/make_patterns.py')
SMALL = ['--pool', '30', '--train-per-class', '2', '--val-per-class', '3']


def digest(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.glob('**/*.png'))}


def test_the_same_arguments_give_the_same_files(tmp_path):
    make_patterns.main([str(tmp_path / 'a'), *SMALL])
    make_patterns.main([str(tmp_path / 'b'), *SMALL])
    assert digest(tmp_path / 'a') == digest(tmp_path / 'b') != {}
    make_patterns.main([str(tmp_path / 'c'), *SMALL, '--seed', '1'])
    assert digest(tmp_path / 'c').keys() == digest(tmp_path / 'a').keys()
    assert digest(tmp_path / 'c') != digest(tmp_path / 'a')
    # A larger pool begins with the smaller one's images.
    make_patterns.main([str(tmp_path / 'd'), '--pool', '60', '--train-per-class', '2',
                        '--val-per-class', '3'])
    small, large = digest(tmp_path / 'a'), digest(tmp_path / 'd')
    assert all(large[name] == h for name, h in small.items() if name.startswith('unlabelled'))


def test_classes_are_balanced_and_the_layout_is_as_documented(tmp_path):
    make_patterns.main([str(tmp_path), *SMALL, '--size', '48'])
    for split, per_class in (('train', 2), ('val', 3)):
        counts = Counter(p.parent.name for p in (tmp_path / split).glob('*/*.png'))
        assert counts == {name: per_class for name in make_patterns.CLASSES}
    assert len(list((tmp_path / 'unlabelled').glob('*.png'))) == 30
    tenth = (tmp_path / 'meta' / 'unlabelled_10pct.txt').read_text().split()
    assert tenth == ['00000.png', '00001.png', '00002.png']
    with Image.open(tmp_path / 'val' / 'rings' / '00006.png') as image:
        assert image.size == (48, 48) and image.mode == 'RGB'


@pytest.mark.parametrize('name', make_patterns.CLASSES)
def test_an_image_is_grey_with_two_levels_at_least_80_apart(name):
    image = make_patterns.render(make_patterns.CLASSES.index(name),
                                 make_patterns.image_rng(0, 'val', 3), size=32).astype(int)
    assert (image == image[..., :1]).all()  # R = G = B
    assert image.max() - image.min() >= make_patterns.MIN_CONTRAST - 2  # less anti-aliasing


def test_stripes_repeat_with_their_period_and_are_constant_along_them():
    # Horizontal stripes of period 10 px (the angle and period drawn as the renderer does).
    class Drawn:
        def uniform(self, low, high, size=None):
            return {(0, 2 * np.pi): np.pi / 2, (0.25, 0.5): 10 / 40, (0, 1): 0.0}[(low, high)]

    stripes = make_patterns.pattern('stripes', Drawn(), size=40)
    np.testing.assert_allclose(stripes, stripes[:, :1].repeat(40, axis=1), atol=1e-9)
    np.testing.assert_allclose(stripes[10:], stripes[:-10], atol=1e-9)
    assert stripes.max() - stripes.min() > 0.9


def test_other_arguments_in_the_same_folder_are_refused(tmp_path):
    make_patterns.main([str(tmp_path), *SMALL])
    make_patterns.main([str(tmp_path), *SMALL])  # the same: nothing to do
    assert 'was written with' in call_tool('misc/make_patterns.py', tmp_path, *SMALL,
                                           '--seed', '3')
    assert 'was written with' in call_tool('misc/make_patterns.py', tmp_path, *SMALL,
                                           '--size', '64')
    with pytest.raises(SystemExit):
        make_patterns.parse_args([str(tmp_path), '--pool', '5'])
