"""ClassSubsetAccuracy: a 1000-way classifier scored by its best class among the test set's
classes, checked on scores fixed in advance (configs/robustness runs it end to end:
tests/configs/test_robustness_configs.py)."""
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmpretrain.evaluation import Accuracy
from mmpretrain.structures import DataSample

from mim_scaling.evaluation import ClassSubsetAccuracy


def scored(scores, gt):
    return DataSample().set_pred_score(torch.tensor(scores)).set_gt_label(gt)


# 6 classes, the test set holds 1, 2 and 5.
SAMPLES = [
    # best overall: class 0; best of the kept: 1, the truth
    ([0.50, 0.30, 0.05, 0.05, 0.00, 0.10], 1),
    # best of the kept: 1; the truth 2 is second of the kept
    ([0.10, 0.60, 0.20, 0.05, 0.00, 0.05], 2),
    # best overall: class 0; best of the kept: 5, the truth
    ([0.40, 0.05, 0.10, 0.30, 0.00, 0.15], 5),
]


def evaluate(metric, dataset_meta=None):
    evaluator = Evaluator([metric])
    evaluator.dataset_meta = dataset_meta
    evaluator.process([scored(s, gt) for s, gt in SAMPLES])
    return evaluator.evaluate(len(SAMPLES))


def test_top_k_among_the_kept_classes_only():
    restricted = evaluate(ClassSubsetAccuracy(labels=[1, 2, 5], topk=(1, 2)))
    assert restricted['accuracy/top1'] == pytest.approx(200 / 3)
    assert restricted['accuracy/top2'] == pytest.approx(100)
    unrestricted = evaluate(Accuracy(topk=(1, 2)))
    assert unrestricted['accuracy/top1'] == 0
    assert unrestricted['accuracy/top2'] == pytest.approx(200 / 3)


def test_kept_classes_come_from_the_test_set():
    assert evaluate(ClassSubsetAccuracy(), {'label_subset': (1, 2, 5)})['accuracy/top1'] == \
        pytest.approx(200 / 3)
    with pytest.raises(ValueError, match='metainfo has no "label_subset"'):
        evaluate(ClassSubsetAccuracy(), {'classes': ('a', 'b')})


def test_a_label_outside_the_kept_classes_or_no_scores_is_an_error():
    metric = ClassSubsetAccuracy(labels=[1, 2])
    with pytest.raises(ValueError, match='label 5 is not one of the 2 kept classes'):
        metric.process(None, [scored(SAMPLES[2][0], 5).to_dict()])
    with pytest.raises(ValueError, match='needs the class scores'):
        metric.process(None, [DataSample().set_pred_label(1).set_gt_label(1).to_dict()])
