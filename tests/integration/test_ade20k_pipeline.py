"""ADE20K UPerNet configs run end to end: training from a SimMIM checkpoint, then IoUMetric.

The dataset is written in ADEChallengeData2016's layout (``images/{training,validation}/*.jpg``,
``annotations/{training,validation}/*.png`` where 0 is "other", ignored through
reduce_zero_label, and 1..150 are the classes) and the configs are shrunk only through
``--cfg-options``, as a user would. The metric saves its predictions (``output_dir``), and
the logged mIoU and aAcc are recomputed from them and the annotations.
"""
import numpy as np
import pytest
import torch
from dense_pipeline_utils import (load_state_dict, read_scalars, save_simmim_checkpoint,
                                  tiny_backbone_options, train)
from PIL import Image

IMG_W, IMG_H = 96, 64


def write_ade_split(root, split, num_images, rng):
    (root / 'images' / split).mkdir(parents=True)
    (root / 'annotations' / split).mkdir(parents=True)
    for i in range(num_images):
        # Three vertical bands of classes 1..150, "other" (0) at the top rows, each class
        # with its own colour so that there is something to learn.
        classes = rng.choice(np.arange(1, 151), 3, replace=False)
        label = np.repeat(classes, IMG_W // 3)[None].repeat(IMG_H, 0).astype(np.uint8)
        label[:8] = 0
        img = (label[..., None] * np.array([37, 91, 53]) % 251).astype(np.uint8)
        img = np.clip(img + rng.integers(0, 20, img.shape), 0, 255).astype(np.uint8)
        name = f'ADE_{split[:5]}_{i:08d}'
        Image.fromarray(img).save(root / 'images' / split / f'{name}.jpg')
        Image.fromarray(label).save(root / 'annotations' / split / f'{name}.png')


@pytest.fixture(scope='module')
def ade_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('ade') / 'ADEChallengeData2016'
    rng = np.random.default_rng(0)
    write_ade_split(root, 'training', 4, rng)
    write_ade_split(root, 'validation', 2, rng)
    return root


@pytest.fixture(scope='module')
def simmim_checkpoint(tmp_path_factory):
    return save_simmim_checkpoint(tmp_path_factory.mktemp('pretrain') / 'iter_10.pth')


def iou_metrics(predictions, annotations):
    """ADE20K's mIoU and aAcc in %, written from their definitions: annotation 0 ("other") is
    ignored; a class's IoU is |pred & gt| / |pred | gt| over all images, averaged over the
    classes that occur in either."""
    intersection, union = np.zeros(151), np.zeros(151)
    correct = total = 0
    for gt_file in sorted(annotations.glob('*.png')):
        gt = np.array(Image.open(gt_file))
        pred = np.array(Image.open(predictions / gt_file.name))  # classes 1..150 as well
        assert pred.shape == gt.shape and pred.min() >= 1
        gt, pred = gt[gt != 0], pred[gt != 0]
        correct, total = correct + (gt == pred).sum(), total + gt.size
        for c in range(1, 151):
            intersection[c] += ((gt == c) & (pred == c)).sum()
            union[c] += ((gt == c) | (pred == c)).sum()
    seen = union > 0
    return dict(mIoU=100 * (intersection[seen] / union[seen]).mean(), aAcc=100 * correct / total)


def test_upernet_trains_from_simmim_checkpoint_and_evaluates(ade_root, simmim_checkpoint,
                                                             tmp_path):
    work_dir = tmp_path / 'work'
    options = {
        **tiny_backbone_options(),
        'model.backbone.img_size': 64,
        'model.backbone.init_cfg.checkpoint': str(simmim_checkpoint),
        'model.decode_head.in_channels': [16, 32, 64, 128],
        'model.decode_head.channels': 32,
        'model.auxiliary_head.in_channels': 64,
        'model.auxiliary_head.channels': 16,
        # 64x64 crops of images jittered around 64 px; the sliding test sees two windows
        # (stride 43) across each 96x64 validation image.
        'model.data_preprocessor.size': (64, 64),
        'train_dataloader.dataset.pipeline.2.scale': (256, 64),
        'train_dataloader.dataset.pipeline.3.crop_size': (64, 64),
        'val_dataloader.dataset.pipeline.1.scale': (256, 64),
        'model.test_cfg.crop_size': (64, 64),
        'model.test_cfg.stride': (43, 43),
        'train_dataloader.batch_size': 2,
        'train_cfg.max_iters': 2,
        'train_cfg.val_interval': 2,
        'default_hooks.checkpoint.interval': 2,
        'default_hooks.logger.interval': 1,
        'val_evaluator.output_dir': str(tmp_path / 'predictions'),
    }
    for loader in ('train_dataloader', 'val_dataloader'):
        options.update({f'{loader}.num_workers': 0, f'{loader}.persistent_workers': False,
                        f'{loader}.dataset.data_root': str(ade_root)})
    train('configs/ade20k/upernet_swinv2_b.py', work_dir, options)

    scalars = read_scalars(work_dir)
    losses = [s for s in scalars if 'loss' in s]
    assert [s['iter'] for s in losses] == [1, 2]
    for s in losses:
        assert np.isfinite(s['decode.loss_ce']) and np.isfinite(s['aux.loss_ce']), s
    metrics = next(s for s in scalars if 'mIoU' in s)
    expected = iou_metrics(tmp_path / 'predictions', ade_root / 'annotations' / 'validation')
    for key in ('mIoU', 'aAcc'):  # mmseg rounds to 2 decimals
        assert abs(metrics[key] - expected[key]) <= 0.005 + 1e-9, (key, metrics, expected)

    # The backbone started from the SimMIM checkpoint (window 12 -> 20 keeps every weight)
    # and was then trained: close to the checkpoint, yet changed.
    pretrained = torch.load(simmim_checkpoint, weights_only=True)['state_dict']
    trained = load_state_dict(work_dir / 'iter_2.pth')
    for key in ('backbone.patch_embed.proj.weight',
                'backbone.layers.2.blocks.0.attn.cpb_mlp.0.weight',
                'backbone.layers.3.blocks.0.mlp.fc2.weight'):
        assert torch.allclose(trained[key], pretrained[key], atol=1e-3), key
        assert not torch.equal(trained[key], pretrained[key]), key
