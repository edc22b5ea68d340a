"""tools/misc/prepare_lfw_subset.py: scikit-image's 100 faces and 100 non-faces in class
folders, split per class into training and validation images by a seed, pixels unchanged."""
import numpy as np
import pytest
from PIL import Image
from skimage import data

from tool_scripts import call_tool

TOOL = 'misc/prepare_lfw_subset.py'


def listing(root):
    return {split: {c: sorted(p.name for p in (root / split / c).glob('*.png'))
                    for c in ('face', 'non-face')} for split in ('train', 'val')}


def test_each_class_is_split_80_20_and_the_pixels_are_lfw_subsets(tmp_path):
    assert call_tool(TOOL, tmp_path) is None
    files = listing(tmp_path)
    for c in ('face', 'non-face'):
        assert (len(files['train'][c]), len(files['val'][c])) == (80, 20)
        assert not set(files['train'][c]) & set(files['val'][c])
    indices = {c: {int(n[:3]) for s in files for n in files[s][c]} for c in ('face', 'non-face')}
    # lfw_subset: the first 100 images are faces, the other 100 are not
    assert indices == {'face': set(range(100)), 'non-face': set(range(100, 200))}

    images = data.lfw_subset()
    name = files['val']['non-face'][0]
    with Image.open(tmp_path / 'val' / 'non-face' / name) as image:
        assert image.mode == 'L' and image.size == (25, 25)
        pixels = np.asarray(image)
    assert np.abs(pixels / 255 - images[int(name[:3])]).max() <= 0.5 / 255


def test_the_split_is_fixed_by_the_seed_and_never_mixed_with_another(tmp_path):
    call_tool(TOOL, tmp_path / 'a')
    call_tool(TOOL, tmp_path / 'b')
    call_tool(TOOL, tmp_path / 'c', '--seed', '1')
    assert listing(tmp_path / 'a') == listing(tmp_path / 'b') != listing(tmp_path / 'c')
    assert call_tool(TOOL, tmp_path / 'a') is None  # again: the same files
    message = call_tool(TOOL, tmp_path / 'a', '--seed', '1')
    assert 'of another split' in message and 'another --seed' in message


@pytest.mark.parametrize('fraction', ['0', '1', '0.001'])
def test_a_split_without_images_on_one_side_is_refused(tmp_path, fraction):
    message = call_tool(TOOL, tmp_path, '--val-fraction', fraction)
    assert 'both splits need at least one' in message
    assert not (tmp_path / 'train').exists()
