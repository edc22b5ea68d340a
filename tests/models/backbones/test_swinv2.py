"""SwinV2 backbone: the reference architecture, checked against timm's independent port."""
import math

import pytest
import timm
import torch
import torch.nn.functional as F

from mim_scaling.models.backbones import ARCH_SETTINGS, NO_WEIGHT_DECAY_KEYS, SwinV2
from mim_scaling.models.backbones.swinv2 import WindowAttention
from mim_scaling.models.backbones.swinv2_key_mapping import to_backbone_state_dict

TINY = dict(embed_dims=32, depths=[2, 2, 2, 2], num_heads=[1, 2, 4, 8])


def randomize_(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Give every parameter random values: timm initialises q/v biases to zero and all logit
    scales alike, which would hide a wrong bias or scale layout."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith('logit_scale'):
                p.copy_(math.log(10) + 0.5 * torch.rand(p.shape, generator=g))
            else:
                p.add_(0.05 * torch.randn(p.shape, generator=g))
    return model


def timm_to_ours(timm_model, **kwargs) -> SwinV2:
    """Our backbone with timm's weights, loaded strictly after the documented key mapping."""
    ours = SwinV2(**kwargs).eval()
    ours.load_state_dict(to_backbone_state_dict(timm_model.state_dict()), strict=True)
    return ours


def test_base_matches_timm_swinv2_base_window12_192():
    ref = randomize_(timm.create_model('swinv2_base_window12_192', pretrained=False,
                                       num_classes=0)).eval()
    ours = timm_to_ours(ref, arch='base', img_size=192, window_size=12)
    x = torch.randn(2, 3, 192, 192)
    with torch.no_grad():
        expected = ref.forward_features(x).permute(0, 3, 1, 2)
        (actual, ) = ours(x)
    assert actual.shape == (2, 1024, 6, 6)
    torch.testing.assert_close(actual, expected, atol=1e-4, rtol=0)


@pytest.mark.parametrize('img_size,window,pretrained_windows', [
    (64, 4, (0, 0, 0, 0)),          # shifted windows in stages 0-1, clipped windows after
    (64, 8, (6, 6, 6, 3)),          # coordinates normalised by a pre-training window
    ((64, 96), [4, 4, 8, 2], (0, 0, 0, 0)),  # non-square input, window per stage
])
def test_tiny_matches_timm_built_with_same_arguments(img_size, window, pretrained_windows):
    ref = randomize_(timm.models.swin_transformer_v2.SwinTransformerV2(
        img_size=img_size, embed_dim=TINY['embed_dims'], depths=TINY['depths'],
        num_heads=TINY['num_heads'], window_size=window, num_classes=0,
        pretrained_window_sizes=pretrained_windows), seed=1).eval()
    ours = timm_to_ours(ref, arch=TINY, img_size=img_size, window_size=window,
                        pretrained_window_sizes=pretrained_windows)
    size = (img_size, img_size) if isinstance(img_size, int) else img_size
    x = torch.randn(2, 3, *size)
    with torch.no_grad():
        expected = ref.forward_features(x).permute(0, 3, 1, 2)
        (actual, ) = ours(x)
    torch.testing.assert_close(actual, expected, atol=1e-4, rtol=0)


@pytest.mark.parametrize('arch,millions', [
    ('small', 48.96), ('base', 86.89), ('large', 195.20), ('huge', 655.21), ('giant', 1060.98)])
def test_parameter_counts_of_the_study(arch, millions):
    with torch.device('meta'):
        model = SwinV2(arch=arch, img_size=192, window_size=12)
    count = sum(p.numel() for p in model.parameters()) / 1e6
    assert count == pytest.approx(millions, rel=1e-3)


def plain_window_attention(attn: WindowAttention, x, shift_mask=None):
    """The attention of the reference, written out: cosine similarity times the clamped
    exponentiated logit scale, plus 16 * sigmoid(MLP bias), plus the shift mask."""
    B, nW, N, C = x.shape
    h = attn.num_heads
    bias = torch.cat((attn.q_bias, torch.zeros_like(attn.v_bias), attn.v_bias))
    qkv = F.linear(x.reshape(B * nW, N, C), attn.qkv.weight, bias)
    q, k, v = qkv.reshape(B * nW, N, 3, h, -1).permute(2, 0, 3, 1, 4)
    logits = F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).transpose(-2, -1)
    logits = logits * torch.clamp(attn.logit_scale, max=math.log(1. / 0.01)).exp()
    table = attn.cpb_mlp(attn.relative_coords_table)
    rel = table[attn.relative_position_index.view(-1)].view(N, N, h).permute(2, 0, 1)
    logits = logits + 16 * torch.sigmoid(rel)
    if shift_mask is not None:
        logits = logits.view(B, nW, h, N, N) + shift_mask[None, :, None]
        logits = logits.view(B * nW, h, N, N)
    out = logits.softmax(-1) @ v
    return attn.proj(out.transpose(1, 2).reshape(B, nW, N, C))


@pytest.mark.parametrize('with_shift_mask', [False, True])
def test_sdpa_attention_equals_plain_formula(with_shift_mask):
    torch.manual_seed(0)
    attn = randomize_(WindowAttention(dim=32, num_heads=4, window_size=(4, 4),
                                      pretrained_window_size=(6, 6)))
    x = torch.randn(2, 3, 16, 32)
    shift_mask = None
    if with_shift_mask:
        shift_mask = torch.where(torch.rand(3, 16, 16) > 0.7, -100.0, 0.0)
    with torch.no_grad():
        torch.testing.assert_close(attn(x, shift_mask), plain_window_attention(attn, x, shift_mask),
                                   atol=1e-5, rtol=1e-5)


def test_dense_outputs_are_nchw_at_strides_4_to_32_for_any_input_size():
    model = SwinV2(arch=TINY, img_size=1024, window_size=14, out_indices=(0, 1, 2, 3)).eval()
    assert set(model.out_norms) == {'0', '1', '2'}  # stage 3 uses the final norm
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 100, 134))  # neither a window nor a patch multiple
    shapes = [tuple(o.shape) for o in outs]
    assert shapes == [(1, 32, 25, 34), (1, 64, 13, 17), (1, 128, 7, 9), (1, 256, 4, 5)]
    assert all(o.is_contiguous() and torch.isfinite(o).all() for o in outs)


def test_window_clipping_at_192px_window_12():
    model = SwinV2(arch=TINY, img_size=192, window_size=12)
    windows = [stage.blocks[1].window_size for stage in model.layers]
    shifts = [stage.blocks[1].shift_size for stage in model.layers]
    assert windows == [(12, 12), (12, 12), (12, 12), (6, 6)]
    assert shifts == [(6, 6), (6, 6), (0, 0), (0, 0)]


def test_mask_token_replaces_masked_patches():
    torch.manual_seed(0)
    model = SwinV2(arch=TINY, img_size=64, window_size=4, use_mask_token=True)
    model.init_weights()
    model.eval()
    a, b = torch.randn(2, 1, 3, 64, 64)
    everything = torch.ones(1, 16, 16)
    with torch.no_grad():
        # Fully masked images are all mask tokens: the image content is gone.
        torch.testing.assert_close(model(a, everything)[0], model(b, everything)[0])
        # An all-zero mask changes nothing.
        torch.testing.assert_close(model(a, torch.zeros(1, 16, 16))[0], model(a)[0])
        assert not torch.allclose(model(a)[0], model(b)[0])
    with pytest.raises(ValueError, match='does not match the patch grid'):
        model(a, torch.ones(1, 8, 8))
    with pytest.raises(ValueError, match='use_mask_token=False'):
        SwinV2(arch=TINY, img_size=64, window_size=4)(a, everything)


def test_activation_checkpointing_gives_same_output_and_gradients():
    torch.manual_seed(0)
    plain = SwinV2(arch=TINY, img_size=64, window_size=4, drop_path_rate=0.)
    checkpointed = SwinV2(arch=TINY, img_size=64, window_size=4, drop_path_rate=0., with_cp=True)
    checkpointed.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 64, 64)
    outs = []
    for model in (plain, checkpointed):
        model.train()
        model.zero_grad()
        out = model(x)[0]
        out.square().mean().backward()
        outs.append((out, model.layers[0].blocks[0].attn.qkv.weight.grad.clone()))
    torch.testing.assert_close(outs[0][0], outs[1][0])
    torch.testing.assert_close(outs[0][1], outs[1][1])


def test_frozen_stages_stay_frozen_in_train_mode():
    model = SwinV2(arch=TINY, img_size=64, window_size=4, out_indices=(0, 1, 2, 3),
                   frozen_stages=2, use_mask_token=True)
    model.train()
    frozen = [model.patch_embed, model.layers[0], model.layers[1], model.out_norms['0'],
              model.out_norms['1']]
    assert all(not p.requires_grad for m in frozen for p in m.parameters())
    assert all(not m.training for m in frozen)
    assert not model.mask_token.requires_grad
    assert all(p.requires_grad for p in model.layers[2].parameters())
    assert model.layers[2].training


def test_layer_ids_for_layer_wise_lr_decay():
    # Reference code: 0 for patch embedding and mask token, sum(depths[:i]) + j + 1 for block j of
    # stage i, a stage's patch merging shares its last block's id, the rest sum(depths) + 1.
    with torch.device('meta'):
        model = SwinV2(arch='base', img_size=192, window_size=12, use_mask_token=True)
    depth = lambda name: model.get_layer_depth(name, prefix='backbone.')  # noqa: E731
    n = 2 + 2 + 18 + 2 + 2  # sum(depths) + 2 ids
    assert depth('backbone.patch_embed.proj.weight') == (0, n)
    assert depth('backbone.mask_token') == (0, n)
    assert depth('backbone.layers.0.blocks.0.attn.qkv.weight') == (1, n)
    assert depth('backbone.layers.2.blocks.17.mlp.fc2.bias') == (2 + 2 + 17 + 1, n)
    assert depth('backbone.layers.3.blocks.1.norm2.weight') == (2 + 2 + 18 + 1 + 1, n)
    assert depth('backbone.layers.0.downsample.reduction.weight') == (2, n)
    assert depth('backbone.layers.2.downsample.norm.weight') == (2 + 2 + 18, n)
    assert depth('backbone.norm.weight') == (n - 1, n)
    assert depth('head.fc.weight') == (n - 1, n)
    # Every parameter gets an id in range.
    assert all(0 <= depth('backbone.' + name)[0] < n for name, _ in model.named_parameters())


def test_reference_parameter_names():
    names = set(SwinV2(arch=TINY, img_size=64, window_size=4, use_mask_token=True).state_dict())
    for name in ['patch_embed.proj.weight', 'patch_embed.norm.weight', 'mask_token', 'norm.weight',
                 'layers.0.downsample.reduction.weight', 'layers.0.downsample.norm.bias',
                 *(f'layers.1.blocks.1.{p}' for p in [
                     'norm1.weight', 'norm2.bias', 'attn.qkv.weight', 'attn.proj.bias',
                     'attn.q_bias', 'attn.v_bias', 'attn.logit_scale', 'attn.cpb_mlp.0.weight',
                     'attn.cpb_mlp.2.weight', 'mlp.fc1.weight', 'mlp.fc2.bias'])]:
        assert name in names, name
    assert not any('downsample' in n for n in names if n.startswith('layers.3.'))
    assert not any(n.endswith(('relative_position_index', 'relative_coords_table')) for n in names)


@pytest.mark.parametrize('kwargs,error', [
    (dict(arch='enormous'), 'Unknown SwinV2 arch'),
    (dict(arch=dict(embed_dims=30, depths=[1, 1, 1, 1], num_heads=[4, 4, 4, 4])), 'divisible'),
    (dict(arch=TINY, out_indices=(4, )), 'out_indices'),
    (dict(arch=TINY, window_size=[4, 4]), 'one value per stage'),
])
def test_bad_arguments_fail_clearly(kwargs, error):
    with pytest.raises((KeyError, ValueError), match=error):
        SwinV2(img_size=64, **kwargs)


def test_every_no_weight_decay_key_names_parameters_of_the_backbone():
    with torch.device('meta'):
        names = [name for name, _ in SwinV2(arch='tiny', use_mask_token=True).named_parameters()]
    for key in NO_WEIGHT_DECAY_KEYS:
        assert any(key in name for name in names), key


def test_arch_presets_of_the_study():
    assert {k: (v['embed_dims'], v['num_heads'][0]) for k, v in ARCH_SETTINGS.items()
            if k != 'tiny'} == {'small': (96, 3), 'base': (128, 4), 'large': (192, 6),
                                'huge': (352, 11), 'giant': (448, 14)}
    assert all(v['depths'] == (2, 2, 18, 2) for k, v in ARCH_SETTINGS.items() if k != 'tiny')


def test_cached_shift_masks_survive_inference_mode_then_training():
    # Shift masks are cached per size; one first made under inference_mode must still serve
    # a training step with autograd afterwards.
    model = SwinV2(arch=TINY, img_size=48, window_size=4)
    with torch.inference_mode():
        model.eval()(torch.randn(1, 3, 48, 48))
    model.train()(torch.randn(1, 3, 48, 48))[0].sum().backward()
    assert model.layers[0].blocks[1].attn.qkv.weight.grad is not None
