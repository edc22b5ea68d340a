"""SwinV2 initialisation: as the reference's, where every block starts as the identity
(its ``_init_respostnorm``), checked against timm's independent port, which does the same."""
import timm
import torch

from mim_scaling.models.backbones import SwinV2
from mim_scaling.models.backbones.swinv2 import SwinV2Block
from mim_scaling.models.backbones.swinv2_key_mapping import to_backbone_state_dict

TINY = dict(embed_dims=32, depths=[2, 2, 2, 2], num_heads=[1, 2, 4, 8])


def test_the_same_parameters_start_at_zero_and_at_one_as_in_timm():
    torch.manual_seed(0)
    ref = timm.models.swin_transformer_v2.SwinTransformerV2(
        img_size=64, patch_size=4, window_size=8, embed_dim=32, depths=(2, 2, 2, 2),
        num_heads=(1, 2, 4, 8), num_classes=0)
    ref_state = to_backbone_state_dict(ref.state_dict())
    ours = SwinV2(arch=TINY, img_size=64, window_size=8, out_indices=(3, ))
    ours.init_weights()

    def constant(state, value):
        return {k for k, v in state.items() if v.is_floating_point() and bool((v == value).all())}

    state = {k: v for k, v in ours.state_dict().items() if k in ref_state}
    assert constant(state, 0) == constant(ref_state, 0)
    assert constant(state, 1) == constant(ref_state, 1)
    assert 'layers.0.blocks.0.norm1.weight' in constant(state, 0)


def test_every_block_starts_as_the_identity():
    ours = SwinV2(arch=TINY, img_size=64, window_size=8, out_indices=(3, ))
    ours.init_weights()
    blocks = [m for m in ours.modules() if isinstance(m, SwinV2Block)]
    assert len(blocks) == 8
    x = torch.randn(2, 16, 16, 32)
    torch.testing.assert_close(blocks[0](x), x, rtol=0, atol=0)
