"""Random states survive a round trip through a checkpoint loaded with weights_only."""
import random

import numpy as np
import torch

from mim_scaling.safe_loading import safe_load
from mim_scaling.utils import (capture_random_states, preserved_random_states,
                               restore_random_states)


def draws():
    return random.random(), float(np.random.randn()), torch.rand(3).tolist()


def test_states_restore_from_a_safely_loaded_checkpoint(tmp_path):
    np.random.randn()  # a cached Gaussian is part of numpy's state
    torch.save(dict(meta=dict(random_states=[capture_random_states()])), tmp_path / 'c.pth')
    expected = draws()
    restore_random_states(safe_load(tmp_path / 'c.pth')['meta']['random_states'][0])
    assert draws() == expected


def test_preserved_states_undo_the_draws_of_a_block():
    with preserved_random_states():
        expected = draws()
    with preserved_random_states():
        draws()
    assert draws() == expected
