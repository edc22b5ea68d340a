"""Helpers of the ImageNet-1K and iNaturalist 2018 pipeline tests."""
import numpy as np
import torch
from dense_pipeline_utils import TINY_ARCH, load_state_dict, read_scalars, tiny_backbone_options
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


def check_fine_tuning_run(work_dir, checkpoint, layer_decay):
    """Two finite training losses with layer-decayed lrs, one top-1/top-5 evaluation, and a
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
    for key in ('accuracy/top1', 'accuracy/top5'):
        assert 0.0 <= metrics[0][key] <= 100.0, metrics
    assert metrics[0]['accuracy/top5'] >= metrics[0]['accuracy/top1']

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
