"""Helpers of the ImageNet-1K and iNaturalist 2018 pipeline tests."""
import pickle

import numpy as np
import torch
from dense_pipeline_utils import (REPO, TINY_ARCH, load_state_dict, read_scalars,
                                  tiny_backbone_options)
from PIL import Image


def write_image(path, rng):
    """A small photo-like JPEG: a colour gradient plus noise, 80x60."""
    y, x = np.mgrid[0:60, 0:80]
    img = np.stack([x * 3, y * 4, (x + y) * 2], -1) + rng.integers(0, 40, (60, 80, 3))
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(path, quality=90)


def classification_options(data_root, checkpoint):
    """Tiny backbone from ``checkpoint``, data under ``data_root``; the real pipelines."""
    options = {
        **tiny_backbone_options(),
        'model.backbone.init_cfg.checkpoint': str(checkpoint),
        'model.head.in_channels': 8 * TINY_ARCH['embed_dims'],
        # 4 images at 2 per batch: one epoch is the 2 training iterations, then validation.
        'train_dataloader.batch_size': 2,
        'val_dataloader.batch_size': 2,
        'train_cfg.max_epochs': 1,
        'default_hooks.logger.interval': 1,
    }
    for loader in ('train_dataloader', 'val_dataloader'):
        options.update({f'{loader}.num_workers': 0, f'{loader}.persistent_workers': False,
                        f'{loader}.dataset.data_root': str(data_root)})
    return options


def dumping_predictions(config, tmp_path):
    """A config that is ``config`` with mmengine's ``DumpResults`` added to its validation
    metrics: the predictions go to ``tmp_path / 'predictions.pkl'``."""
    path = tmp_path / f'{tmp_path.name}_dumping.py'
    path.write_text(f"_base_ = ['{REPO / config}']\n"
                    "val_evaluator = [{{_base_.val_evaluator}}, dict(type='DumpResults', "
                    f"out_file_path='{tmp_path / 'predictions.pkl'}')]\n")
    return str(path)


def top_k_accuracy(predictions, k):
    """The share in % of samples whose label scores below fewer than k classes."""
    hits = [int((p['pred_score'] > p['pred_score'][p['gt_label']]).sum()) < k
            for p in predictions]
    return 100 * sum(hits) / len(hits)


def check_fine_tuning_run(work_dir, checkpoint, layer_decay):
    """Two finite training losses with layer-decayed lrs, one top-1/top-5 evaluation whose
    figures are those of the predictions it dumped (:func:`dumping_predictions`), and a
    backbone that started from ``checkpoint`` and then changed."""
    scalars = read_scalars(work_dir)
    losses = [s for s in scalars if 'loss' in s]
    assert [s['iter'] for s in losses] == [1, 2]
    assert all(np.isfinite(s['loss']) for s in losses)
    # The warm-up starts at 1e-6; the logged lr is that of the first parameter group, the
    # patch embedding (layer 0), decay ** (sum(depths) + 1) times the top layers' lr.
    assert abs(losses[0]['base_lr'] - 1e-6) < 1e-12
    for s in losses:
        assert abs(s['lr'] / s['base_lr'] - layer_decay ** (sum(TINY_ARCH['depths']) + 1)) < 1e-6
    metrics = [s for s in scalars if 'accuracy/top1' in s]
    assert len(metrics) == 1
    with open(work_dir.parent / 'predictions.pkl', 'rb') as f:
        predictions = pickle.load(f)
    assert len(predictions) == 2  # the validation images
    for k in (1, 5):
        assert abs(metrics[0][f'accuracy/top{k}'] - top_k_accuracy(predictions, k)) < 1e-4, \
            (metrics, [(p['gt_label'], p['pred_score'].topk(5)) for p in predictions])

    # The backbone started from the SimMIM checkpoint (window 12 -> 14 keeps every weight,
    # the position-bias MLP included) and was then trained: close to it, yet changed.
    pretrained = torch.load(checkpoint, weights_only=True)['state_dict']
    trained = load_state_dict(work_dir / 'epoch_1.pth')
    for key in ('backbone.patch_embed.proj.weight',
                'backbone.layers.2.blocks.0.attn.cpb_mlp.0.weight',
                'backbone.layers.3.blocks.0.mlp.fc2.weight'):
        assert torch.allclose(trained[key], pretrained[key], atol=1e-2), key
        assert not torch.equal(trained[key], pretrained[key]), key
    return trained
