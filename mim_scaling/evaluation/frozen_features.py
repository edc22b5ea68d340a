"""What a frozen encoder's features are worth: weighted k-NN top-1 on labelled images.

The encoder is not trained: each image becomes the average of its last-stage feature map
(the last output of the backbone), L2-normalised. Each held-out image (a query) is then
classified by its ``k`` most cosine-similar labelled images (the bank), each voting for its
class with weight ``exp(similarity / temperature)``: the weighted k-NN of Wu et al. (2018)
that DINO and others report for self-supervised features. It has no parameters to fit,
costs one forward pass per image, and gives the same number for the same weights.

The interval is Wilson's 95% score interval for a proportion: the queries are independent
draws of the data's distribution scored against one fixed bank, so it says how far another
draw of as many queries could move the top-1; it does not cover the variation between
training runs (seeds), which is measured by repeating the runs.
"""
import math
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.dataset import pseudo_collate
from mmengine.registry import DATASETS
from torch import nn
from torch.utils.data import DataLoader

# The scalar keys of mim_scaling.KNNProbeHook in the logs, next to ``reconstruction/loss``.
KNN_TOP1_KEY = 'knn/top1'
KNN_LOW_KEY = 'knn/top1_low'
KNN_HIGH_KEY = 'knn/top1_high'

# Wilson's interval at 95%: the two-sided normal quantile.
_Z95 = 1.959963984540054


@dataclass(frozen=True)
class KNNResult:
    """Top-1 (%) of the k-NN classifier on ``n`` queries, with Wilson's 95% interval."""
    top1: float
    low: float
    high: float
    n: int


def wilson_interval(correct: int, n: int, z: float = _Z95) -> Tuple[float, float]:
    """Wilson's score interval (in %) for ``correct`` successes out of ``n``."""
    if n <= 0 or not 0 <= correct <= n:
        raise ValueError(f'need 0 <= correct <= n and n > 0, got correct={correct}, n={n}')
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return 100 * max(centre - half, 0.0), 100 * min(centre + half, 1.0)


def knn_predict(bank: torch.Tensor, bank_labels: torch.Tensor, queries: torch.Tensor,
                num_classes: int, k: int = 10, temperature: float = 0.07) -> torch.Tensor:
    """The class of each query by weighted k-NN over the bank.

    ``bank`` (N, D) and ``queries`` (M, D) are L2-normalised features; ``bank_labels`` (N,)
    holds classes in ``[0, num_classes)``. A query's score for a class is the sum of
    ``exp(cosine / temperature)`` over those of its ``k`` nearest bank images (``k`` is cut
    to the bank's size) that have the class; ties go to the lower class index.
    """
    if bank.dim() != 2 or queries.dim() != 2 or bank.shape[1] != queries.shape[1]:
        raise ValueError(f'bank and queries must be (N, D) and (M, D) features, got '
                         f'{tuple(bank.shape)} and {tuple(queries.shape)}')
    if bank_labels.shape != bank.shape[:1]:
        raise ValueError(f'{bank.shape[0]} bank features but {bank_labels.numel()} labels')
    if k < 1 or temperature <= 0:
        raise ValueError(f'k must be at least 1 and temperature positive, got k={k}, '
                         f'temperature={temperature}')
    if bank_labels.numel() and not 0 <= int(bank_labels.min()) <= int(bank_labels.max()) \
            < num_classes:
        raise ValueError(f'bank labels must lie in [0, {num_classes})')
    similarity = queries @ bank.T  # (M, N) cosines
    top, index = similarity.topk(min(k, bank.shape[0]), dim=1)
    votes = torch.zeros(queries.shape[0], num_classes, dtype=similarity.dtype)
    votes.scatter_add_(1, bank_labels[index], (top / temperature).exp())
    return votes.argmax(dim=1)


@torch.no_grad()
def extract_features(backbone: nn.Module, preprocessor: nn.Module,
                     loader: DataLoader) -> Tuple[torch.Tensor, torch.Tensor]:
    """(features, labels) of every image of ``loader``: the backbone's last output map,
    averaged over positions and L2-normalised, in the loader's order.

    ``preprocessor`` is a classification data preprocessor (normalisation, channel order):
    built by :func:`build_probe` with the pre-training's mean and std.
    """
    was_training = backbone.training
    backbone.eval()
    features, labels = [], []
    try:
        for batch in loader:
            data = preprocessor(batch, False)
            pooled = backbone(data['inputs'])[-1].mean(dim=(2, 3))
            features.append(F.normalize(pooled.float(), dim=1))
            labels.append(torch.cat([s.gt_label for s in data['data_samples']]))
    finally:
        backbone.train(was_training)
    return torch.cat(features), torch.cat(labels)


class KNNProbe:
    """Weighted k-NN top-1 of an encoder's frozen features: a labelled bank, held-out
    queries (both mmpretrain datasets with labels), and the normalisation of the images.

    Args:
        bank: Config of the labelled dataset the neighbours come from.
        queries: Config of the held-out labelled dataset that is classified.
        mean, std, to_rgb: Image normalisation: the encoder's data preprocessor's.
        k, temperature: Of the vote, see :func:`knn_predict`.
        batch_size: Images per forward pass.
    """

    def __init__(self, bank: dict, queries: dict, mean: Sequence[float], std: Sequence[float],
                 to_rgb: bool = True, k: int = 10, temperature: float = 0.07,
                 batch_size: int = 64) -> None:
        from mmpretrain.models import ClsDataPreprocessor
        self.k, self.temperature = k, temperature
        self.bank, self.queries = (DataLoader(DATASETS.build(cfg), batch_size=batch_size,
                                              collate_fn=pseudo_collate)
                                   for cfg in (bank, queries))
        classes = [self.bank.dataset.metainfo.get('classes'),
                   self.queries.dataset.metainfo.get('classes')]
        if classes[0] != classes[1] or not classes[0]:
            raise ValueError(f'the bank and the queries must have the same classes, got '
                             f'{classes[0]} and {classes[1]}')
        self.num_classes = len(classes[0])
        self.preprocessor = ClsDataPreprocessor(mean=mean, std=std, to_rgb=to_rgb)

    def __call__(self, backbone: nn.Module) -> KNNResult:
        bank, bank_labels = extract_features(backbone, self.preprocessor, self.bank)
        queries, labels = extract_features(backbone, self.preprocessor, self.queries)
        predicted = knn_predict(bank, bank_labels, queries, self.num_classes, self.k,
                                self.temperature)
        correct, n = int((predicted == labels).sum()), labels.numel()
        return KNNResult(100 * correct / n, *wilson_interval(correct, n), n)


def build_probe(model_cfg: dict, bank: dict, queries: dict,
                batch_size: Optional[int] = None, **vote) -> KNNProbe:
    """A :class:`KNNProbe` normalising images as the model's data preprocessor does."""
    pre = model_cfg.get('data_preprocessor') or {}
    if 'mean' not in pre or 'std' not in pre:
        raise ValueError('the model config has no data_preprocessor with mean and std: the '
                         'probe needs the normalisation the encoder was trained with')
    extra = {} if batch_size is None else dict(batch_size=batch_size)
    return KNNProbe(bank, queries, pre['mean'], pre['std'],
                    pre.get('to_rgb', pre.get('bgr_to_rgb', False)), **vote, **extra)
