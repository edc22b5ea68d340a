"""COCO Mask R-CNN configs run end to end: training from a SimMIM checkpoint, then CocoMetric.

The dataset is written in COCO's own on-disk format (images + instances json with polygon
masks) and the configs are shrunk only through ``--cfg-options``, as a user would. The metric
writes its detections (``outfile_prefix``), and the logged mAPs are recomputed from them with
pycocotools' own evaluation.
"""
import json

import numpy as np
import pytest
import torch
from dense_pipeline_utils import (TINY_ARCH, load_state_dict, narrow_mask_rcnn_options,
                                  read_scalars, save_simmim_checkpoint, tiny_backbone_options,
                                  train)
from PIL import Image, ImageDraw

# The 80 category ids of COCO, in the order of mmdet's CocoDataset classes.
COCO_CAT_IDS = [
    *range(1, 12), *range(13, 26), 27, 28, *range(31, 45), *range(46, 66), 67, 70,
    *range(72, 83), *range(84, 91)
]
IMG_W, IMG_H = 96, 64


def write_coco_split(root, split, num_images, rng):
    """Write ``{split}/*.jpg`` and ``annotations/instances_{split}.json`` under ``root``."""
    from mmdet.datasets import CocoDataset
    (root / split).mkdir(parents=True)
    (root / 'annotations').mkdir(exist_ok=True)
    categories = [dict(id=i, name=n, supercategory='none')
                  for i, n in zip(COCO_CAT_IDS, CocoDataset.METAINFO['classes'])]
    images, annotations = [], []
    for img_id in range(1, num_images + 1):
        img = Image.fromarray(rng.integers(0, 60, (IMG_H, IMG_W, 3), dtype=np.uint8))
        draw = ImageDraw.Draw(img)
        # One rectangle and one triangle per image, each drawn with its polygon.
        x0, y0 = rng.integers(4, 30), rng.integers(4, 20)
        shapes = [[x0, y0, x0 + 40, y0, x0 + 40, y0 + 30, x0, y0 + 30],
                  [60, 50, 90, 50, 75, 10]]
        for k, poly in enumerate(shapes):
            poly = [float(v) for v in poly]
            draw.polygon(poly, fill=(200, 60 + 100 * k, 40))
            xs, ys = poly[0::2], poly[1::2]
            x, y, w, h = min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)
            annotations.append(dict(
                id=len(annotations) + 1, image_id=img_id, category_id=COCO_CAT_IDS[k * 16],
                segmentation=[poly], area=w * h / (2 if k else 1), bbox=[x, y, w, h],
                iscrowd=0))
        name = f'{img_id:012d}.jpg'
        img.save(root / split / name)
        images.append(dict(id=img_id, file_name=name, width=IMG_W, height=IMG_H))
    with open(root / 'annotations' / f'instances_{split}.json', 'w') as f:
        json.dump(dict(images=images, annotations=annotations, categories=categories), f)


@pytest.fixture(scope='module')
def coco_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('coco')
    rng = np.random.default_rng(0)
    write_coco_split(root, 'train2017', 4, rng)
    write_coco_split(root, 'val2017', 2, rng)
    return root


@pytest.fixture(scope='module')
def simmim_checkpoint(tmp_path_factory):
    return save_simmim_checkpoint(tmp_path_factory.mktemp('pretrain') / 'iter_10.pth')


def coco_data_options(root, validate=True):
    """Read the dataset at ``root`` in the main process; without ``validate``, train only."""
    loaders = ('train_dataloader', 'val_dataloader') if validate else ('train_dataloader', )
    options = {}
    for loader in loaders:
        options.update({f'{loader}.num_workers': 0, f'{loader}.persistent_workers': False,
                        f'{loader}.dataset.data_root': f'{root}/'})
    if validate:
        options['val_evaluator.ann_file'] = f'{root}/annotations/instances_val2017.json'
    else:
        options.update({'val_cfg': None, 'val_dataloader': None, 'val_evaluator': None})
    return options


def coco_map(ann_file, detections, kind):
    """(mAP over IoU 0.5:0.95, mAP at IoU 0.5) of a detections json, by pycocotools."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    ground_truth = COCO(str(ann_file))
    evaluation = COCOeval(ground_truth, ground_truth.loadRes(str(detections)), kind)
    evaluation.evaluate()
    evaluation.accumulate()
    evaluation.summarize()
    return evaluation.stats[0], evaluation.stats[1]


def test_mask_rcnn_trains_from_simmim_checkpoint_and_evaluates(
        coco_root, simmim_checkpoint, tmp_path):
    work_dir = tmp_path / 'work'
    options = {
        **tiny_backbone_options(),
        **narrow_mask_rcnn_options(),
        **coco_data_options(coco_root),
        'model.backbone.img_size': 64,
        'model.backbone.init_cfg.checkpoint': str(simmim_checkpoint),
        'model.neck.in_channels': [16, 32, 64, 128],
        # LSJ: RandomResize around 64 px, 64x64 crops, padded to 64x64 in the batch.
        'train_dataloader.dataset.pipeline.2.scale': (64, 64),
        'train_dataloader.dataset.pipeline.3.crop_size': (64, 64),
        'model.data_preprocessor.batch_augments.0.size': (64, 64),
        'val_dataloader.dataset.pipeline.1.scale': (IMG_W, IMG_H),
        # 4 images at 2 per batch: one epoch is the 2 training iterations, then validation.
        'train_dataloader.batch_size': 2,
        'train_cfg.max_epochs': 1,
        # An untrained head scores every class about 1/81: keep its boxes so that the
        # metric has detections to match against the ground truth.
        'model.test_cfg.rcnn.score_thr': 0.0,
        'default_hooks.logger.interval': 1,
        'val_evaluator.outfile_prefix': str(tmp_path / 'detections'),
    }
    train('configs/coco/mask_rcnn_swinv2_b.py', work_dir, options)

    scalars = read_scalars(work_dir)
    assert [s['iter'] for s in scalars if 'loss' in s] == [1, 2]
    for s in scalars:
        if 'loss' in s:
            for key in ('loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'loss_bbox', 'loss_mask'):
                assert np.isfinite(s[key]), (key, s)
    # CocoMetric logs these only when it evaluated a non-empty set of detections.
    metrics = next(s for s in scalars if 'coco/bbox_mAP' in s)
    for kind in ('bbox', 'segm'):  # mmdet rounds to 3 decimals
        expected = coco_map(coco_root / 'annotations' / 'instances_val2017.json',
                            tmp_path / f'detections.{kind}.json', kind)
        logged = metrics[f'coco/{kind}_mAP'], metrics[f'coco/{kind}_mAP_50']
        assert np.allclose(logged, expected, atol=5e-4 + 1e-9), (kind, logged, expected)

    # The backbone started from the SimMIM checkpoint (window 12 -> 14 keeps every weight)
    # and was then trained: close to the checkpoint, yet changed.
    pretrained = torch.load(simmim_checkpoint, weights_only=True)['state_dict']
    trained = load_state_dict(work_dir / 'epoch_1.pth')
    for key in ('backbone.patch_embed.proj.weight',
                'backbone.layers.2.blocks.0.attn.cpb_mlp.0.weight',
                'backbone.layers.3.blocks.0.mlp.fc2.weight'):
        assert torch.allclose(trained[key], pretrained[key], atol=1e-3), key
        assert not torch.equal(trained[key], pretrained[key]), key


def test_mmdet_mask_rcnn_config_takes_our_backbone(coco_root, tmp_path):
    """mmdet's shipped Mask R-CNN config with its ResNet swapped for our SwinV2."""
    config = tmp_path / 'mask-rcnn_swinv2-tiny_fpn_1x_coco.py'
    config.write_text(
        "_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'\n"
        "custom_imports = dict(imports=['mim_scaling'], allow_failed_imports=False)\n"
        'model = dict(\n'
        '    backbone=dict(\n'
        "        _delete_=True, type='mim_scaling.SwinV2',\n"
        f'        arch={TINY_ARCH!r},\n'
        '        window_size=7, out_indices=(0, 1, 2, 3)),\n'
        '    neck=dict(in_channels=[16, 32, 64, 128]))\n')
    work_dir = tmp_path / 'work'
    options = {
        **narrow_mask_rcnn_options(),
        **coco_data_options(coco_root, validate=False),
        'train_dataloader.dataset.pipeline.2.scale': (IMG_W, IMG_H),
        # 4 images at 4 per batch: one iteration.
        'train_dataloader.batch_size': 4,
        'train_cfg.max_epochs': 1,
        'default_hooks.logger.interval': 1,
    }
    train(str(config), work_dir, options)

    scalars = read_scalars(work_dir)
    losses = [s for s in scalars if 'loss' in s]
    assert [s['iter'] for s in losses] == [1]
    assert np.isfinite(losses[0]['loss'])
    trained = load_state_dict(work_dir / 'epoch_1.pth')
    assert 'backbone.layers.0.blocks.0.attn.cpb_mlp.0.weight' in trained
    assert trained['neck.lateral_convs.0.conv.weight'].shape[1] == 16
