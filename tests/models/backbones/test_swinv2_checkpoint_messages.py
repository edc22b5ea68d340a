"""What SwinV2 says about a checkpoint it loads through ``init_cfg``: the architecture a
mis-fitting checkpoint holds (lists capped), and pre-training windows that disagree."""
from types import SimpleNamespace

import pytest
import torch
from mmengine.logging import MMLogger

from mim_scaling.engine.hooks import PretrainedWindowsHook
from mim_scaling.models.backbones import SwinV2
from mim_scaling.models.backbones.swinv2_key_mapping import architecture_text

ARCH = dict(embed_dims=16, depths=[1, 1, 2, 1], num_heads=[1, 1, 2, 2])


def save(tmp_path, backbone, meta=None, name='pretrain.pth'):
    path = tmp_path / name
    torch.save({'meta': dict(meta or {}), 'state_dict': {
        f'backbone.{k}': v for k, v in backbone.state_dict().items()}}, path)
    return str(path)


def load_into(path, **kwargs):
    settings = dict(arch=ARCH, img_size=224, window_size=14)
    backbone = SwinV2(**dict(settings, **kwargs),
                      init_cfg=dict(type='Pretrained', checkpoint=path))
    backbone.init_weights()
    return backbone


@pytest.fixture
def log_file(tmp_path):
    path = tmp_path / 'load.log'
    MMLogger.get_instance(f'messages-{tmp_path.name}', log_file=str(path), log_level='INFO')
    return path


def test_checkpoint_of_another_architecture_names_both_with_capped_lists(tmp_path):
    wider = SwinV2(arch=dict(embed_dims=24, depths=[1, 1, 3, 1], num_heads=[1, 2, 2, 4]),
                   img_size=192, window_size=12)
    with pytest.raises(ValueError) as info:
        load_into(save(tmp_path, wider))
    message = str(info.value)
    assert message.endswith(
        'The checkpoint holds embed_dims=24, patch_size=4, depths=[1, 1, 3, 1], '
        'num_heads=[1, 2, 2, 4];\n  the model is embed_dims=16, patch_size=4, '
        'depths=[1, 1, 2, 1], num_heads=[1, 1, 2, 2].')
    # Dozens of keys differ; each list shows five and counts the rest.
    assert message.count(': checkpoint (') == 5
    assert '... and ' in message and 'more tensors of another shape' in message
    assert 'not in the model: layers.2.blocks.2.' in message
    assert len(message.splitlines()) <= 16


def test_architecture_is_named_when_it_is_a_known_one():
    state = SwinV2(arch=ARCH, img_size=64, window_size=4).state_dict()
    assert architecture_text(state, {'mini': ARCH}).endswith("(arch='mini')")
    assert 'arch=' not in architecture_text(state, {'other': dict(ARCH, embed_dims=8)})


def test_runner_checkpoints_record_the_pretraining_windows():
    """What PretrainedWindowsHook writes into every checkpoint the Runner saves."""
    cases = [(dict(img_size=192, window_size=12), [12, 12, 12, 6]),  # pre-training
             (dict(img_size=224, window_size=14, pretrained_window_sizes=[12, 12, 12, 6]),
              [12, 12, 12, 6]),  # fine-tuned: its MLP still expects the pre-training windows
             (dict(img_size=224, window_size=14), [14, 14, 14, 7])]
    for settings, windows in cases:
        model = torch.nn.Module()
        model.backbone = SwinV2(arch=ARCH, **settings)
        checkpoint = dict(meta=dict(iter=5))
        PretrainedWindowsHook().before_save_checkpoint(SimpleNamespace(model=model), checkpoint)
        assert checkpoint['meta'] == dict(iter=5, pretrained_window_sizes=windows)


def test_loading_warns_when_pretrained_window_sizes_disagree(tmp_path, log_file):
    pretrained = SwinV2(arch=ARCH, img_size=192, window_size=12)
    path = save(tmp_path, pretrained, meta=dict(pretrained_window_sizes=[12, 12, 12, 6]))

    load_into(path)  # pretrained_window_sizes left out
    assert ('was pre-trained with windows [12, 12, 12, 6], but this SwinV2 normalises '
            'relative positions by windows [14, 14, 14, 7] (pretrained_window_sizes=[0, 0, 0, '
            '0])') in log_file.read_text()
    assert ('Set model.backbone.pretrained_window_sizes=[12, 12, 12, 6].'
            in log_file.read_text())

    log_file.write_text('')
    load_into(path, pretrained_window_sizes=[12, 12, 12, 6])
    assert 'pre-trained with windows' not in log_file.read_text()
