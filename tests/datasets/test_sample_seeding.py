"""Each sample's transforms draw from generators seeded by (seed, pass, index): the same
draws whatever ran before, different draws for other samples or passes, and the global
generators left as they were."""
import pickle
import random

import numpy as np
import torch

from mim_scaling.datasets import SampleSeededDataset, SeededIndex


class GlobalDraws:
    """Each item is a draw from each global generator, as transforms make them."""
    metainfo = dict(name='draws')

    def __len__(self):
        return 100

    def __getitem__(self, index):
        return (index, random.random(), float(np.random.rand()), float(torch.rand(1)))


def test_a_sample_draws_the_same_whatever_was_drawn_before():
    dataset = SampleSeededDataset(GlobalDraws())
    first = dataset[SeededIndex(5, (0, 2))]
    random.random(), np.random.rand(3), torch.rand(7)
    assert dataset[SeededIndex(5, (0, 2))] == first
    assert first[0] == 5 and type(first[0]) is int
    others = [dataset[SeededIndex(6, (0, 2))], dataset[SeededIndex(5, (0, 3))],
              dataset[SeededIndex(5, (1, 2))]]
    for other in others:
        assert all(a != b for a, b in zip(first[1:], other[1:]))


def test_loading_leaves_the_global_generators_as_they_were():
    dataset = SampleSeededDataset(GlobalDraws())
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    expected = (random.random(), float(np.random.rand()), float(torch.rand(1)))
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    dataset[SeededIndex(5, (0, 0))]
    assert (random.random(), float(np.random.rand()), float(torch.rand(1))) == expected


def test_plain_indices_and_attributes_pass_through():
    dataset = SampleSeededDataset(GlobalDraws())
    np.random.seed(3)
    expected = GlobalDraws()[4][2]
    np.random.seed(3)
    assert dataset[4][2] == expected  # no seeding for a plain index
    assert dataset.metainfo == dict(name='draws') and len(dataset) == 100


def test_seeded_indices_travel_to_workers_by_pickle():
    index = pickle.loads(pickle.dumps(SeededIndex(9, (123, 4))))
    assert isinstance(index, SeededIndex) and index == 9 and index.key == (123, 4)
