"""The checkpoint converter reads the authors' released format, timm state dicts and our own
pre-training checkpoints, safely, into weights that give timm's features."""
import re
import subprocess
import sys
from pathlib import Path

import pytest
import timm
import torch

from mim_scaling.safe_loading import safe_load
from mim_scaling.models.backbones import SwinV2
from tool_scripts import call_tool

ROOT = Path(__file__).parents[2]
TOOL = ROOT / 'tools/model_converters/simmim2mmengine.py'
ARGS = dict(img_size=64, embed_dim=16, depths=(1, 1, 2, 1), num_heads=(1, 1, 2, 2),
            window_size=4)
OURS = dict(arch=dict(embed_dims=16, depths=[1, 1, 2, 1], num_heads=[1, 1, 2, 2]),
            img_size=64, window_size=4)


MARKER = Path('/tmp/mim_scaling_converter_ran_code')


class CfgNode(dict):
    """Stands for the yacs config object that the released checkpoints pickle: a dict
    subclass with attributes. Its code must not run when the checkpoint is read."""

    def __setstate__(self, state):
        MARKER.touch()
        self.__dict__.update(state)


class Exploit:
    """A pickled callable: unpickling it would run ``MARKER.touch()``."""

    def __reduce__(self):
        return (MARKER.touch, ())


def timm_model():
    torch.manual_seed(0)
    model = timm.models.swin_transformer_v2.SwinTransformerV2(num_classes=0, **ARGS).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model


def released_format(model) -> dict:
    """What the authors' SimMIM checkpoints hold: the reference layout under ``encoder.``
    (patch merging at the end of a stage, the old ``rpe_mlp`` name, window buffers), a decoder
    under ``decoder.0``, a (1, 1, C) mask token, and a pickled config object."""
    encoder = {}
    for k, v in model.state_dict().items():
        k = re.sub(r'layers\.(\d+)\.downsample',
                   lambda m: f'layers.{int(m.group(1)) - 1}.downsample', k)
        encoder['encoder.' + k.replace('cpb_mlp', 'rpe_mlp')] = v
    encoder['encoder.layers.0.blocks.0.attn.relative_position_index'] = torch.zeros(16, 16).long()
    encoder['encoder.mask_token'] = torch.randn(1, 1, 16)
    encoder['decoder.0.weight'] = torch.randn(32 * 32 * 3, 128, 1, 1)
    encoder['decoder.0.bias'] = torch.randn(32 * 32 * 3)
    config = CfgNode(MODEL='swinv2')
    config.frozen = True
    return dict(model=encoder, config=config, epoch=99)


def run_tool(*args):
    """The command line, as a user runs it."""
    return subprocess.run([sys.executable, str(TOOL), *map(str, args)], capture_output=True,
                          text=True, cwd=ROOT)


def convert(*args):
    """The tool's main() in this process (faster); returns its exit message, or None."""
    return call_tool('model_converters/simmim2mmengine.py', *args)


def features(backbone, x):
    with torch.no_grad():
        return backbone(x)[0]


def test_released_checkpoint_converts_safely_and_gives_timms_features(tmp_path):
    ref = timm_model()
    src, dst = tmp_path / 'swinv2_tiny_1k_125k.pth', tmp_path / 'converted.pth'
    torch.save(released_format(ref), src)
    MARKER.unlink(missing_ok=True)

    result = run_tool(src, dst)
    assert result.returncode == 0, result.stderr
    assert not MARKER.exists(), 'code of the pickled config object ran'

    state = safe_load(dst)['state_dict']  # the output loads with weights_only=True
    assert 'neck.decoder.0.weight' in state and 'backbone.mask_token' in state
    assert not any('rpe_mlp' in k or 'relative_position_index' in k for k in state)
    backbone = SwinV2(use_mask_token=True, **OURS).eval()
    backbone.load_state_dict({k[len('backbone.'):]: v for k, v in state.items()
                              if k.startswith('backbone.')}, strict=True)
    x = torch.randn(2, 3, 64, 64)
    expected = ref.forward_features(x).permute(0, 3, 1, 2)
    torch.testing.assert_close(features(backbone, x), expected, atol=1e-4, rtol=0)


def test_a_checkpoint_with_a_pickled_callable_is_refused_and_nothing_runs(tmp_path):
    src = tmp_path / 'evil.pth'
    checkpoint = released_format(timm_model())
    checkpoint['config'] = Exploit()
    torch.save(checkpoint, src)
    MARKER.unlink(missing_ok=True)
    error = convert(src, tmp_path / 'out.pth')
    assert 'Refused to load checkpoint' in error and 'touch' in error
    assert not MARKER.exists()
    assert not (tmp_path / 'out.pth').exists()


def test_backbone_only_output_initialises_a_downstream_backbone(tmp_path):
    ref = timm_model()
    src, dst = tmp_path / 'timm_state_dict.pth', tmp_path / 'backbone.pth'
    torch.save(ref.state_dict(), src)  # a plain timm state dict
    assert convert(src, dst, '--backbone-only') is None
    assert all(k.startswith('backbone.') for k in safe_load(dst)['state_dict'])

    # A window-8 fine-tuning backbone with dense outputs takes it through init_cfg.
    backbone = SwinV2(**dict(OURS, window_size=8), pretrained_window_sizes=[4, 4, 4, 2],
                      out_indices=(0, 1, 2, 3),
                      init_cfg=dict(type='Pretrained', checkpoint=str(dst)))
    backbone.init_weights()
    torch.testing.assert_close(backbone.layers[2].blocks[1].attn.cpb_mlp[0].weight,
                               ref.layers[2].blocks[1].attn.cpb_mlp[0].weight)
    torch.testing.assert_close(backbone.layers[0].downsample.reduction.weight,
                               ref.layers[1].downsample.reduction.weight)


def test_a_file_without_swinv2_weights_is_rejected_clearly(tmp_path):
    src = tmp_path / 'resnet.pth'
    torch.save({'conv1.weight': torch.zeros(8, 3, 7, 7)}, src)
    assert 'no SwinV2 weights found' in convert(src, tmp_path / 'out.pth')
    assert not (tmp_path / 'out.pth').exists()


def test_a_missing_source_is_reported(tmp_path):
    assert 'does not exist' in convert(tmp_path / 'nope.pth', tmp_path / 'out.pth')


@pytest.mark.parametrize('wrong', ['width', 'depth'])
def test_loading_a_checkpoint_of_another_architecture_fails_clearly(tmp_path, wrong):
    ref = timm_model()
    src = tmp_path / 'ckpt.pth'
    torch.save(ref.state_dict(), src)
    arch = dict(OURS['arch'])
    if wrong == 'width':
        arch['embed_dims'] = 32
    else:
        arch['depths'] = [1, 1, 3, 1]
    backbone = SwinV2(arch=arch, img_size=64, window_size=4,
                      init_cfg=dict(type='Pretrained', checkpoint=str(src)))
    with pytest.raises(ValueError, match='does not fit this SwinV2'):
        backbone.init_weights()
