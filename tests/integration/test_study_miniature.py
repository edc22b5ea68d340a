"""The README's miniature of the study, shortened: scikit-image's faces and non-faces
written out by tools/misc/prepare_lfw_subset.py, half of them listed by the subset tool, a
2 models x 2 data sets grid run locally by tools/sweep.py (the pre-trainings, then the
smaller model's fine-tunings from their final checkpoints and from scratch), its results
table, Figures 1 to 3 and the scaling report from the runs, and the reconstructions of two of
its checkpoints for the same masks."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from PIL import Image

from mim_scaling.models.algorithms.simmim import SimMIM
from mim_scaling.registry import MODELS as MODEL_REGISTRY
from mim_scaling.safe_loading import safe_load
from mim_scaling.study import (FROM_SCRATCH, collect_results, grid_from_file, read_results,
                               write_results)
from mim_scaling.visualization import figure_1, figure_2, figure_3
from mim_scaling.visualization.study_figures import parse_count
from tool_scripts import load_tool

ROOT = Path(__file__).parents[2]
MODELS = ('w16', 'w32')
DATA = ('lfw-50pct', 'lfw')
ROWS = [(m, d) for m in MODELS for d in (FROM_SCRATCH, *DATA)]

# The miniature's configs (already 64 px) for 4 iterations on batches of 2, validated on 4
# images, and their fine-tunings for one epoch on 8 faces and 8 non-faces, validated on 12
# faces and 4 non-faces (unbalanced: a model that answers one class everywhere scores 75 or
# 25, not 50 whichever it is).
# serialize_data=False: mmengine's serialisation runs a full gc.collect() per data set.
SHORTER = """
_base_ = '{base}'
data_root = '{data}'
train_dataloader = dict(batch_size=2, dataset=dict(data_root=data_root, serialize_data=False))
val_dataloader = dict(batch_size=4, dataset=dict(data_root=data_root, serialize_data=False,
                                                  indices=[0, 1, 20, 21]))
test_dataloader = val_dataloader
param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=2)]
train_cfg = dict(max_iters=4, val_interval=2)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=4))
custom_hooks = []  # their plots are tested elsewhere
"""
SHORTER_FINETUNE = """
_base_ = '{base}'
data_root = '{data}'
train_dataloader = dict(batch_size=8, dataset=dict(
    data_root=data_root, serialize_data=False, indices=[*range(8), *range(80, 88)]))
val_dataloader = dict(dataset=dict(data_root=data_root, serialize_data=False,
                                   indices=[*range(12), *range(20, 24)]))
test_dataloader = val_dataloader
param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=2)]
train_cfg = dict(max_epochs=1, val_interval=1)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=1))
"""


@pytest.fixture(scope='module')
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp('study')
    data = root / 'lfw_subset'
    load_tool('misc/prepare_lfw_subset.py').main([str(data)])
    load_tool('dataset_converters/make_imagenet_subsets.py').main([
        str(data), '--fractions', '0.5'])
    assert len((data / 'meta' / 'train_50pct.txt').read_text().splitlines()) == 80

    configs = root / 'configs'
    configs.mkdir()
    for model in MODELS:
        for data_name in DATA:
            base = ROOT / f'configs/demo/simmim_swinv2-demo-{model}_200it_{data_name}.py'
            (configs / f'simmim_swinv2-demo-{model}_4it_{data_name}.py').write_text(
                SHORTER.format(base=base, data=data))
        base = ROOT / f'configs/demo/swinv2-demo-{model}_ft_lfw.py'
        (configs / f'swinv2-demo-{model}_ft_lfw.py').write_text(
            SHORTER_FINETUNE.format(base=base, data=data))
    grid = root / 'grid.py'
    grid.write_text(
        f"pretrain_config = '{configs}/simmim_swinv2-demo-{{model}}_{{length}}_{{data}}.py'\n"
        f"finetune_config = '{configs}/swinv2-demo-{{model}}_ft_lfw.py'\n"
        f'from_scratch = True\n'
        f'models = {list(MODELS)}\ndata = {list(DATA)}\nlengths = ["4it"]\n')
    work = root / 'work'
    sweep = load_tool('sweep.py')
    # Fine-tuning every row would double the test's time: w16's rows show the loop.
    run = ['--grid', str(grid), '--launcher', 'local', '--run', '--work-root', str(work)]
    sweep.main([*run, '--pretrain-only'])
    sweep.main([*run, '--models', 'w16'])
    return root, work, sweep


def finetuned(work):
    """The fine-tuned rows (w16's), as the second sweep tabulated them, each with the config
    its fine-tuning ran with (as the Runner dumped it into the work dir) and its checkpoint."""
    for r in read_results(work / 'results.csv'):
        finetune_dir = Path(r.finetune_work_dir)
        cfg = Config.fromfile(str(finetune_dir / f'swinv2-demo-{r.model}_ft_lfw.py'))
        yield r, cfg, safe_load(finetune_dir / 'epoch_1.pth')['state_dict']


def test_the_sweep_runs_the_grid_and_tabulates_losses_and_top1(study, capsys):
    root, work, sweep = study
    results = read_results(work / 'results.csv')
    assert [(r.model, r.data) for r in results] == ROWS[:3]
    for r in results:
        assert r.status == 'done' and r.released_val_loss is None
        assert 0 <= r.top1 <= 100 and Path(r.finetune_work_dir, 'epoch_1.pth').is_file()
        if r.data == FROM_SCRATCH:  # no pre-training: no loss, no work dir, no cost
            assert r.length == '0' and r.val_loss is None and r.pretrain_work_dir == ''
        else:
            assert r.length == '4it' and 0 < r.val_loss < 10
            assert (Path(r.pretrain_work_dir) / 'iter_4.pth').is_file()

    # The whole grid: w32 pre-trained, its fine-tunings not started.
    grid = collect_results(grid_from_file(root / 'grid.py'), work)
    assert [(r.model, r.data) for r in grid] == ROWS
    assert [r.status for r in grid[3:]] == ['not started', 'pre-trained', 'pre-trained']
    assert all(r.top1 is None for r in grid[3:]) and all(0 < r.val_loss < 10 for r in grid[4:])
    params = {r.model: parse_count(r.backbone_params) for r in grid}
    assert params['w32'] > 3 * params['w16'] > 0  # counted from the configs

    # Running it again finds everything finished.
    sweep.main(['--grid', str(root / 'grid.py'), '--launcher', 'local', '--run',
                '--work-root', str(work), '--models', 'w16'])
    out = capsys.readouterr().out
    assert out.count('finished, skipped') == 2 + 3 and 'tools/train.py' not in out


def test_each_finetuning_starts_from_its_pretrainings_final_checkpoint(study):
    _, work, _ = study
    init_default_scope('mmpretrain')
    for r, cfg, tuned in finetuned(work):
        backbone = MODEL_REGISTRY.build(cfg.model.backbone)
        if r.data == FROM_SCRATCH:
            assert cfg.model.backbone.init_cfg is None
            continue
        pretrained = Path(r.pretrain_work_dir) / 'iter_4.pth'
        assert cfg.model.backbone.init_cfg.checkpoint == str(pretrained)
        backbone.init_weights()
        state = safe_load(pretrained)['state_dict']
        own = backbone.state_dict()
        encoder = {k[len('backbone.'):]: v for k, v in state.items()
                   if k.startswith('backbone.') and k != 'backbone.mask_token'}
        assert set(encoder) == {k for k in own if not k.startswith('out_norms.')}
        for key, value in encoder.items():
            assert torch.equal(own[key], value), key
        # ... and training moved it away from there.
        assert not torch.equal(tuned['backbone.patch_embed.proj.weight'],
                               encoder['patch_embed.proj.weight'])


def test_top1_is_the_final_checkpoints_accuracy_on_the_validation_images(study):
    _, work, _ = study
    init_default_scope('mmpretrain')
    for r, cfg, tuned in finetuned(work):
        cfg.model.backbone.init_cfg = None
        # The Runner gives the model the config's data preprocessor (normalisation) too.
        model = MODEL_REGISTRY.build(dict(cfg.model, data_preprocessor=cfg.data_preprocessor))
        model.load_state_dict(tuned)
        model.eval()
        correct = total = 0
        with torch.no_grad():
            for batch in Runner.build_dataloader(cfg.val_dataloader):
                samples = model.test_step(batch)
                for sample in samples:
                    correct += int(sample.pred_label == sample.gt_label)
                    total += 1
        assert total == 16 and r.top1 == pytest.approx(100 * correct / total)


def test_figures_1_2_and_3_from_the_runs(study, tmp_path):
    root, work, _ = study
    results = collect_results(grid_from_file(root / 'grid.py'), work)
    top1 = {(r.model, r.data): r.top1 for r in results}
    lines = figure_1(results).axes[0].get_lines()  # the rows with a top-1: w16's
    assert [line.get_label() for line in lines] == [*DATA, 'w16, no pre-training']
    assert [list(line.get_ydata()) for line in lines] == [
        [top1['w16', 'lfw-50pct']], [top1['w16', 'lfw']], [top1['w16', FROM_SCRATCH]] * 2]
    # the same cost for both data sets: parameters x iterations, the cheapest row = 1
    assert list(lines[0].get_xdata()) == list(lines[1].get_xdata()) == [1.0]

    fig = figure_2(results)
    assert len(fig.axes) == 2 * len(MODELS)
    for ax in fig.axes:
        assert [line.get_label() for line in ax.get_lines()] == list(DATA)
    assert list(fig.axes[0].get_lines()[0].get_xdata()) == [1, 2, 3, 4]  # logged every iteration
    assert list(fig.axes[1].get_lines()[0].get_xdata()) == [2, 4]  # validated every 2
    fig = figure_3(results)
    assert [[line.get_label() for line in ax.get_lines()] for ax in fig.axes] == [
        list(MODELS)] * (2 * len(DATA))

    write_results(results, tmp_path / 'results.csv')
    load_tool('analysis/plot_study.py').main([str(tmp_path / 'results.csv')])
    assert sorted(p.name for p in tmp_path.glob('*.png')) == [
        'figure1_top1_vs_cost.png', 'figure2_loss_by_model.png', 'figure3_loss_by_data.png']
    val_loss = (tmp_path / 'val_loss_table.md').read_text()
    assert FROM_SCRATCH not in val_loss and '| w32 | 4it |' in val_loss  # no loss to show
    assert f'| w16 | 0 | {top1["w16", FROM_SCRATCH]:.2f} | - | - |' in (
        tmp_path / 'top1_table.md').read_text()


def test_the_scaling_report_reads_the_grid_back(study, tmp_path):
    root, work, _ = study
    results = collect_results(grid_from_file(root / 'grid.py'), work)
    write_results(results, tmp_path / 'results.csv')
    load_tool('analysis/scaling_report.py').main([
        str(tmp_path / 'results.csv'), '--data-sizes', 'lfw=160', '--batch-size', '2',
        '--bootstrap', '20'])
    report = (tmp_path / 'scaling_report.md').read_text()
    assert ('Pre-trained rows: 4; with a validation loss: 4; with a fine-tuned top-1: 2. '
            'Batch 2. Unique training images: lfw-50pct 80, lfw 160.') in report
    for r in results[::3]:  # the rows from scratch: named, with their top-1, left out
        top1 = '-' if r.top1 is None else f'{r.top1:.2f}'
        assert f'- {r.model} / {FROM_SCRATCH} / 0 (top-1 {top1}): no pre-training' in report


def test_reconstructions_of_two_checkpoints_use_the_same_masks(study, tmp_path, monkeypatch):
    root, work, _ = study
    visualize_reconstructions = load_tool('analysis/visualize_reconstructions.py')
    config = root / 'configs' / 'simmim_swinv2-demo-w16_4it_lfw.py'
    checkpoints = [str(work / f'simmim_swinv2-demo-w16_4it_{d}' / 'iter_4.pth') for d in DATA]
    images = [str(p) for p in sorted((root / 'lfw_subset' / 'val').glob('*/*.png'))[19:21]]

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
    # a face and a non-face, greyscale files read as three equal channels
    assert len(reconstructions) == 2 and pictures.shape == (2, 3, 64, 64)
    assert torch.equal(pictures[:, 0], pictures[:, 1])
    assert not torch.allclose(reconstructions[0], reconstructions[1])  # two different models
    again = visualize_reconstructions.masked_batch(cfg, images, seed=3)
    assert torch.equal(torch.stack([s.mask for s in again['data_samples']]), masks)

    out = tmp_path / 'figure4.png'
    visualize_reconstructions.main([str(config), *images, '--checkpoints', *checkpoints,
                                    '--labels', 'half', 'all', '--out', str(out)])
    with Image.open(out) as image:  # 2 rows x 4 columns of panels
        assert image.format == 'PNG' and image.size[0] > image.size[1]
