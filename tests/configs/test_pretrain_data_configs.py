"""configs/pretrain: one config per row of the released grid, each on its row's data set
with Table 1's schedule for its length; the subset and ImageNet-22K data sets build."""
import copy
import re
from functools import lru_cache

import pytest
from config_reading import REPO, load
from mmengine.registry import init_default_scope

from mim_scaling.registry import DATASETS
from mim_scaling.zoo import load_zoo

ARCH = {'s': 'small', 'b': 'base', 'l': 'large', 'h': 'huge', 'g': 'giant'}
STEP = {'125k': 109_375, '250k': 218_750, '500k': 437_500}  # Table 1's step iterations
TRAIN_SET = {  # data set -> (dataset type, data root, annotation file)
    'in1k-10pct': ('ImageNet', 'data/imagenet/', 'meta/train_10pct.txt'),
    'in1k-20pct': ('ImageNet', 'data/imagenet/', 'meta/train_20pct.txt'),
    'in1k-50pct': ('ImageNet', 'data/imagenet/', 'meta/train_50pct.txt'),
    'in22k': ('ImageNet21k', 'data/imagenet22k/', None),
}
NEW_ROWS = [e for e in load_zoo() if e.data != 'in1k']  # the in1k rows: test_pretrain_configs


def test_every_row_of_the_zoo_has_its_config_and_every_grid_config_a_row():
    rows = {e.pretrain_config for e in load_zoo()}
    assert len(rows) == 63
    grid = {str(p.relative_to(REPO)) for p in (REPO / 'configs/pretrain').glob('*.py')
            if re.fullmatch(r'simmim_swinv2-[sblhg]_(125k|250k|500k)_.+\.py', p.name)}
    assert grid == rows


@lru_cache(maxsize=None)
def in1k_config(model: str, length: str) -> dict:
    return load(f'configs/pretrain/simmim_swinv2-{model}_{length}_in1k.py').to_dict()


def without_training_images(cfg: dict) -> dict:
    cfg = copy.deepcopy(cfg)
    del cfg['train_dataloader']['dataset']
    return cfg


@pytest.mark.parametrize('entry', NEW_ROWS, ids=lambda e: e.name)
def test_row_config_is_its_in1k_config_on_its_data_set(entry):
    cfg = load(entry.pretrain_config)
    in1k = in1k_config(entry.model, entry.length)  # Table 1 in full: test_pretrain_configs
    # Table 1's schedule for this length ...
    assert cfg.train_cfg.max_iters == entry.iters
    # (the lr of every update: test_pretrain_configs; the reference's lr of update i is set
    # after update i - 1, so its step counts from the update after Table 1's step iteration)
    warmup_start, warmup, step = cfg.param_scheduler
    assert (warmup.type, warmup.end, warmup.start_factor) == ('LinearLR', 6252, 0.005)
    assert (step.type, step.milestones, step.gamma) == ('MultiStepLR',
                                                        [STEP[entry.length] + 1], 0.1)
    # ... and everything but the training images (model, batch, validation on ImageNet-1K
    # val, runtime) as in the ImageNet-1K config of the same model and length.
    assert cfg.model.backbone.arch == ARCH[entry.model]
    assert without_training_images(cfg.to_dict()) == without_training_images(in1k)

    kind, root, ann_file = TRAIN_SET[entry.data]
    pipeline = in1k['train_dataloader']['dataset']['pipeline']
    if entry.data == 'in22k':  # no labels
        expected = dict(type=kind, data_root=root, split='train', with_label=False,
                        pipeline=pipeline)
        layout = (REPO / entry.pretrain_config).read_text()  # states its own GPUs x batch
    else:
        expected = dict(in1k['train_dataloader']['dataset'], ann_file=ann_file)
        layout = (REPO / entry.pretrain_config.replace(entry.data, 'in1k')).read_text()
    assert cfg.train_dataloader.dataset == expected
    gpus, per_gpu = map(int, re.search(r'2048 = (\d+) GPUs x (\d+)', layout).groups())
    assert gpus * per_gpu == 2048 and cfg.train_dataloader.batch_size == per_gpu


def test_subset_and_22k_configs_build_their_data_sets(tmp_path):
    for split, wnids in (('train', ['n00004475', 'n01440764']), ('val', ['n01440764'])):
        for wnid in wnids:
            (tmp_path / split / wnid).mkdir(parents=True)
            for i in range(5):
                (tmp_path / split / wnid / f'{wnid}_{i}.JPEG').write_bytes(b'')
    (tmp_path / 'meta').mkdir()
    (tmp_path / 'meta' / 'train_10pct.txt').write_text('n01440764/n01440764_3.JPEG 1\n')
    init_default_scope('mmpretrain')

    subset = load('configs/pretrain/simmim_swinv2-s_125k_in1k-10pct.py').train_dataloader
    subset.dataset.data_root = str(tmp_path)
    data = DATASETS.build(dict(subset.dataset, lazy_init=True)).load_data_list()
    assert data == [{'img_path': str(tmp_path / 'train/n01440764/n01440764_3.JPEG'),
                     'gt_label': 1}]

    in22k = load('configs/pretrain/simmim_swinv2-b_125k_in22k.py').train_dataloader
    in22k.dataset.data_root = str(tmp_path)
    # one folder per synset, scanned ...
    data = DATASETS.build(dict(in22k.dataset, lazy_init=True)).load_data_list()
    assert len(data) == 10 and all(set(d) == {'img_path'} for d in data)
    # ... or a list of images without labels, read when present
    (tmp_path / 'meta' / 'train.txt').write_text('n00004475/n00004475_0.JPEG\n')
    data = DATASETS.build(dict(in22k.dataset, lazy_init=True)).load_data_list()
    assert data == [{'img_path': str(tmp_path / 'train/n00004475/n00004475_0.JPEG')}]
