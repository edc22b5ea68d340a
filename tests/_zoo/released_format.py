"""Checkpoints in the format of the authors' release, made from timm's SwinV2 with known
random weights (timm is an independent port of the authors' model with the same parameter
names), for tests of the converter, the fetch tool and the configs that take their output.

The authors' layout differs from timm's in three ways: patch
merging sits at the end of stage i (timm: start of stage i + 1), the position-bias MLP has
the old name ``rpe_mlp`` in some files, and the classifier is ``head`` (timm: ``head.fc``).
Their files store the window tables as buffers and pickle the training config (a yacs
``CfgNode``, stood for here by a dict subclass).
"""
import re

import timm
import torch

# A tiny SwinV2 at 64 px (stages of 16, 8, 4, 2 tokens), window 4, fine-tuned from a
# pre-training whose windows were [3, 3, 3, 2].
TIMM_ARGS = dict(img_size=64, embed_dim=16, depths=(1, 1, 2, 1), num_heads=(1, 1, 2, 2),
                 window_size=4)
PRETRAINED_WINDOWS = [3, 3, 3, 2]
# The same model as our backbone's arguments.
BACKBONE = dict(arch=dict(embed_dims=16, depths=[1, 1, 2, 1], num_heads=[1, 1, 2, 2]),
                img_size=64, window_size=4)
NUM_CLASSES = 10


class CfgNode(dict):
    """Stands for the yacs config object pickled in the released files."""


def timm_swinv2(num_classes=0, pretrained_window_sizes=(0, 0, 0, 0), seed=0, **overrides):
    """timm's SwinV2 with its init perturbed, so that every tensor matters."""
    torch.manual_seed(seed)
    model = timm.models.swin_transformer_v2.SwinTransformerV2(
        num_classes=num_classes, pretrained_window_sizes=tuple(pretrained_window_sizes),
        **dict(TIMM_ARGS, **overrides)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model


def reference_names(model) -> dict:
    """timm's parameters and window buffers under the authors' names."""
    tensors = dict(model.state_dict())
    tensors.update({k: v for k, v in model.named_buffers()
                    if k.endswith(('relative_coords_table', 'relative_position_index'))})
    out = {}
    for k, v in tensors.items():
        if k.endswith('k_bias'):  # timm's constant zero key bias, not in the reference
            continue
        k = re.sub(r'layers\.(\d+)\.downsample',
                   lambda m: f'layers.{int(m.group(1)) - 1}.downsample', k)
        out[k.replace('cpb_mlp', 'rpe_mlp').replace('head.fc.', 'head.')] = v
    return out


def released_finetuned(model) -> dict:
    """A released fine-tuned classifier: encoder without prefix and ``head.weight/bias``."""
    return dict(model=reference_names(model), config=CfgNode(MODEL='swinv2'), max_accuracy=0.0)


def released_pretrained(model, decoder_seed=1) -> dict:
    """A released SimMIM checkpoint: ``encoder.*``, a (1, 1, C) mask token and the
    ``decoder.0`` convolution (8C -> 32 * 32 * 3) of the linear decoder."""
    generator = torch.Generator().manual_seed(decoder_seed)
    width = model.num_features
    state = {f'encoder.{k}': v for k, v in reference_names(model).items()}
    state['encoder.mask_token'] = 0.02 * torch.randn(1, 1, TIMM_ARGS['embed_dim'],
                                                     generator=generator)
    state['decoder.0.weight'] = 0.02 * torch.randn(32 * 32 * 3, width, 1, 1, generator=generator)
    state['decoder.0.bias'] = torch.zeros(32 * 32 * 3)
    return dict(model=state, config=CfgNode(MODEL='swinv2'), epoch=99)
