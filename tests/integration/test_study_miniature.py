"""The README's labelled miniature, shortened: the patterns that tools/misc/make_patterns.py
renders (a pool of 40, 2 labelled images per class for the k-NN bank, 3 held out), a grid of
one model x 2 data sets x 2 seeds run locally by tools/sweep.py (the pre-trainings, each
probed by k-NN at iteration 0 and at its end; then fine-tunings from their final
checkpoints and from scratch), its results table with each row's mean and spread over the
seeds, Figures 1 to 3, and the reconstructions of two of its checkpoints for the same
masks."""
import json
from pathlib import Path

import numpy as np
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
from mim_scaling.visualization import figure_1
from mim_scaling.utils.scalar_logs import read_scalars
from tool_scripts import load_tool

ROOT = Path(__file__).parents[2]
DATA = ('patterns-10pct', 'patterns')
SEEDS = (0, 1)
ROWS = [(d, s) for d in (FROM_SCRATCH, *DATA) for s in SEEDS]
CLASSES = 8

# The miniature's configs for 4 iterations on batches of 2, the validation loss on 4 held-out
# images, the k-NN probe on the 16 labelled and 24 held-out images.
# serialize_data=False: mmengine's serialisation runs a full gc.collect() per data set.
SHORTER = """
_base_ = '{base}'
data_root = '{data}'
train_dataloader = dict(batch_size=2, dataset=dict(data_root=data_root, serialize_data=False))
val_dataloader = dict(batch_size=4, dataset=dict(data_root=data_root, serialize_data=False,
                                                  indices=[0, 1, 2, 3]))
test_dataloader = val_dataloader
param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=2)]
train_cfg = dict(max_iters=4, val_interval=2)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=4))
custom_hooks = [
    dict(type='mim_scaling.InitialCheckpointHook'),
    dict(type='mim_scaling.KNNProbeHook',
         bank=dict(type='CustomDataset', data_root=data_root, data_prefix='train',
                   pipeline={{{{_base_.probe_pipeline}}}}),
         queries=dict(type='CustomDataset', data_root=data_root, data_prefix='val',
                      pipeline={{{{_base_.probe_pipeline}}}})),
]
"""
# The fine-tunings for one epoch of 2 iterations, validated on the 24 held-out images.
SHORTER_FINETUNE = """
_base_ = '{base}'
data_root = '{data}'
train_dataloader = dict(batch_size=8, dataset=dict(data_root=data_root, serialize_data=False))
val_dataloader = dict(dataset=dict(data_root=data_root, serialize_data=False))
test_dataloader = val_dataloader
param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=2)]
train_cfg = dict(max_epochs=1, val_interval=1)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=1))
"""


@pytest.fixture(scope='module')
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp('study')
    data = root / 'patterns'
    load_tool('misc/make_patterns.py').main([str(data), '--pool', '40', '--train-per-class',
                                             '2', '--val-per-class', '3'])
    configs = root / 'configs'
    configs.mkdir()
    for data_name in DATA:
        base = ROOT / f'configs/demo/simmim_swinv2-demo-w32_2000it_{data_name}.py'
        (configs / f'simmim_swinv2-demo-w32_4it_{data_name}.py').write_text(
            SHORTER.format(base=base, data=data))
    base = ROOT / 'configs/demo/swinv2-demo-w32_ft_patterns.py'
    (configs / 'swinv2-demo-w32_ft_patterns.py').write_text(
        SHORTER_FINETUNE.format(base=base, data=data))
    grid = root / 'grid.py'
    grid.write_text(
        f"pretrain_config = '{configs}/simmim_swinv2-demo-{{model}}_{{length}}_{{data}}.py'\n"
        f"finetune_config = '{configs}/swinv2-demo-{{model}}_ft_patterns.py'\n"
        f'from_scratch = True\nmodels = ["w32"]\ndata = {list(DATA)}\nlengths = ["4it"]\n'
        f'seeds = {list(SEEDS)}\n')
    work = root / 'work'
    sweep = load_tool('sweep.py')
    run = ['--grid', str(grid), '--launcher', 'local', '--run', '--work-root', str(work)]
    sweep.main([*run, '--pretrain-only'])
    # Fine-tuning every row would double the test's time: the full data set's rows and the
    # rows from scratch show the loop.
    sweep.main([*run, '--data', FROM_SCRATCH, 'patterns'])
    return root, work, sweep


def pretrained_rows(work):
    return [r for r in collect_results(grid_from_file(work.parent / 'grid.py'), work)
            if r.data != FROM_SCRATCH]


def test_the_sweep_runs_every_row_once_per_seed_and_tabulates_knn_and_top1(study, capsys):
    root, work, sweep = study
    results = read_results(work / 'results.csv')  # the second sweep's selection
    assert [(r.data, r.seed) for r in results] == [
        (FROM_SCRATCH, 0), (FROM_SCRATCH, 1), ('patterns', 0), ('patterns', 1)]
    assert all(r.status == 'done' and 0 <= r.top1 <= 100 for r in results)
    grid = pretrained_rows(work)
    assert [(r.data, r.seed) for r in grid] == [(d, s) for d in DATA for s in SEEDS]
    for r in grid:
        assert Path(r.pretrain_work_dir).name.endswith(f'_seed{r.seed}')
        assert 0 < r.val_loss < 10 and 0 < r.zero_prediction_loss < 10
        assert r.knn_top1 in {100 * k / 24 for k in range(25)}  # 24 held-out images
        assert r.knn_top1_init in {100 * k / 24 for k in range(25)}
    # A seed's untrained weights are the same whatever the data; another seed's are not.
    init = {(r.data, r.seed): safe_load(Path(r.pretrain_work_dir, 'iter_0.pth'))['state_dict']
            for r in grid}
    key = 'backbone.patch_embed.proj.weight'
    assert torch.equal(init['patterns', 0][key], init['patterns-10pct', 0][key])
    assert not torch.equal(init['patterns', 0][key], init['patterns', 1][key])
    assert {r.knn_top1_init for r in grid if r.seed == 0} == {grid[0].knn_top1_init}

    # Running it again finds everything finished.
    sweep.main(['--grid', str(root / 'grid.py'), '--launcher', 'local', '--run',
                '--work-root', str(work), '--data', 'patterns'])
    out = capsys.readouterr().out
    assert out.count('finished, skipped') == 2 * 2 and 'tools/train.py' not in out


def knn_by_hand(backbone, folder, bank_folder, k=10, temperature=0.07):
    """The weighted k-NN top-1 written out with numpy and PIL: each image normalised with
    the pre-training's mean and std, the last map averaged and L2-normalised, the k most
    cosine-similar bank images voting exp(cosine / temperature) for their class."""
    mean, std = np.array([123.675, 116.28, 103.53]), np.array([58.395, 57.12, 57.375])

    def features(root):
        paths = sorted(Path(root).glob('*/*.png'))
        classes = sorted({p.parent.name for p in paths})
        images = np.stack([(np.asarray(Image.open(p).convert('RGB'), float) - mean) / std
                           for p in paths])
        with torch.no_grad():
            maps = backbone.eval()(torch.from_numpy(images).permute(0, 3, 1, 2).float())[-1]
        f = maps.mean(dim=(2, 3)).double().numpy()
        return f / np.linalg.norm(f, axis=1, keepdims=True), [classes.index(p.parent.name)
                                                              for p in paths]

    bank, bank_labels = features(bank_folder)
    queries, labels = features(folder)
    correct = 0
    for query, label in zip(queries, labels):
        cosines = bank @ query
        votes = np.zeros(CLASSES)
        for i in np.argsort(-cosines)[:k]:
            votes[bank_labels[i]] += np.exp(cosines[i] / temperature)
        correct += int(np.argmax(votes) == label)
    return 100 * correct / len(labels)


def test_the_logged_knn_is_that_of_the_checkpoint_files_and_of_a_knn_by_hand(study, tmp_path):
    root, work, _ = study
    init_default_scope('mmpretrain')
    row = pretrained_rows(work)[3]  # the full data set, seed 1
    config = root / 'configs' / 'simmim_swinv2-demo-w32_4it_patterns.py'
    files = [Path(row.pretrain_work_dir, f'iter_{i}.pth') for i in (0, 4)]
    out = tmp_path / 'knn.json'
    load_tool('analysis/knn_probe.py').main([str(config), *map(str, files), '--out', str(out)])
    probed = json.loads(out.read_text())
    logged = read_scalars(row.pretrain_work_dir, ['knn/top1'])['knn/top1']
    assert sorted(logged) == [0, 2, 4]
    assert [probed[str(f)]['top1'] for f in files] == [logged[0], logged[4]] == [
        row.knn_top1_init, row.knn_top1]
    assert probed[str(files[1])]['n'] == 24

    cfg = Config.fromfile(str(config))
    backbone = MODEL_REGISTRY.build(cfg.model.backbone)
    state = safe_load(files[1])['state_dict']
    backbone.load_state_dict({k[len('backbone.'):]: v for k, v in state.items()
                              if k.startswith('backbone.')})
    assert knn_by_hand(backbone, root / 'patterns' / 'val', root / 'patterns' / 'train') == \
        pytest.approx(row.knn_top1)


def finetuned(work):
    """The fine-tuned rows, as the second sweep tabulated them, each with the config its
    fine-tuning ran with (as the Runner dumped it into the work dir) and its checkpoint."""
    for r in read_results(work / 'results.csv'):
        finetune_dir = Path(r.finetune_work_dir)
        cfg = Config.fromfile(str(finetune_dir / 'swinv2-demo-w32_ft_patterns.py'))
        yield r, cfg, safe_load(finetune_dir / 'epoch_1.pth')['state_dict']


def test_each_finetuning_starts_from_its_pretrainings_final_checkpoint(study):
    _, work, _ = study
    init_default_scope('mmpretrain')
    for r, cfg, tuned in finetuned(work):
        assert cfg.randomness.seed == r.seed
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


def test_top1_is_the_final_checkpoints_accuracy_on_the_held_out_images(study):
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
                for sample in model.test_step(batch):
                    correct += int(sample.pred_label == sample.gt_label)
                    total += 1
        assert total == 24 and r.top1 == pytest.approx(100 * correct / total)


def test_figures_and_tables_from_the_runs(study, tmp_path):
    root, work, _ = study
    results = collect_results(grid_from_file(root / 'grid.py'), work)
    knn = {(r.data, r.seed): r.knn_top1 for r in results}
    ax = figure_1(results, value='knn_top1', control='knn_top1_init').axes[0]
    lines = {line.get_label(): list(line.get_ydata()) for line in ax.get_lines()}
    for data in DATA:  # the mean over the two seeds
        assert lines[data] == pytest.approx([(knn[data, 0] + knn[data, 1]) / 2])
    init = {r.seed: r.knn_top1_init for r in results if r.data != FROM_SCRATCH}
    assert lines['w32, random init (iteration 0)'][0] == pytest.approx(np.mean([*init.values()]))

    write_results(results, tmp_path / 'results.csv')
    load_tool('analysis/plot_study.py').main([str(tmp_path / 'results.csv')])
    assert sorted(p.name for p in tmp_path.glob('*.png')) == [
        'figure1_knn_vs_cost.png', 'figure1_top1_vs_cost.png', 'figure2_loss_by_model.png',
        'figure3_loss_by_data.png']
    table = (tmp_path / 'knn_table.md').read_text()
    assert '(n=2)' in table and '| w32 | 4it |' in table
    assert (tmp_path / 'knn_init_table.md').is_file()


def test_reconstructions_of_two_checkpoints_use_the_same_masks(study, tmp_path, monkeypatch):
    root, work, _ = study
    visualize_reconstructions = load_tool('analysis/visualize_reconstructions.py')
    config = root / 'configs' / 'simmim_swinv2-demo-w32_4it_patterns.py'
    checkpoints = [str(work / f'simmim_swinv2-demo-w32_4it_{d}_seed0' / 'iter_4.pth')
                   for d in DATA]
    images = [str(p) for p in sorted((root / 'patterns' / 'val').glob('*/*.png'))[:2]]

    seen = []
    reconstruct = SimMIM._reconstruct

    def recording(self, inputs, data_samples):
        seen.append(torch.stack([s.mask for s in data_samples]).clone())
        return reconstruct(self, inputs, data_samples)

    monkeypatch.setattr(SimMIM, '_reconstruct', recording)
    cfg = Config.fromfile(str(config))
    batch = visualize_reconstructions.masked_batch(cfg, images, seed=3)
    pictures, masks, zero_prediction, reconstructions = visualize_reconstructions.reconstruct(
        cfg, batch, checkpoints)
    assert len(seen) == 2 and torch.equal(seen[0], seen[1]) and torch.equal(seen[0], masks)
    assert not torch.equal(masks[0], masks[1])  # each image has its own mask
    assert masks.float().mean() == pytest.approx(10 / 16)  # 60% of 16 cells, rounded up
    assert len(reconstructions) == 2 and pictures.shape == (2, 3, 32, 32)
    assert not torch.allclose(reconstructions[0], reconstructions[1])  # two different models
    assert zero_prediction.shape == pictures.shape
    again = visualize_reconstructions.masked_batch(cfg, images, seed=3)
    assert torch.equal(torch.stack([s.mask for s in again['data_samples']]), masks)

    out = tmp_path / 'figure4.png'
    visualize_reconstructions.main([str(config), *images, '--checkpoints', *checkpoints,
                                    '--labels', 'a tenth', 'all', '--out', str(out)])
    with Image.open(out) as image:
        assert image.format == 'PNG' and image.size[0] > image.size[1]
