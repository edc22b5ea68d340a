"""Unreadable images (missing, empty, truncated, not an image): mim_scaling.LoadImageFromFile
names each one; through real dataloaders with workers, ``skip_unreadable_images=True`` skips
them and logs their count and names instead of stopping the run."""
import importlib
import io
import os.path as osp
import re

import numpy as np
import pytest
from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope
from PIL import Image
from torch.utils.data import DataLoader

from mim_scaling.safe_loading import safe_load
from mim_scaling.datasets import SkipUnreadableImages
from mim_scaling.datasets.transforms import LoadImageFromFile, UnreadableImageError
from mim_scaling.registry import DATASETS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
GOOD = ['good0.jpg', 'good1.jpg', 'good2.jpg']


def jpeg_bytes(size=64, seed=0):
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format='JPEG', quality=90)
    return buffer.getvalue()


def write_bad_images(folder):
    """The four kinds of unreadable file, as {path: words of the reason}."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / 'empty.jpg').write_bytes(b'')
    (folder / 'truncated.jpg').write_bytes(jpeg_bytes()[:1500])
    (folder / 'text.jpg').write_text('this is not an image\n')
    return {str(folder / 'empty.jpg'): 'empty file', str(folder / 'truncated.jpg'): 'truncated',
            str(folder / 'text.jpg'): 'not a decodable image',
            str(folder / 'missing.jpg'): 'file not found'}


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


def test_a_run_with_the_switch_trains_on_and_logs_count_and_names(
        tmp_path, monkeypatch, capsys):
    data = tmp_path / 'data'
    bad = [p for p in write_bad_images(data / 'train') if osp.exists(p)]  # found by scanning
    for i in range(2):
        (data / 'train' / f'good{i}.jpg').write_bytes(jpeg_bytes(seed=i))
    config = tmp_path / 'tiny.py'
    config.write_text(TINY_DEMO.format(demo=osp.join(REPO, 'configs', 'demo',
                                                     'simmim_swinv2-demo_300it_skimage.py'),
                                       data_root=str(data)))
    monkeypatch.syspath_prepend(osp.join(REPO, 'tools'))
    monkeypatch.setenv('LOCAL_RANK', '0')
    train = importlib.import_module('train')
    work_dir = tmp_path / 'work'
    train.main([str(config), '--work-dir', str(work_dir),
                '--cfg-options', 'skip_unreadable_images=True'])
    log = capsys.readouterr().out

    assert 'Iter(train) [1/1]' in log  # trained to the end
    # Every bad file was drawn at least once (the batch is the whole set); replacements
    # may draw a bad file again, which counts as another skipped sample.
    message = re.search(r'Skipped (\d+) samples with unreadable images by iteration 1, '
                        r'from 3 files .*', log)
    assert message and int(message.group(1)) >= 3, log[-3000:]
    for path in bad:
        assert message.group(0).count(f'{path}: ') == 1
    (listing, ) = work_dir.glob('*/unreadable_images.txt')
    listed = [line.split('\t')[0] for line in listing.read_text().splitlines()]
    assert sorted(listed) == sorted(bad)  # each file once
    # Aside: the Runner's checkpoint records the windows the backbone used (64 px, window 4).
    meta = safe_load(work_dir / 'iter_1.pth')['meta']
    assert meta['pretrained_window_sizes'] == [4, 4, 4, 2]


# The demo config at 64 px (window 4: token maps 16, 8, 4, 2): one batch of all 5 images,
# loaded by 2 workers; no validation.
TINY_DEMO = """
_base_ = ['{demo}']
model = dict(backbone=dict(img_size=64, window_size=4))
mask = dict(type='mim_scaling.SimMIMMaskGenerator', input_size=64, mask_patch_size=32,
            model_patch_size=4, mask_ratio=0.6)
train_pipeline = [dict(type='mim_scaling.LoadImageFromFile'),
                  dict(type='RandomResizedCrop', scale=64, backend='pillow'),
                  mask, dict(type='PackInputs')]
val_pipeline = [dict(type='mim_scaling.LoadImageFromFile'),
                dict(type='CenterCrop', crop_size=64), dict(mask, seed=0),
                dict(type='PackInputs')]
train_dataloader = dict(batch_size=5, num_workers=2,
                        dataset=dict(data_root='{data_root}', pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(data_root='{data_root}', pipeline=val_pipeline))
test_dataloader = val_dataloader
train_cfg = dict(max_iters=1)
val_cfg = val_dataloader = val_evaluator = None
param_scheduler = []
custom_hooks = []
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=1))
"""
