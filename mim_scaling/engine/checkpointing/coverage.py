"""Whether a checkpoint gives a model every weight, checked before evaluating with it.

mmengine loads a checkpoint non-strictly and only logs what is missing or mis-shaped, so an
evaluation goes on with part of the model randomly initialised: a SimMIM model tested with a
backbone-only checkpoint reports the loss of a random decoder. ``tools/test.py`` calls
:func:`check_checkpoint_fits` first, which makes that an error naming the missing parts and,
for a SwinV2 backbone of another shape, the architecture the checkpoint holds.
"""
import re
from collections import defaultdict
from typing import Dict, List

import torch
from mmengine.model import is_model_wrapper
from mmengine.runner.checkpoint import CheckpointLoader

from mim_scaling.models.backbones.swinv2 import ARCH_SETTINGS, SwinV2
from mim_scaling.models.backbones.swinv2_key_mapping import mismatch_message, unwrap_state_dict

__all__ = ['CheckpointMismatchError', 'check_checkpoint_fits']


class CheckpointMismatchError(ValueError):
    """A checkpoint that lacks tensors of the model, or holds them in other shapes."""


def _by_part(keys: List[str], limit: int = 3) -> str:
    parts: Dict[str, List[str]] = defaultdict(list)
    for key in keys:
        parts[key.split('.')[0]].append(key)
    return '; '.join(
        f'model.{part}: {len(names)} ({", ".join(names[:limit])}'
        f'{", ..." if len(names) > limit else ""})' for part, names in parts.items())


def check_checkpoint_fits(model: torch.nn.Module, filename: str) -> None:
    """Raises :class:`CheckpointMismatchError` unless ``filename`` holds every tensor of
    ``model`` in its shape (tensors the model does not have are ignored, as mmengine does)."""
    model = model.module if is_model_wrapper(model) else model
    checkpoint = CheckpointLoader.load_checkpoint(filename, map_location='cpu')
    state = {re.sub(r'^module\.', '', k): v for k, v in unwrap_state_dict(checkpoint).items()}
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    wrong = [f'{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(v.shape)}'
             for k, v in own.items() if k in state and state[k].shape != v.shape]
    if not missing and not wrong:
        return

    name = type(model).__name__
    backbone = getattr(model, 'backbone', None)
    if isinstance(backbone, SwinV2) and any(k.startswith('backbone.') for k in wrong + missing):
        strip = len('backbone.')
        raise CheckpointMismatchError(mismatch_message(
            f'Checkpoint {filename} does not fit the {name} of the config',
            {k[strip:]: v for k, v in state.items() if k.startswith('backbone.')},
            {k[strip:]: v for k, v in own.items() if k.startswith('backbone.')},
            [w[strip:] for w in wrong if w.startswith('backbone.')],
            [k[strip:] for k in missing if k.startswith('backbone.')], [],
            known_archs=ARCH_SETTINGS) + (
                f'\n  outside the backbone, missing: {_by_part(missing)}' if any(
                    not k.startswith('backbone.') for k in missing) else ''))
    problems = []
    if missing:
        problems.append(f'{len(missing)} of the model\'s {len(own)} tensors are missing, by '
                        f'part: {_by_part(missing)}')
    if wrong:
        problems.append(f'{len(wrong)} have another shape: {"; ".join(wrong[:5])}'
                        + ('; ...' if len(wrong) > 5 else ''))
    hint = ''
    if name == 'SimMIM' and all(k.startswith(('neck.', 'head.')) for k in missing):
        hint = ('\n  It holds the encoder only: the SimMIM loss needs the decoder trained with '
                'it. Use a pre-training checkpoint, or convert a released one without '
                '--backbone-only (tools/model_converters/simmim2mmengine.py).')
    raise CheckpointMismatchError(
        f'Checkpoint {filename} does not give the {name} of the config all its weights, so '
        'part of it would be evaluated at random initialisation:\n  '
        + '\n  '.join(problems) + hint)
