"""Whole checkpoints of SwinV2 models in the wild -> mmengine checkpoints of our models.

What comes out depends on what the source holds (``convert_checkpoint``):

- an encoder with the SimMIM decoder (the authors' released pre-training checkpoints, our own
  pre-training checkpoints): a ``mim_scaling.SimMIM`` checkpoint, ``backbone.*`` and
  ``neck.decoder.*`` (for ``load_from`` of a pre-training config, ``tools/test.py`` on one,
  and the backbone's ``init_cfg``, which reads the ``backbone.*`` part);
- an encoder with a classifier head (the authors' released fine-tuned checkpoints, with
  ``head.weight``/``head.bias``; timm's ``head.fc.*``): an mmpretrain ``ImageClassifier``
  checkpoint, ``backbone.*`` and ``head.fc.*``, for ``configs/imagenet/swinv2-*_ft_in1k.py``;
- ``backbone_only=True``: the ``backbone.*`` tensors alone.

The key mapping of the encoder is :func:`to_backbone_state_dict`. The pre-training windows
that the position-bias MLP was trained with are recorded in
``meta['pretrained_window_sizes']``: read from the source's own meta when it has one, else
from its stored coordinate tables (see :func:`pretrained_window_sizes`).
"""
import re
from typing import Dict, List, Mapping, Optional

import torch

from .swinv2_key_mapping import to_backbone_state_dict, unwrap_state_dict

CONVERTED_BY = 'mim_scaling.models.backbones.swinv2_convert'
# Classifier head names: the authors' and mmpretrain's / timm's.
_HEAD_NAMES = {'head.weight': 'head.fc.weight', 'head.bias': 'head.fc.bias',
               'head.fc.weight': 'head.fc.weight', 'head.fc.bias': 'head.fc.bias'}


def pretrained_window_sizes(tensors: Mapping[str, torch.Tensor]) -> Optional[List[int]]:
    """Per-stage windows the position-bias MLP was trained with, read from the stored
    ``relative_coords_table`` buffers (None when the source does not store them).

    The table holds ``sign(x) * log2(|x| + 1) / log2(8)`` of the offsets
    ``x = 8 * d / (P - 1)``, ``|d| <= W - 1``, where ``W`` is the window of the table
    (``2W - 1`` rows) and ``P`` the pre-training window (``P = W`` in pre-training). Its
    largest entry gives ``P``, so a fine-tuned checkpoint (windows 14/7 at 224 px) reports the
    windows of its pre-training (12/6 at 192 px), which is what its MLP expects.
    """
    sizes = {}
    pattern = re.compile(r'(?:^|\.)layers\.(\d+)\.blocks\.0\.attn\.relative_coords_table$')
    for key, table in tensors.items():
        match = pattern.search(key)
        if match is None or table.dim() != 4:  # the reference's (1, 2W - 1, 2W - 1, 2)
            continue
        window = (table.shape[1] + 1) // 2
        largest = float(table[..., 0].abs().max())
        if window == 1 or largest == 0:
            sizes[int(match.group(1))] = window
            continue
        offset = 8**largest - 1  # x at the largest offset d = W - 1
        sizes[int(match.group(1))] = round(8 * (window - 1) / offset + 1)
    if not sizes or sorted(sizes) != list(range(len(sizes))):
        return None
    return [sizes[i] for i in range(len(sizes))]


def _classifier_head(tensors: Mapping[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    head = {new: tensors[old] for old, new in _HEAD_NAMES.items() if old in tensors}
    if head and set(head) != {'head.fc.weight', 'head.fc.bias'}:
        raise ValueError(f'incomplete classifier head: found only {sorted(head)}')
    return head


def convert_checkpoint(checkpoint: Mapping, backbone_only: bool = False) -> dict:
    """mmengine checkpoint (``meta`` and ``state_dict``) from a loaded source checkpoint."""
    backbone = to_backbone_state_dict(checkpoint)
    if not any(k.startswith('layers.') for k in backbone):
        raise ValueError('no SwinV2 weights found (expected keys like '
                         'layers.0.blocks.0.attn.qkv.weight, possibly under encoder. or backbone.)')
    tensors = unwrap_state_dict(checkpoint)
    state = {f'backbone.{k}': v for k, v in backbone.items()}
    model = 'backbone'
    if not backbone_only:
        decoder = {f'neck.decoder.{k[len(prefix):]}': v for prefix in ('decoder.', 'neck.decoder.')
                   for k, v in tensors.items() if k.startswith(prefix)}
        head = _classifier_head(tensors)
        if decoder and head:
            raise ValueError('the checkpoint holds both a SimMIM decoder and a classifier head')
        state.update(decoder or head)
        model = 'SimMIM' if decoder else 'ImageClassifier' if head else model
    meta = dict(converted_by=CONVERTED_BY, model=model, backbone_only=backbone_only)
    source_meta = checkpoint.get('meta') if isinstance(checkpoint.get('meta'), Mapping) else {}
    windows = source_meta.get('pretrained_window_sizes') or pretrained_window_sizes(tensors)
    if windows is not None:
        meta['pretrained_window_sizes'] = [int(w) for w in windows]
    return dict(meta=meta, state_dict=state)


def describe(converted: dict) -> str:
    """One line on what a converted checkpoint holds, for the tools' output."""
    state, meta = converted['state_dict'], converted['meta']
    held = f'{sum(k.startswith("backbone.") for k in state)} backbone'
    if meta['model'] == 'SimMIM':
        held += f' and {sum(k.startswith("neck.") for k in state)} decoder tensors'
    elif meta['model'] == 'ImageClassifier':
        held += f' tensors and a {state["head.fc.weight"].shape[0]}-class head'
    else:
        held += ' tensors'
    windows = meta.get('pretrained_window_sizes', 'unknown')
    return f'{meta["model"]} checkpoint, {held}; pre-training windows {windows}'


__all__ = ['convert_checkpoint', 'describe', 'pretrained_window_sizes']
