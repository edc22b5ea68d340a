"""The k-NN probe of frozen features: the vote, its interval and the features, on cases whose
answers are worked out by hand."""
import math

import pytest
import torch
from torch import nn

from mim_scaling.evaluation.frozen_features import (extract_features, knn_predict,
                                                    wilson_interval)

# Three labelled unit vectors and a query at cosines 0.8, 0.6 and -0.8 from them.
BANK = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
BANK_LABELS = torch.tensor([0, 1, 1])
QUERY = torch.tensor([[0.8, 0.6]])


def test_the_nearest_neighbour_decides_alone_with_k_1():
    assert knn_predict(BANK, BANK_LABELS, QUERY, num_classes=2, k=1).tolist() == [0]


def test_votes_are_weighted_by_exp_of_cosine_over_temperature():
    # T = 1: class 0 gets e^0.8 = 2.226, class 1 e^0.6 + e^-0.8 = 2.271: class 1 wins.
    assert math.exp(0.8) < math.exp(0.6) + math.exp(-0.8)
    assert knn_predict(BANK, BANK_LABELS, QUERY, 2, k=3, temperature=1.0).tolist() == [1]
    # T = 0.1: e^8 = 2981 against e^6 + e^-8 = 403: the nearest neighbour outweighs both.
    assert knn_predict(BANK, BANK_LABELS, QUERY, 2, k=3, temperature=0.1).tolist() == [0]
    # k larger than the bank: all of it votes.
    assert knn_predict(BANK, BANK_LABELS, QUERY, 2, k=50, temperature=1.0).tolist() == [1]


def test_a_class_without_neighbours_gets_no_vote():
    queries = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-0.6, -0.8]])
    assert knn_predict(BANK, BANK_LABELS, queries, num_classes=5, k=1).tolist() == [0, 1, 1]


def test_bad_input_is_named():
    with pytest.raises(ValueError, match='labels'):
        knn_predict(BANK, BANK_LABELS[:2], QUERY, 2)
    with pytest.raises(ValueError, match=r'\[0, 1\)'):
        knn_predict(BANK, BANK_LABELS, QUERY, 1)
    with pytest.raises(ValueError, match='k must be'):
        knn_predict(BANK, BANK_LABELS, QUERY, 2, k=0)
    with pytest.raises(ValueError, match='features'):
        knn_predict(BANK, BANK_LABELS, torch.ones(1, 3), 2)


def test_wilson_interval_by_hand():
    # 8 of 10, z = 1.96: centre (0.8 + z^2/20) / (1 + z^2/10) = 0.7167, half-width
    # z * sqrt(0.016 + z^2/400) / (1 + z^2/10) = 0.2266.
    low, high = wilson_interval(8, 10)
    assert (low, high) == pytest.approx((49.02, 94.33), abs=0.01)
    # At the edges it stays inside [0, 100] and is not empty.
    assert wilson_interval(0, 20)[0] == 0 and 0 < wilson_interval(0, 20)[1] < 20
    assert wilson_interval(20, 20)[1] == 100
    with pytest.raises(ValueError):
        wilson_interval(3, 2)


class _Sample:
    def __init__(self, label):
        self.gt_label = torch.tensor([label])


class _Identity(nn.Module):
    """Stands for the data preprocessor: the batch is already a tensor."""

    def forward(self, batch, training):
        return batch


class _MapBackbone(nn.Module):
    """A 'backbone' whose last output map is the input itself, as (N, C, H, W)."""

    def forward(self, x):
        return (x * 0, x)


def test_features_are_the_last_map_averaged_over_positions_then_normalised():
    images = torch.tensor([[[[3.0, 5.0]], [[0.0, 0.0]]],  # channel means (4, 0)
                           [[[1.0, 1.0]], [[3.0, -1.0]]]])  # channel means (1, 1)
    loader = [dict(inputs=images, data_samples=[_Sample(2), _Sample(0)])]
    backbone = _MapBackbone().train()
    features, labels = extract_features(backbone, _Identity(), loader)
    assert torch.allclose(features, torch.tensor([[1.0, 0.0], [0.5**0.5, 0.5**0.5]]))
    assert labels.tolist() == [2, 0]
    assert backbone.training  # put back as it was
