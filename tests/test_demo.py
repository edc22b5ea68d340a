"""The README's main job, shortened: SimMIM pre-training through tools/train.py on rendered
patterns writes a loss curve and a reconstruction figure, and logs the validation loss; its
checkpoint converts into a backbone checkpoint for downstream tasks."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from mmengine.config import Config
from PIL import Image
from skimage.data import astronaut

from mim_scaling.safe_loading import safe_load
from mim_scaling.registry import MODELS
from mim_scaling.visualization import read_loss_curves

ROOT = Path(__file__).parents[1]
CONFIG = ROOT / 'configs/demo/simmim_swinv2-demo_600it_patterns-96px.py'


def test_the_photographs_are_cut_in_two_without_loss(tmp_path):
    # The photographs of the documented collapse study (simmim_swinv2-demo_*_skimage*.py):
    # validation pixels are never trained on, and nothing is lost.
    data = tmp_path / 'photos'
    prepared = subprocess.run([sys.executable, 'tools/misc/prepare_sample_images.py', str(data)],
                              cwd=ROOT, capture_output=True, text=True)
    assert prepared.returncode == 0, prepared.stderr[-3000:]
    assert len(list((data / 'train').glob('*.png'))) >= 8
    parts = [np.asarray(Image.open(data / split / 'astronaut.png')) for split in ('train', 'val')]
    assert [part.shape for part in parts] == [(512, 341, 3), (512, 171, 3)]
    np.testing.assert_array_equal(np.concatenate(parts, axis=1), astronaut())


def test_demo_pretraining_writes_plots(tmp_path):
    data = tmp_path / 'patterns'
    prepared = subprocess.run(
        [sys.executable, 'tools/misc/make_patterns.py', str(data), '--size', '96', '--pool', '16',
         '--train-per-class', '1', '--val-per-class', '1'], cwd=ROOT, capture_output=True,
        text=True)
    assert prepared.returncode == 0, prepared.stderr[-3000:]
    work_dir = tmp_path / 'work'
    result = subprocess.run(
        [sys.executable, 'tools/train.py', str(CONFIG), '--work-dir', str(work_dir),
         '--cfg-options', 'train_cfg.max_iters=4', 'train_cfg.val_interval=2',
         'default_hooks.logger.interval=1', 'train_dataloader.batch_size=2',
         'train_dataloader.num_workers=0', f'train_dataloader.dataset.data_root={data}',
         f'val_dataloader.dataset.data_root={data}'],
        cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    log = next(work_dir.glob('*/*.log')).read_text()
    assert 'reconstruction/loss' in log
    for name in ('loss_curve.png', 'reconstruction.png', 'reconstructions/iter_4.png'):
        with Image.open(work_dir / name) as image:
            assert image.format == 'PNG'
    assert (work_dir / 'iter_4.pth').exists()
    train, val = read_loss_curves(work_dir)
    assert sorted(train) == [1, 2, 3, 4] and sorted(val) == [2, 4]  # at their iterations

    # tools/test.py evaluates the same validation loss from the checkpoint.
    tested = subprocess.run(
        [sys.executable, 'tools/test.py', str(CONFIG), str(work_dir / 'iter_4.pth'),
         '--work-dir', str(tmp_path / 'test'), '--cfg-options',
         f'test_dataloader.dataset.data_root={data}'], cwd=ROOT, capture_output=True, text=True)
    assert tested.returncode == 0, tested.stderr[-3000:]
    logged = float(tested.stdout.rsplit('reconstruction/loss: ', 1)[1].split()[0])
    assert abs(logged - val[4]) < 1e-3

    # Our own pre-training checkpoint -> backbone weights for a downstream init_cfg.
    backbone_file = tmp_path / 'backbone.pth'
    converted = subprocess.run(
        [sys.executable, 'tools/model_converters/simmim2mmengine.py', str(work_dir / 'iter_4.pth'),
         str(backbone_file), '--backbone-only'], cwd=ROOT, capture_output=True, text=True)
    assert converted.returncode == 0, converted.stderr[-3000:]
    trained = safe_load(work_dir / 'iter_4.pth')['state_dict']
    backbone_cfg = Config.fromfile(CONFIG).model.backbone
    backbone_cfg.update(img_size=224, window_size=14, pretrained_window_sizes=[12, 12, 12, 6],
                        use_mask_token=False,
                        init_cfg=dict(type='Pretrained', checkpoint=str(backbone_file)))
    backbone = MODELS.build(backbone_cfg)
    backbone.init_weights()
    for name, value in backbone.state_dict().items():
        torch.testing.assert_close(value, trained[f'backbone.{name}'])
