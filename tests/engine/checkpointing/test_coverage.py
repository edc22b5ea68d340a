"""Evaluating with a checkpoint that lacks weights of the model is an error, under any tool
that builds the configs' Runner (this project's tools/test.py, mmpretrain's)."""
import os.path as osp
import runpy
import sys
from pathlib import Path

import mmpretrain
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from mim_scaling.engine.checkpointing.coverage import CheckpointMismatchError, check_checkpoint_fits
from mim_scaling.registry import MODELS
from tool_scripts import load_tool

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
DEMO = osp.join(REPO, 'configs', 'demo', 'simmim_swinv2-demo_300it_skimage.py')


@pytest.fixture(scope='module')
def simmim():
    """The demo's SimMIM (SwinV2 of width 32) as the config builds it."""
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(Config.fromfile(DEMO).model)


def save(path, state):
    torch.save({'meta': {}, 'state_dict': state}, path)
    return str(path)


def test_a_complete_checkpoint_fits(simmim, tmp_path):
    check_checkpoint_fits(simmim, save(tmp_path / 'full.pth', simmim.state_dict()))


def test_tools_test_refuses_a_simmim_checkpoint_without_decoder(simmim, tmp_path, monkeypatch):
    backbone_only = save(tmp_path / 'backbone.pth', {
        k: v for k, v in simmim.state_dict().items() if k.startswith('backbone.')})
    monkeypatch.syspath_prepend(osp.join(REPO, 'tools'))  # for its sibling cli_config
    monkeypatch.setenv('LOCAL_RANK', '0')
    with pytest.raises(CheckpointMismatchError) as info:
        load_tool('test.py').main([DEMO, backbone_only, '--work-dir', str(tmp_path / 'work')])
    message = str(info.value)
    assert 'does not give the SimMIM of the config all its weights' in message
    assert 'model.neck: 2 (neck.decoder.0.weight, neck.decoder.0.bias)' in message
    assert 'convert a released one without --backbone-only' in message


def test_mmpretrains_own_test_tool_refuses_it_too(simmim, tmp_path, monkeypatch):
    """mmpretrain's tools/test.py builds the config's runner_type, whose test() checks."""
    tool = Path(mmpretrain.__file__).parent / '.mim/tools/test.py'
    backbone_only = save(tmp_path / 'backbone.pth', {
        k: v for k, v in simmim.state_dict().items() if k.startswith('backbone.')})
    monkeypatch.setenv('LOCAL_RANK', '0')
    monkeypatch.setattr(sys, 'argv', [str(tool), DEMO, backbone_only,
                                      '--work-dir', str(tmp_path / 'work')])
    with pytest.raises(CheckpointMismatchError, match='model.neck: 2 '):
        runpy.run_path(str(tool), run_name='__main__')


def test_a_backbone_of_another_width_is_described(simmim, tmp_path):
    state = dict(simmim.state_dict())
    state['backbone.patch_embed.proj.weight'] = torch.zeros(48, 3, 4, 4)
    with pytest.raises(CheckpointMismatchError) as info:
        check_checkpoint_fits(simmim, save(tmp_path / 'wide.pth', state))
    message = str(info.value)
    assert ('patch_embed.proj.weight: checkpoint (48, 3, 4, 4) vs model (32, 3, 4, 4)'
            in message)
    assert 'The checkpoint holds embed_dims=48' in message
    assert 'the model is embed_dims=32' in message
