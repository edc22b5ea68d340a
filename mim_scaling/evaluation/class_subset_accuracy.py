"""Top-k accuracy of a 1000-way ImageNet-1K classifier on a test set of fewer classes."""
from typing import Optional, Sequence

import torch
from mmpretrain.evaluation import Accuracy

from mim_scaling.registry import METRICS


@METRICS.register_module()
class ClassSubsetAccuracy(Accuracy):
    """mmpretrain's ``Accuracy`` with the prediction restricted to the test set's classes.

    ImageNet-A and ImageNet-R hold 200 of ImageNet-1K's classes; their authors score an
    ImageNet-1K classifier by its best class among those 200 (``output[:, indices_in_1k]``
    before the argmax in their ``eval.py``). Here the scores of the other classes are set to
    ``-inf`` before the top-k, which ranks the kept classes exactly as that slice does while
    labels stay ImageNet-1K labels. The model and its head are untouched, so the same
    fine-tuned checkpoint is tested on every data set.

    The metric sits here rather than in the head because the restriction is a property of
    the test set: the kept labels come from the data set's ``metainfo['label_subset']``
    (see :mod:`mim_scaling.datasets.imagenet_robustness`) unless ``labels`` is given.

    Args:
        labels: ImageNet-1K labels to keep; default: those of the data set.
        thrs: As in ``Accuracy``; no threshold by default, since the restricted argmax is
            the prediction whatever its (softmax over 1000 classes) score.
        **kwargs: Other arguments of :class:`mmpretrain.evaluation.Accuracy` (``topk``, ...).
    """

    def __init__(self, labels: Optional[Sequence[int]] = None, thrs=None, **kwargs):
        super().__init__(thrs=thrs, **kwargs)
        self.labels = None if labels is None else tuple(int(i) for i in labels)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        labels = self._kept_labels()
        restricted = []
        for sample in data_samples:
            if 'pred_score' not in sample:
                raise ValueError(f'{type(self).__name__} needs the class scores (pred_score) '
                                 f'of the model, not only its predicted label')
            gt = int(sample['gt_label'])
            if gt not in labels:
                raise ValueError(f'{type(self).__name__}: ground-truth label {gt} is not one '
                                 f'of the {len(labels)} kept classes')
            score = sample['pred_score']
            dropped = torch.ones_like(score, dtype=torch.bool)
            dropped[sorted(labels)] = False
            restricted.append({**sample, 'pred_score': score.masked_fill(dropped, -torch.inf)})
        super().process(data_batch, restricted)

    def _kept_labels(self) -> frozenset:
        if self.labels is not None:
            return frozenset(self.labels)
        meta = self.dataset_meta or {}
        if 'label_subset' not in meta:
            raise ValueError(f'{type(self).__name__}: the test set\'s metainfo has no '
                             f'"label_subset" (ImageNetA and ImageNetR have one); pass the '
                             f'labels to keep as labels=[...]')
        return frozenset(meta['label_subset'])
