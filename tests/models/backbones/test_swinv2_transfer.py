"""Loading a 192-px window-12 SimMIM backbone into the window-14 (224 px) and window-20
(640 px) backbones of fine-tuning through ``init_cfg=dict(type='Pretrained', ...)``."""
import ast
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.logging import MMLogger

from mim_scaling.models.backbones import SwinV2

REPO = Path(__file__).resolve().parents[3]
ARCH = dict(embed_dims=16, depths=[1, 1, 2, 1], num_heads=[1, 1, 2, 2])
PRETRAINED_WINDOWS = [12, 12, 12, 6]  # 192 px, window 12: stage maps 48, 24, 12, 6
# Fine-tuning settings: (img_size, window, out_indices, windows per stage after clipping).
CLASSIFICATION = (224, 14, (3, ), [14, 14, 14, 7])
SEGMENTATION = (640, 20, (0, 1, 2, 3), [20, 20, 20, 20])


@pytest.fixture(scope='module')
def pretrained():
    """A SimMIM-style backbone and its mmengine checkpoint (``backbone.`` keys)."""
    torch.manual_seed(0)
    backbone = SwinV2(arch=ARCH, img_size=192, window_size=12, use_mask_token=True)
    backbone.init_weights()
    # Move every weight away from its initial value so that a skipped load shows.
    with torch.no_grad():
        for p in backbone.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return backbone


@pytest.fixture
def save(tmp_path):
    def save(state, name='iter_1000.pth'):
        path = tmp_path / name
        torch.save({'meta': dict(iter=1000),
                    'state_dict': {f'backbone.{k}': v for k, v in state.items()}}, path)
        return str(path)
    return save


@pytest.fixture
def log_file(tmp_path):
    path = tmp_path / 'load.log'
    MMLogger.get_instance(f'transfer-{tmp_path.name}', log_file=str(path), log_level='INFO')
    return path


def fine_tuning_backbone(checkpoint, setting, arch=ARCH):
    img_size, window, out_indices, _ = setting
    backbone = SwinV2(arch=arch, img_size=img_size, window_size=window,
                      pretrained_window_sizes=PRETRAINED_WINDOWS, out_indices=out_indices,
                      init_cfg=dict(type='Pretrained', checkpoint=checkpoint))
    backbone.init_weights()
    return backbone


def log_scan(log_file):
    """The lists of newly initialised and ignored keys that the load reported."""
    text = log_file.read_text()
    match = re.search(r'newly initialised: (.*?); ignored: (.*)', text)
    assert match, text

    def keys(s):
        return [] if s.strip() == 'none' else ast.literal_eval(s.strip())
    return keys(match.group(1)), keys(match.group(2))


def expected_coords_table(window, pretrained_window):
    """The reference code: offsets over [-(W-1), W-1], / (pretrained W - 1) * 8, log-spaced."""
    offsets = torch.arange(-(window - 1), window, dtype=torch.float64)
    x = offsets / (pretrained_window - 1) * 8
    x = torch.sign(x) * torch.log2(x.abs() + 1) / math.log2(8)
    grid = torch.stack(torch.meshgrid(x, x, indexing='ij'), dim=-1)
    return grid.view(-1, 2)


@pytest.mark.parametrize('setting', [CLASSIFICATION, SEGMENTATION],
                         ids=['224px-window14', '640px-window20'])
def test_every_pretrained_weight_transfers(pretrained, save, log_file, setting):
    backbone = fine_tuning_backbone(save(pretrained.state_dict()), setting)
    source = pretrained.state_dict()
    for name, value in backbone.state_dict().items():
        if name.startswith('out_norms.'):
            continue
        # cpb_mlp included: the position-bias MLP is window independent.
        assert torch.equal(value, source[name]), name
    # Only what fine-tuning adds is new (dense output norms), only the mask token is left.
    new, ignored = log_scan(log_file)
    extra_norms = [i for i in setting[2] if i != 3]
    assert sorted(new) == sorted(f'out_norms.{i}.{p}' for i in extra_norms
                                 for p in ('weight', 'bias'))
    assert ignored == ['mask_token']
    for norm in backbone.out_norms.values():
        assert torch.equal(norm.weight, torch.ones_like(norm.weight))


@pytest.mark.parametrize('setting', [CLASSIFICATION, SEGMENTATION],
                         ids=['224px-window14', '640px-window20'])
def test_position_tables_are_rebuilt_for_the_new_window(pretrained, save, setting):
    backbone = fine_tuning_backbone(save(pretrained.state_dict()), setting)
    for stage, window in enumerate(setting[3]):
        attn = backbone.layers[stage].blocks[0].attn
        table = expected_coords_table(window, PRETRAINED_WINDOWS[stage])
        assert torch.allclose(attn.relative_coords_table.double(), table, atol=1e-6), stage

        # Tokens of the top-left pre-training-sized corner keep their pairwise offsets, so
        # the transferred MLP gives them exactly the pre-trained position bias.
        pre_attn = pretrained.layers[stage].blocks[0].attn
        w_pre = PRETRAINED_WINDOWS[stage]
        corner = torch.tensor([r * window + c for r in range(w_pre) for c in range(w_pre)])
        with torch.no_grad():
            bias = attn.position_bias()[:, corner][:, :, corner]
            pre_bias = pre_attn.position_bias()
        assert torch.allclose(bias, pre_bias, atol=1e-6), stage


def test_fine_tuning_backbone_runs_at_its_resolution(pretrained, save):
    backbone = fine_tuning_backbone(save(pretrained.state_dict()), CLASSIFICATION)
    with torch.no_grad():
        (out, ) = backbone(torch.randn(2, 3, 224, 224))
    assert out.shape == (2, 8 * ARCH['embed_dims'], 7, 7)


def test_checkpoint_of_another_width_is_refused(save):
    other = SwinV2(arch=dict(ARCH, embed_dims=24), img_size=192, window_size=12)
    path = save(other.state_dict())
    with pytest.raises(ValueError, match=r'does not fit.*\n.*patch_embed\.proj\.weight: '
                                         r'checkpoint \(24, 3, 4, 4\) vs model \(16, 3, 4, 4\)'):
        fine_tuning_backbone(path, CLASSIFICATION)


def test_checkpoint_missing_block_weights_is_refused(pretrained, save):
    state = pretrained.state_dict()
    del state['layers.2.blocks.1.mlp.fc1.weight']
    with pytest.raises(ValueError, match=r'missing: layers\.2\.blocks\.1\.mlp\.fc1\.weight'):
        fine_tuning_backbone(save(state), CLASSIFICATION)


def test_checkpoint_of_fewer_blocks_is_refused(save):
    shallower = SwinV2(arch=dict(ARCH, depths=[1, 1, 1, 1]), img_size=192, window_size=12)
    with pytest.raises(ValueError, match=r'missing: layers\.2\.blocks\.1\.'):
        fine_tuning_backbone(save(shallower.state_dict()), CLASSIFICATION)


def test_released_checkpoint_transfers_after_the_converter(pretrained, tmp_path):
    """The authors' format (``model`` with ``encoder.``/``decoder.``, old ``rpe_mlp`` names,
    window-12 tables) through tools/model_converters/simmim2mmengine.py --backbone-only."""
    released = {}
    for name, value in pretrained.state_dict().items():
        name = name.replace('.cpb_mlp.', '.rpe_mlp.')
        released[f'encoder.{name}'] = value.reshape(1, 1, -1) if name == 'mask_token' else value
    for name, buffer in pretrained.named_buffers():  # stored by the reference, never loaded
        released[f'encoder.{name}'] = buffer
    released['decoder.0.weight'] = torch.randn(32 * 32 * 3, 8 * ARCH['embed_dims'], 1, 1)
    src, dst = tmp_path / 'swinv2_tiny_1k_125k.pth', tmp_path / 'backbone.pth'
    torch.save({'model': released, 'epoch': 99, 'config': {'MODEL': {'TYPE': 'swinv2'}}}, src)
    subprocess.run([sys.executable, 'tools/model_converters/simmim2mmengine.py', str(src),
                    str(dst), '--backbone-only'], cwd=REPO, check=True, capture_output=True)

    backbone = fine_tuning_backbone(str(dst), CLASSIFICATION)
    source = pretrained.state_dict()
    for name, value in backbone.state_dict().items():
        assert torch.equal(value, source[name]), name
