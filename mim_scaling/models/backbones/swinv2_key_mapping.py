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
from typing import Dict, List, Mapping, Optional, Sequence

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


def describe_architecture(state: Mapping[str, torch.Tensor]) -> Dict[str, object]:
    """What the shapes of a backbone state dict (our names) tell of its architecture.

    ``embed_dims`` and ``patch_size`` from the patch embedding, ``depths`` from the blocks
    of each stage and ``num_heads`` from each stage's per-head ``logit_scale``; what the
    state dict does not hold is left out.
    """
    arch: Dict[str, object] = {}
    proj = state.get('patch_embed.proj.weight')
    if proj is not None and proj.dim() == 4:
        arch['embed_dims'], arch['patch_size'] = proj.shape[0], proj.shape[-1]
    blocks: Dict[int, set] = {}
    for key in state:
        match = re.match(r'layers\.(\d+)\.blocks\.(\d+)\.', key)
        if match:
            blocks.setdefault(int(match.group(1)), set()).add(int(match.group(2)))
    if blocks:
        stages = range(max(blocks) + 1)
        arch['depths'] = [len(blocks.get(i, ())) for i in stages]
        scales = [state.get(f'layers.{i}.blocks.0.attn.logit_scale') for i in stages]
        if all(s is not None for s in scales):
            arch['num_heads'] = [s.shape[0] for s in scales]
    return arch


def architecture_text(state: Mapping[str, torch.Tensor],
                      known_archs: Optional[Mapping[str, Mapping]] = None) -> str:
    """:func:`describe_architecture` in words, naming the matching arch of ``known_archs``."""
    arch = describe_architecture(state)
    text = ', '.join(f'{k}={v}' for k, v in arch.items()) or 'no SwinV2 patch embedding or blocks'
    found = (arch.get('embed_dims'), arch.get('depths'), arch.get('num_heads'))
    for name, settings in (known_archs or {}).items():
        if (settings['embed_dims'], list(settings['depths']),
                list(settings['num_heads'])) == found:
            return f"{text} (arch='{name}')"
    return text


def _capped(items: Sequence[str], what: str, limit: int = 5) -> List[str]:
    more = [f'... and {len(items) - limit} more {what}'] if len(items) > limit else []
    return list(items[:limit]) + more


def mismatch_message(headline: str, state: Mapping[str, torch.Tensor],
                     own: Mapping[str, torch.Tensor], wrong_shape: Sequence[str],
                     missing: Sequence[str], extra: Sequence[str],
                     known_archs: Optional[Mapping[str, Mapping]] = None) -> str:
    """Why a backbone state dict does not fit a model: the mis-shaped, missing and extra
    keys (each list capped at five), then both architectures as far as their shapes tell."""
    lines = (_capped(wrong_shape, 'tensors of another shape')
             + _capped([f'missing: {k}' for k in missing], 'missing tensors')
             + _capped([f'not in the model: {k}' for k in extra], 'tensors not in the model'))
    lines += [f'The checkpoint holds {architecture_text(state, known_archs)};',
              f'the model is {architecture_text(own, known_archs)}.']
    return f'{headline}:\n  ' + '\n  '.join(lines)
