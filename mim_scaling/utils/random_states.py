"""The states of the global random generators a training process draws from.

Data transforms (mmcv's, mmpretrain's, ours) draw from Python's ``random``, numpy's global
generator and torch's CPU generator; stochastic depth and dropout draw from torch's CPU or
CUDA generator. Saving and restoring these four makes a resumed run continue the random
streams of the interrupted one; seeding them per sample makes a sample's crop, flip and
mask independent of which worker loads it and of what that worker loaded before.

States are kept as plain lists, numbers and tensors, so that checkpoints holding them load
with ``torch.load(weights_only=True)``.
"""
import contextlib
import random
from typing import Iterable

import numpy as np
import torch

__all__ = [
    'capture_random_states', 'restore_random_states', 'preserved_random_states',
    'seeded_random_states'
]


def _cuda_in_use() -> bool:
    # Querying the CUDA generator would initialise CUDA in processes that never used it
    # (and break forked dataloader workers), so only a process already using CUDA saves it.
    return torch.cuda.is_available() and torch.cuda.is_initialized()


def capture_random_states(cuda: bool = True) -> dict:
    """The states of Python's, numpy's, torch's CPU and (if in use) CUDA generators."""
    version, internal, gauss_next = random.getstate()
    _, key, pos, has_gauss, cached_gaussian = np.random.get_state(legacy=True)
    states = dict(
        python=dict(version=version, state=list(internal), gauss_next=gauss_next),
        numpy=dict(key=key.tolist(), pos=int(pos), has_gauss=int(has_gauss),
                   cached_gaussian=float(cached_gaussian)),
        torch=torch.get_rng_state())
    if cuda and _cuda_in_use():
        states['cuda'] = torch.cuda.get_rng_state()
    return states


def restore_random_states(states: dict) -> None:
    """Sets the generators to ``states`` from :func:`capture_random_states`."""
    python = states['python']
    random.setstate((python['version'], tuple(python['state']), python['gauss_next']))
    numpy = states['numpy']
    np.random.set_state(('MT19937', np.asarray(numpy['key'], dtype=np.uint32), numpy['pos'],
                         numpy['has_gauss'], numpy['cached_gaussian']))
    torch.set_rng_state(states['torch'])
    if 'cuda' in states and torch.cuda.is_available():
        torch.cuda.set_rng_state(states['cuda'])


@contextlib.contextmanager
def preserved_random_states(cuda: bool = True):
    """Runs the block without moving the generators: their states are restored after it."""
    states = capture_random_states(cuda)
    try:
        yield
    finally:
        restore_random_states(states)


@contextlib.contextmanager
def seeded_random_states(entropy: Iterable[int], restore: bool = True):
    """Seeds Python's, numpy's and torch's CPU generators from ``entropy`` for the block.

    Each generator gets its own seed derived with numpy's ``SeedSequence``, so nearby keys
    such as (seed, pass, 7) and (seed, pass, 8) give unrelated streams. With ``restore``,
    the previous states are restored afterwards (saving numpy's costs about 0.2 ms, which
    a dataloader worker, whose streams nothing else reads, can skip). The CUDA generator is
    not touched.
    """
    words = np.random.SeedSequence([int(value) for value in entropy]).generate_state(10)
    with preserved_random_states(cuda=False) if restore else contextlib.nullcontext():
        random.seed(int.from_bytes(words[:4].tobytes(), 'little'))
        np.random.seed(words[4:8])
        torch.default_generator.manual_seed(int(words[8]) << 32 | int(words[9]))
        yield
