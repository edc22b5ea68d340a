"""The README's miniature of the study, shortened: subsets of a folder of photographs, a
2 models x 2 data sets grid run locally by tools/sweep.py, its results table, Figures 2 and 3
from the runs' logs, and the reconstructions of two of its checkpoints for the same masks."""
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

from mim_scaling.models.algorithms.simmim import SimMIM
from mim_scaling.study import read_results
from mim_scaling.visualization import figure_2, figure_3
from mim_scaling.visualization.study_figures import parse_count

ROOT = Path(__file__).parents[2]
for folder in ('tools', 'tools/analysis', 'tools/dataset_converters'):
    sys.path.insert(0, str(ROOT / folder))
import make_imagenet_subsets  # noqa: E402
import plot_study  # noqa: E402
import sweep  # noqa: E402
import visualize_reconstructions  # noqa: E402

MODELS = ('w16', 'w32')
DATA = ('skimage-50pct', 'skimage')

# The miniature's configs at 64 px (window 4, 16-px mask cells) for 4 iterations.
SHORTER = """
_base_ = '{base}'
data_root = '{data}'
mask_generator = dict(type='mim_scaling.SimMIMMaskGenerator', input_size=64,
                      mask_patch_size=16, model_patch_size=4, mask_ratio=0.6)
model = dict(backbone=dict(img_size=64, window_size=4))
# serialize_data=False: mmengine's serialisation runs a full gc.collect() per data set.
train_dataloader = dict(batch_size=2, num_workers=0, dataset=dict(
    data_root=data_root, serialize_data=False, pipeline=[
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=64, crop_ratio_range=(0.67, 1.0), backend='pillow'),
    dict(type='RandomFlip', prob=0.5), mask_generator, dict(type='PackInputs')]))
val_pipeline = [
    dict(type='LoadImageFromFile'), dict(type='ResizeEdge', scale=64, edge='short'),
    dict(type='CenterCrop', crop_size=64), dict(mask_generator, seed=0),
    dict(type='PackInputs')]
val_dataloader = dict(batch_size=2, dataset=dict(data_root=data_root, serialize_data=False,
                                                  pipeline=val_pipeline))
test_dataloader = val_dataloader
param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=2)]
train_cfg = dict(max_iters=4, val_interval=2)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=4))
custom_hooks = []  # their plots are tested elsewhere
"""


def write_photos(folder, count, seed):
    """Small smooth colour images: something a model can learn to fill in."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:1:80j, 0:1:80j]
    for i in range(count):
        a, b, c = rng.uniform(1, 6, 3)
        image = np.stack([np.sin(a * y + b * x), np.cos(b * c * y), np.sin(c * x + a)], -1)
        Image.fromarray(((image + 1) * 127.5).astype(np.uint8)).save(folder / f'{i}.png')


@pytest.fixture(scope='module')
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp('study')
    data = root / 'photos'
    write_photos(data / 'train' / 'a', 4, seed=0)  # class folders, as in ImageNet
    write_photos(data / 'train' / 'b', 4, seed=1)
    write_photos(data / 'val', 2, seed=2)
    make_imagenet_subsets.main([str(data), '--fractions', '0.5'])
    assert len((data / 'meta' / 'train_50pct.txt').read_text().splitlines()) == 4

    for model in MODELS:
        for data_name in DATA:
            base = ROOT / f'configs/demo/simmim_swinv2-demo-{model}_60it_{data_name}.py'
            config = root / 'configs' / f'simmim_swinv2-demo-{model}_4it_{data_name}.py'
            config.parent.mkdir(exist_ok=True)
            config.write_text(SHORTER.format(base=base, data=data))
    grid = root / 'grid.py'
    grid.write_text(
        f"pretrain_config = '{root}/configs/simmim_swinv2-demo-{{model}}_{{length}}_{{data}}.py'\n"
        f'models = {list(MODELS)}\ndata = {list(DATA)}\nlengths = ["4it"]\n')
    work = root / 'work'
    sweep.main(['--grid', str(grid), '--launcher', 'local', '--run', '--work-root', str(work)])
    return root, work


def test_the_sweep_runs_the_grid_and_tabulates_its_validation_losses(study, capsys):
    root, work = study
    results = read_results(work / 'results.csv')
    assert [(r.model, r.data) for r in results] == [
        (m, d) for m in MODELS for d in DATA]
    for r in results:
        assert r.status == 'done' and r.length == '4it'
        assert 0 < r.val_loss < 10 and r.top1 is None and r.released_val_loss is None
        assert (Path(r.pretrain_work_dir) / 'iter_4.pth').is_file()
    params = {r.model: parse_count(r.backbone_params) for r in results}
    assert params['w32'] > 3 * params['w16'] > 0  # counted from the configs

    # Running it again finds everything finished.
    sweep.main(['--grid', str(root / 'grid.py'), '--launcher', 'local', '--run',
                '--work-root', str(work)])
    out = capsys.readouterr().out
    assert out.count('finished, skipped') == 4 and 'tools/train.py' not in out


def test_figures_2_and_3_from_the_runs_logs(study, tmp_path):
    _, work = study
    results = read_results(work / 'results.csv')
    fig = figure_2(results)
    assert len(fig.axes) == 2 * len(MODELS)
    for ax in fig.axes:
        lines = ax.get_lines()
        assert [line.get_label() for line in lines] == list(DATA)
    train_lines = fig.axes[0].get_lines()
    assert list(train_lines[0].get_xdata()) == [1, 2, 3, 4]  # logged every iteration
    assert list(fig.axes[1].get_lines()[0].get_xdata()) == [2, 4]  # validated every 2
    fig = figure_3(results)
    assert [[line.get_label() for line in ax.get_lines()] for ax in fig.axes] == [
        list(MODELS)] * (2 * len(DATA))

    plot_study.main([str(work / 'results.csv'), '--out-dir', str(tmp_path)])
    assert sorted(p.name for p in tmp_path.glob('*.png')) == [
        'figure2_loss_by_model.png', 'figure3_loss_by_data.png']
    assert '| w16 | 4it |' in (tmp_path / 'val_loss_table.md').read_text()


def test_reconstructions_of_two_checkpoints_use_the_same_masks(study, tmp_path, monkeypatch):
    root, work = study
    config = root / 'configs' / 'simmim_swinv2-demo-w16_4it_skimage.py'
    checkpoints = [str(work / f'simmim_swinv2-demo-w16_4it_{d}' / 'iter_4.pth') for d in DATA]
    images = [str(root / 'photos' / 'val' / f'{i}.png') for i in range(2)]

    seen = []
    reconstruct = SimMIM._reconstruct

    def recording(self, inputs, data_samples):
        seen.append(torch.stack([s.mask for s in data_samples]).clone())
        return reconstruct(self, inputs, data_samples)

    monkeypatch.setattr(SimMIM, '_reconstruct', recording)
    cfg = Config.fromfile(str(config))
    batch = visualize_reconstructions.masked_batch(cfg, images, seed=3)
    pictures, masks, reconstructions = visualize_reconstructions.reconstruct(
        cfg, batch, checkpoints)
    assert len(seen) == 2 and torch.equal(seen[0], seen[1]) and torch.equal(seen[0], masks)
    assert not torch.equal(masks[0], masks[1])  # each image has its own mask
    assert masks.float().mean() == pytest.approx(10 / 16)  # 60% of 16 cells, rounded up
    assert len(reconstructions) == 2 and pictures.shape == (2, 3, 64, 64)
    assert not torch.allclose(reconstructions[0], reconstructions[1])  # two different models
    again = visualize_reconstructions.masked_batch(cfg, images, seed=3)
    assert torch.equal(torch.stack([s.mask for s in again['data_samples']]), masks)

    out = tmp_path / 'figure4.png'
    visualize_reconstructions.main([str(config), *images, '--checkpoints', *checkpoints,
                                    '--labels', 'half', 'all', '--out', str(out)])
    with Image.open(out) as image:  # 2 rows x 4 columns of panels
        assert image.format == 'PNG' and image.size[0] > image.size[1]
