"""ImageNet-1K fine-tuning configs run end to end: from a SimMIM checkpoint, then Accuracy.

The dataset is written in mmpretrain's ImageNet layout (``train/<wnid>/*.JPEG``,
``val/*.JPEG``, ``meta/{train,val}.txt``) and the configs are shrunk only through
``--cfg-options``, as a user would.
"""
import numpy as np
import pytest
from classification_pipeline_utils import (check_fine_tuning_run, classification_options,
                                           dumping_predictions, write_image)
from dense_pipeline_utils import TINY_ARCH, save_simmim_checkpoint, train

WNIDS = ['n01440764', 'n01443537', 'n01484850', 'n01491361']


@pytest.fixture(scope='module')
def imagenet_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('imagenet')
    rng = np.random.default_rng(0)
    train_lines, val_lines = [], []
    for label, wnid in enumerate(WNIDS):
        name = f'{wnid}/{wnid}_{1000 + label}.JPEG'
        write_image(root / 'train' / name, rng)
        train_lines.append(f'{name} {label}')
    for i, label in enumerate([3, 0], start=1):
        name = f'ILSVRC2012_val_{i:08d}.JPEG'
        write_image(root / 'val' / name, rng)
        val_lines.append(f'{name} {label}')
    (root / 'meta').mkdir()
    (root / 'meta' / 'train.txt').write_text('\n'.join(train_lines) + '\n')
    (root / 'meta' / 'val.txt').write_text('\n'.join(val_lines) + '\n')
    return root


def test_imagenet_fine_tuning_trains_from_simmim_checkpoint_and_evaluates(
        imagenet_root, tmp_path):
    checkpoint = save_simmim_checkpoint(tmp_path / 'iter_10.pth')
    work_dir = tmp_path / 'work'
    train(dumping_predictions('configs/imagenet/swinv2-b_ft_in1k.py', tmp_path), work_dir,
          classification_options(imagenet_root, checkpoint))
    trained = check_fine_tuning_run(work_dir, checkpoint, layer_decay=0.75)
    assert trained['head.fc.weight'].shape == (1000, 8 * TINY_ARCH['embed_dims'])
