"""Key mappings from the SwinV2 checkpoint formats in the wild to our backbone's names.

Three formats reach us:
- the authors' released SimMIM checkpoints: a dict under ``model`` with ``encoder.`` (backbone)
  and ``decoder.`` keys, some with the old name ``rpe_mlp`` for ``cpb_mlp``, and the
  window-dependent tables stored as buffers;
- timm's ``swinv2_*`` state dicts, which put each patch merging at the *start* of the next
  stage (``layers.{i+1}.downsample``) where the reference has it at the end of stage ``i``,
  and a classifier under ``head``;
- mmengine checkpoints of our own models (``state_dict`` with ``backbone.`` keys).
"""
import re
from typing import Dict, Mapping

import torch

# Rebuilt from the window size by the model; never loaded.
WINDOW_BUFFERS = ('relative_position_index', 'relative_coords_table', 'attn_mask')


def unwrap_state_dict(checkpoint: Mapping) -> Dict[str, torch.Tensor]:
    """The tensors of a checkpoint, whether saved bare, under ``state_dict`` or ``model``."""
    for key in ('state_dict', 'model'):
        if key in checkpoint and isinstance(checkpoint[key], Mapping):
            checkpoint = checkpoint[key]
            break
    return {k: v for k, v in checkpoint.items() if isinstance(v, torch.Tensor)}


def is_timm_layout(state: Mapping[str, torch.Tensor]) -> bool:
    """timm has no downsample in stage 0 (it sits at the start of stage 1)."""
    has_downsample = any('.downsample.' in k for k in state)
    return has_downsample and not any(k.startswith('layers.0.downsample.') for k in state)


def from_timm(state: Mapping[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """timm SwinV2 names -> reference names (downsample moved to the end of the previous stage)."""
    out = {}
    for k, v in state.items():
        if k.startswith('head.'):
            continue
        k = re.sub(r'^layers\.(\d+)\.downsample\.',
                   lambda m: f'layers.{int(m.group(1)) - 1}.downsample.', k)
        out[k] = v
    return out


def to_backbone_state_dict(checkpoint: Mapping) -> Dict[str, torch.Tensor]:
    """Backbone tensors of any supported checkpoint, named as in :class:`SwinV2`."""
    state = unwrap_state_dict(checkpoint)
    for prefix in ('backbone.', 'encoder.'):
        if any(k.startswith(prefix) for k in state):
            state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
            break
    else:
        state = {k: v for k, v in state.items() if not k.startswith(('decoder.', 'head.'))}
    if is_timm_layout(state):
        state = from_timm(state)
    out = {}
    for k, v in state.items():
        if k.endswith(WINDOW_BUFFERS):
            continue
        k = k.replace('.rpe_mlp.', '.cpb_mlp.')
        if k == 'mask_token':
            v = v.reshape(1, 1, 1, -1)  # the reference stores it as (1, 1, C)
        out[k] = v
    return out
