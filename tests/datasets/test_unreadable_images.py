"""Unreadable images (missing, empty, truncated, not an image): mim_scaling.LoadImageFromFile
names each one; through real dataloaders with workers, the ``SkipUnreadableImages`` wrapper
behind ``skip_unreadable_images=True`` skips and reports them instead of stopping (a whole
run with the switch: tests/tools/test_mmpretrain_train_tool.py)."""
import os.path as osp
import re

import pytest
from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope
from PIL import Image
from torch.utils.data import DataLoader

from mim_scaling.datasets import SkipUnreadableImages
from mim_scaling.datasets.transforms import LoadImageFromFile, UnreadableImageError
from mim_scaling.registry import DATASETS
from unreadable_files import jpeg_bytes, write_bad_images

GOOD = ['good0.jpg', 'good1.jpg', 'good2.jpg']


@pytest.mark.parametrize('backend', ['cv2', 'pillow'])
def test_each_unreadable_image_raises_an_error_naming_it(tmp_path, backend):
    load = LoadImageFromFile(imdecode_backend=backend)
    for path, reason in write_bad_images(tmp_path).items():
        with pytest.raises(UnreadableImageError) as info:
            load(dict(img_path=path))
        assert info.value.path == path
        assert path in str(info.value) and reason in str(info.value), str(info.value)


def test_readable_images_load_as_with_mmcv(tmp_path):
    (tmp_path / 'good.jpg').write_bytes(jpeg_bytes())
    # Bytes after the end-of-image marker (camera trailers) do not make a JPEG truncated.
    (tmp_path / 'trailer.jpg').write_bytes(jpeg_bytes() + b'trailing metadata')
    Image.new('RGB', (40, 30), (10, 20, 30)).save(tmp_path / 'good.png')
    for name, shape in [('good.jpg', (64, 64, 3)), ('trailer.jpg', (64, 64, 3)),
                        ('good.png', (30, 40, 3))]:
        results = LoadImageFromFile()(dict(img_path=str(tmp_path / name)))
        assert results['img'].shape == shape and results['ori_shape'] == shape[:2]
    assert results['img'][0, 0].tolist() == [30, 20, 10]  # BGR, as mmcv loads


def test_ignore_empty_keeps_its_mmcv_meaning(tmp_path):
    load = LoadImageFromFile(ignore_empty=True)
    assert all(load(dict(img_path=path)) is None for path in write_bad_images(tmp_path))


@pytest.fixture
def image_list(tmp_path):
    """A list file of 3 readable images and the 4 kinds of unreadable one (one missing)."""
    images = tmp_path / 'images'
    bad = write_bad_images(images)
    for i, name in enumerate(GOOD):
        (images / name).write_bytes(jpeg_bytes(seed=i))
    names = GOOD[:2] + [osp.basename(p) for p in bad] + GOOD[2:]
    (tmp_path / 'list.txt').write_text(''.join(f'{name}\n' for name in names))
    return tmp_path, bad


def dataset_cfg(root):
    return dict(type='CustomDataset', data_root=str(root), data_prefix='images',
                ann_file='list.txt', with_label=False,
                pipeline=[dict(type='mim_scaling.LoadImageFromFile'),
                          dict(type='PackInputs')])


def loader(dataset):
    return DataLoader(dataset, batch_size=2, num_workers=2, collate_fn=pseudo_collate)


def test_without_the_switch_the_first_bad_image_stops_loading_and_is_named(image_list):
    root, bad = image_list
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        dataset = DATASETS.build(dataset_cfg(root))
    iterator = iter(loader(dataset))
    with pytest.raises(Exception) as info:
        for _ in iterator:
            pass
    message = str(info.value)
    del info, iterator  # stops the workers now rather than when a later test collects them
    # The batch of images 2 and 3 holds the first unreadable file, the empty one.
    assert 'cannot read image' in message
    assert re.search(re.escape(osp.join(str(root), 'images', 'empty.jpg')) + r': empty file',
                     message)


def test_skipping_wrapper_replaces_each_bad_image_and_reports_all(image_list):
    root, bad = image_list
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        dataset = SkipUnreadableImages(dataset_cfg(root))
    samples = [s for batch in loader(dataset) for s in batch['data_samples']]

    assert len(samples) == len(dataset) == 7
    assert all(osp.basename(s.img_path) in GOOD for s in samples)
    reports = dataset.new_reports()  # written by the two workers
    assert {path for path, _ in reports} == set(bad)
    for path, reason in reports:
        assert bad[path] in reason, (path, reason)
    assert dataset.new_reports() == []  # each report is read once
