"""LayerDecayOptimWrapperConstructor in a classifier, a segmentor and a detector.

Each model comes from its library's own shipped config with our tiny SwinV2 swapped in.
The expected lr follows the reference code: layer id 0 for the patch embedding and mask token,
``sum(depths[:i]) + j + 1`` for block j of stage i, the id of a stage's last block for its
patch merging, ``sum(depths) + 1`` for the rest; scale ``decay ** (sum(depths) + 1 - id)``.
"""
import pytest
import torch
from mmengine.config import Config

import mim_scaling  # noqa: F401  (registers the constructor and the backbone)
from mim_scaling.engine.optimizers import LayerDecayOptimWrapperConstructor

DEPTHS = [2, 2, 2, 2]
BACKBONE = dict(type='mim_scaling.SwinV2', arch=dict(embed_dims=16, depths=DEPTHS,
                                                     num_heads=[1, 1, 2, 2]),
                img_size=64, window_size=4, use_mask_token=True)
WIDTHS = [16, 32, 64, 128]
LR, WEIGHT_DECAY, DECAY = 1e-3, 0.05, 0.8


def lr_of_layer(layer_id):
    return LR * DECAY ** (sum(DEPTHS) + 1 - layer_id)


def build_from_shipped_config(tmp_path, base, model_overrides, registry):
    config = tmp_path / 'model.py'
    config.write_text(f"_base_ = '{base}'\nmodel = {model_overrides!r}\n")
    return registry.build(Config.fromfile(str(config)).model)


def classifier(tmp_path):
    from mmpretrain.registry import MODELS
    return build_from_shipped_config(
        tmp_path, 'mmpretrain::_base_/models/swin_transformer_v2/base_256.py',
        dict(backbone=dict(_delete_=True, **BACKBONE), head=dict(in_channels=WIDTHS[-1])),
        MODELS)


def segmentor(tmp_path):
    from mmseg.registry import MODELS
    return build_from_shipped_config(
        tmp_path, 'mmseg::_base_/models/upernet_swin.py',
        dict(backbone=dict(_delete_=True, out_indices=(0, 1, 2, 3), **BACKBONE),
             decode_head=dict(in_channels=WIDTHS, channels=16),
             auxiliary_head=dict(in_channels=WIDTHS[2], channels=16)),
        MODELS)


def detector(tmp_path):
    from mmdet.registry import MODELS
    return build_from_shipped_config(
        tmp_path, 'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
        dict(backbone=dict(_delete_=True, out_indices=(0, 1, 2, 3), **BACKBONE),
             neck=dict(in_channels=WIDTHS)),
        MODELS)


# Parameters outside the backbone of each model: (name, has weight decay).
HEAD_PARAMS = {
    classifier: [('head.fc.weight', True), ('head.fc.bias', False)],
    segmentor: [('decode_head.conv_seg.weight', True),
                ('decode_head.fpn_bottleneck.bn.weight', False),
                ('auxiliary_head.conv_seg.weight', True)],
    detector: [('neck.lateral_convs.0.conv.weight', True), ('neck.fpn_convs.3.conv.bias', False),
               ('rpn_head.rpn_conv.weight', True),
               ('roi_head.mask_head.conv_logits.weight', True)],
}

# Backbone parameters: (name, layer id, has weight decay).
BACKBONE_PARAMS = [
    ('backbone.patch_embed.proj.weight', 0, True),
    ('backbone.patch_embed.norm.weight', 0, False),
    ('backbone.mask_token', 0, False),
    ('backbone.layers.0.blocks.0.attn.qkv.weight', 1, True),
    ('backbone.layers.2.blocks.1.mlp.fc1.weight', 2 + 2 + 1 + 1, True),
    ('backbone.layers.2.blocks.1.mlp.fc1.bias', 2 + 2 + 1 + 1, False),
    ('backbone.layers.2.blocks.1.norm1.weight', 2 + 2 + 1 + 1, False),
    ('backbone.layers.2.blocks.1.attn.q_bias', 2 + 2 + 1 + 1, False),
    ('backbone.layers.2.blocks.1.attn.cpb_mlp.0.weight', 2 + 2 + 1 + 1, False),
    ('backbone.layers.2.blocks.1.attn.cpb_mlp.2.weight', 2 + 2 + 1 + 1, False),
    ('backbone.layers.2.blocks.1.attn.logit_scale', 2 + 2 + 1 + 1, False),
    # Patch merging at the end of stage 1 shares the id of that stage's last block.
    ('backbone.layers.1.downsample.reduction.weight', 2 + 2, True),
    ('backbone.layers.1.downsample.norm.weight', 2 + 2, False),
    ('backbone.norm.weight', sum(DEPTHS) + 1, False),
]


def param_groups(model, **paramwise_cfg):
    constructor = LayerDecayOptimWrapperConstructor(
        dict(optimizer=dict(type='AdamW', lr=LR, weight_decay=WEIGHT_DECAY)),
        dict(layer_decay_rate=DECAY, **paramwise_cfg))
    groups = constructor(model).optimizer.param_groups
    names = {id(p): n for n, p in model.named_parameters()}
    by_name = {}
    for group in groups:
        for p in group['params']:
            assert names[id(p)] not in by_name, f'{names[id(p)]} is in two groups'
            by_name[names[id(p)]] = group
    assert set(by_name) == {n for n, p in model.named_parameters() if p.requires_grad}
    return by_name


@pytest.mark.parametrize('build', [classifier, segmentor, detector],
                         ids=['ImageClassifier', 'EncoderDecoder', 'MaskRCNN'])
def test_lr_decays_with_backbone_depth_and_heads_learn_at_full_rate(build, tmp_path):
    model = build(tmp_path)
    groups = param_groups(model)
    for name, layer_id, decayed in BACKBONE_PARAMS:
        assert groups[name]['lr'] == pytest.approx(lr_of_layer(layer_id), rel=1e-9), name
        assert groups[name]['weight_decay'] == (WEIGHT_DECAY if decayed else 0.), name
    for name, decayed in HEAD_PARAMS[build]:
        assert groups[name]['lr'] == pytest.approx(LR, rel=1e-9), name
        assert groups[name]['weight_decay'] == (WEIGHT_DECAY if decayed else 0.), name
    if build is not classifier:
        # Extra output norms for the dense heads learn at the full rate.
        assert groups['backbone.out_norms.0.weight']['lr'] == pytest.approx(LR, rel=1e-9)
    # The patch embedding learns decay ** (sum(depths) + 1) slower than the head.
    assert groups['backbone.patch_embed.proj.weight']['lr'] == pytest.approx(
        LR * DECAY ** 9, rel=1e-9)


def test_frozen_parameters_are_left_out(tmp_path):
    model = classifier(tmp_path)
    model.backbone.patch_embed.requires_grad_(False)
    groups = param_groups(model)
    assert not any(name.startswith('backbone.patch_embed.') for name in groups)


def test_custom_keys_add_to_the_no_decay_defaults(tmp_path):
    model = classifier(tmp_path)
    groups = param_groups(model, custom_keys={'head.fc': dict(decay_mult=0.5)})
    assert groups['head.fc.weight']['weight_decay'] == WEIGHT_DECAY * 0.5
    assert groups['backbone.layers.0.blocks.0.attn.logit_scale']['weight_decay'] == 0.


def test_weight_decay_must_be_given():
    with pytest.raises(ValueError, match='needs optimizer.weight_decay'):
        LayerDecayOptimWrapperConstructor(dict(optimizer=dict(type='AdamW', lr=LR)),
                                          dict(layer_decay_rate=DECAY))


def test_a_model_without_a_layered_backbone_is_refused():
    model = torch.nn.Sequential(torch.nn.Linear(2, 2))
    constructor = LayerDecayOptimWrapperConstructor(
        dict(optimizer=dict(type='AdamW', lr=LR, weight_decay=WEIGHT_DECAY)),
        dict(layer_decay_rate=DECAY))
    with pytest.raises(TypeError, match='backbone with get_layer_depth'):
        constructor(model)
