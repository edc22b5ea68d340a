"""configs/robustness: each ImageNet-1K fine-tuning config with only its test set swapped, and
ImageNet-R's run on a classifier whose answers are fixed in advance."""
import copy
import os.path as osp
from functools import lru_cache

import numpy as np
import pytest
import torch
from config_reading import REPO, load
from mmengine.model import BaseModel
from mmengine.runner import Runner
from PIL import Image

MODELS = {'s': 'S', 'b': 'B', 'l': 'L', 'h': 'H', 'g': 'g'}
TEST_SETS = {  # config suffix -> dataset, data root, metric
    'imagenet-a': ('mim_scaling.ImageNetA', 'data/imagenet-a', 'mim_scaling.ClassSubsetAccuracy'),
    'imagenet-r': ('mim_scaling.ImageNetR', 'data/imagenet-r', 'mim_scaling.ClassSubsetAccuracy'),
    'imagenet-sketch': ('mim_scaling.ImageNetSketch', 'data/imagenet-sketch', 'Accuracy'),
}


# Configs on mmpretrain's bases take a second to read: each is read once here.
load_once = lru_cache(maxsize=None)(load)


@pytest.mark.parametrize('suffix', TEST_SETS)
def test_only_the_test_set_and_metric_differ_from_the_fine_tuning_config(suffix):
    dataset, data_root, metric = TEST_SETS[suffix]
    cfg = load_once(f'configs/robustness/swinv2-b_ft_in1k_{suffix}.py')
    text = (REPO / f'configs/robustness/swinv2-b_ft_in1k_{suffix}.py').read_text()
    assert "_base_ = ['../imagenet/swinv2-b_ft_in1k.py']" in text
    assert cfg.model.backbone.arch == 'base' and cfg.model.head.num_classes == 1000
    # ImageNet-1K's test pipeline (short side 256, centre crop 224) on the other test set
    assert cfg.test_dataloader.dataset == dict(
        type=dataset, data_root=data_root, pipeline=cfg.test_pipeline)
    assert [t['type'] for t in cfg.test_pipeline][1:3] == ['ResizeEdge', 'CenterCrop']
    assert cfg.val_dataloader.dataset.type == 'ImageNet'  # validation is unchanged
    assert cfg.test_evaluator.type == metric and cfg.test_evaluator.topk == (1, 5)


def test_every_model_has_the_same_three_test_configs():
    """The leaves differ only in the model they inherit (read as text: loading the 15
    configs through mmpretrain's bases takes seconds each)."""
    folder = REPO / 'configs/robustness'
    assert {p.name for p in folder.glob('*.py')} == {
        f'swinv2-{m}_ft_in1k_{s}.py' for m in MODELS for s in TEST_SETS}
    for suffix in TEST_SETS:
        text = (folder / f'swinv2-b_ft_in1k_{suffix}.py').read_text()
        for model, name in MODELS.items():
            assert (folder / f'swinv2-{model}_ft_in1k_{suffix}.py').read_text() == text.replace(
                'swinv2-b', f'swinv2-{model}').replace('SwinV2-B', f'SwinV2-{name}')


class FixedLogits(BaseModel):
    """A classifier whose 1000 logits are fixed per image file name."""

    def __init__(self, logits_of):
        super().__init__()
        self.logits_of = logits_of

    def forward(self, inputs, data_samples=None, mode='predict'):
        for sample in data_samples:
            sample.set_pred_score(self.logits_of[osp.basename(sample.img_path)].softmax(-1))
        return data_samples


def logits(**values):
    out = torch.zeros(1000)
    for label, value in values.items():
        out[int(label[1:])] = value
    return out


def test_imagenet_r_config_scores_the_1000_way_logits_restricted_to_its_classes(tmp_path):
    # ImageNet-1K labels: goldfish n01443537 -> 1, great white shark n01484850 -> 2 (both in
    # ImageNet-R), tench -> 0 (not in it), acorn n12267677 -> 988 (in it).
    images = {'n01443537/a.jpg': logits(c0=5, c1=3),  # right only among the 200 classes
              'n01484850/b.jpg': logits(c1=4, c2=2),  # wrong, second: within the top 5
              'n12267677/c.jpg': logits(c988=1)}  # right
    root = tmp_path / 'imagenet-r'
    for name in images:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((40, 30, 3), 128, np.uint8)).save(root / name)

    cfg = load_once('configs/robustness/swinv2-b_ft_in1k_imagenet-r.py')
    loader = copy.deepcopy(cfg.test_dataloader)
    loader.update(batch_size=2, num_workers=0, persistent_workers=False)
    loader['dataset'].update(data_root=str(root), serialize_data=False)  # no gc.collect()
    runner = Runner(
        model=FixedLogits({osp.basename(k): v for k, v in images.items()}),
        work_dir=str(tmp_path / 'work'), test_dataloader=loader, test_cfg=cfg.test_cfg,
        test_evaluator=cfg.test_evaluator, default_scope=cfg.default_scope,
        experiment_name='fixed_logits_imagenet_r')
    metrics = runner.test()
    assert metrics['accuracy/top1'] == pytest.approx(200 / 3)
    assert metrics['accuracy/top5'] == pytest.approx(100)
