"""Config mistakes caught before the Runner is built, each named by its config fields; every
shipped config passes."""
import copy
import functools
import glob
import importlib
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mim_scaling.engine.config import ConfigError, check_config
from mim_scaling.engine.config.swinv2_geometry import geometry_problems

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
PRETRAIN = 'configs/pretrain/simmim_swinv2-b_125k_in1k.py'
IMAGENET = 'configs/imagenet/swinv2-b_ft_in1k.py'
COCO = 'configs/coco/mask_rcnn_swinv2_b.py'
ADE20K = 'configs/ade20k/upernet_swinv2_b.py'


@functools.lru_cache(maxsize=None)
def _read(config):
    return Config.fromfile(osp.join(REPO, config))


def load(config):
    return copy.deepcopy(_read(config))


def step(pipeline, kind):
    """The step of a pipeline whose type ends with ``kind``, and its index."""
    (found, ) = [(i, t) for i, t in enumerate(pipeline) if t['type'].endswith(kind)]
    return found


def crop(pipeline):
    """The (first) crop of a pipeline and the key of its size."""
    i, t = [(i, t) for i, t in enumerate(pipeline) if 'Crop' in t['type']][0]
    return i, t, 'scale' if 'scale' in t else 'crop_size'


def problems_of(cfg):
    with pytest.raises(ConfigError) as info:
        check_config(cfg)
    return str(info.value)


# Every config that the table tests of tests/configs read is checked there too
# (tests/configs/config_reading.py); here one of each task and the demo configs.
SHIPPED = [PRETRAIN, IMAGENET, 'configs/inat2018/swinv2-l_ft_inat2018.py', COCO, ADE20K] + sorted(
    osp.relpath(p, REPO) for p in glob.glob(osp.join(REPO, 'configs', 'demo', '*.py')))


@pytest.mark.parametrize('config', SHIPPED)
def test_shipped_configs_pass(config):
    assert geometry_problems(load(config)) == []


def test_pretraining_crop_differs_from_mask_generator_and_img_size():
    cfg = load(PRETRAIN)
    pipeline = cfg.train_dataloader.dataset.pipeline
    i, t, key = crop(pipeline)
    t[key] = 224
    message = problems_of(cfg)
    j, _ = step(pipeline, 'SimMIMMaskGenerator')
    assert (f'train_dataloader.dataset.pipeline[{j}] (SimMIMMaskGenerator) has input_size=192 '
            f'but train_dataloader.dataset.pipeline[{i}]') in message
    assert 'crops 224 px but model.backbone.img_size=192' in message
    assert 'val_dataloader' not in message  # the validation pipeline is right


def test_patch_size_that_the_mask_generator_decoder_and_head_disagree_with():
    cfg = load(PRETRAIN)
    cfg.model.backbone.patch_size = 8
    message = problems_of(cfg)
    assert 'model_patch_size=4 but model.backbone.patch_size=8' in message
    assert 'model.neck.encoder_stride=32 but stage 3 has stride patch_size * 2**3 = 64' in message
    assert 'model.head.patch_size=4 but model.backbone.patch_size=8' in message


def test_window_size_zero():
    cfg = load(PRETRAIN)
    cfg.model.backbone.window_size = 0
    assert 'model.backbone.window_size=0 must be a positive integer' in problems_of(cfg)


def test_classification_image_size_that_is_not_a_multiple_of_32():
    cfg = load(IMAGENET)
    cfg.model.backbone.img_size = 200
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        _, t, key = crop(cfg[loader].dataset.pipeline)
        t[key] = 200
    message = problems_of(cfg)
    assert ('model.backbone.img_size=200 is not a multiple of patch_size * 2**3 = 32' in message
            and 'use e.g. 192 or 224' in message)


def test_window_that_cannot_tile_the_feature_maps_says_what_would():
    cfg = load(IMAGENET)  # 224 px: token maps 56, 28, 14, 7
    cfg.model.backbone.window_size = 12
    message = problems_of(cfg)
    assert ('model.backbone.window_size=12 does not tile the token maps of '
            'model.backbone.img_size=224 (patch_size 4): stage 0 is 56x56 tokens, '
            'stage 1 is 28x28 tokens, stage 2 is 14x14 tokens.') in message
    # Windows 7, 14 and 28 tile 56, 28, 14 and 7 (a larger window shrinks to its map);
    # window 12 tiles 96 px (24, 12, 6, 3) and 192 px (48, 24, 12, 6).
    assert 'Windows that would: 7, 14, 28; or keep the window and use img_size 96 or 192' \
        in message


def test_omitted_keys_are_judged_as_the_built_backbone_and_mask_generator_have_them():
    """A config that omits window_size and the mask generator's sizes gets the verdict of
    the objects it builds: the stages whose shrunk window does not divide their map, and the
    generator's own input_size and model_patch_size."""
    from mim_scaling.models.backbones import SwinV2
    from mim_scaling.registry import TRANSFORMS

    cfg = load(IMAGENET)  # 224 px
    del cfg.model.backbone.window_size
    backbone = cfg.model.backbone.copy()
    backbone.pop('type')
    backbone.pop('init_cfg', None)
    with torch.device('meta'):
        built = SwinV2(**backbone)
    untiled = [i for i, stage in enumerate(built.layers)
               if (224 // built.patch_size // 2**i) % stage.blocks[0].attn.window_size[0]]
    message = problems_of(cfg)
    assert untiled  # the default window does not tile 224 px
    for i in range(len(built.layers)):
        assert (f'stage {i} is' in message) == (i in untiled), (i, message)

    cfg = load(PRETRAIN)
    pipeline = cfg.train_dataloader.dataset.pipeline
    j, generator_cfg = step(pipeline, 'SimMIMMaskGenerator')
    for key in ('input_size', 'model_patch_size'):
        del generator_cfg[key]
    generator = TRANSFORMS.build(generator_cfg)
    i, t, key = crop(pipeline)
    t[key] = 224
    cfg.model.backbone.patch_size = 8
    message = problems_of(cfg)
    assert (f'pipeline[{j}] (SimMIMMaskGenerator) has input_size={generator.input_size} but'
            in message)
    assert (f'(SimMIMMaskGenerator) has model_patch_size={generator.model_patch_size} but '
            'model.backbone.patch_size=8' in message)


def test_detection_and_segmentation_pad_any_size():
    cfg = load(COCO)
    cfg.model.backbone.img_size = 1000  # not a multiple of the window grid: padded
    assert geometry_problems(cfg) == []


def test_decoder_and_head_widths_that_do_not_match_the_backbone():
    cfg = load(PRETRAIN)
    cfg.model.backbone.arch = 'small'  # 96 * 8 = 768 channels, the decoder reads 1024
    assert ('model.neck.in_channels=1024 but the backbone gives 768 channels at stage 3'
            in problems_of(cfg))
    cfg = load(IMAGENET)
    cfg.model.head.in_channels = 768
    assert ('model.head.in_channels=768 but the backbone\'s last output (stage 3) has 1024 '
            'channels' in problems_of(cfg))


def test_fpn_widths_and_out_indices():
    cfg = load(COCO)
    cfg.model.neck.in_channels = [96, 192, 384, 768]
    assert ('model.neck.in_channels=[96, 192, 384, 768] but the backbone stages (0, 1, 2, 3) '
            'give [128, 256, 512, 1024]' in problems_of(cfg))
    cfg = load(COCO)
    cfg.model.backbone.out_indices = (1, 2, 3)
    assert ('model.neck.in_channels has 4 entries but model.backbone.out_indices=(1, 2, 3) '
            'gives 3 outputs' in problems_of(cfg))


def test_upernet_head_widths_and_out_indices():
    cfg = load(ADE20K)
    cfg.model.auxiliary_head.in_channels = 256
    assert ('model.auxiliary_head.in_channels=256 but backbone output 2 (stage 2) has 512 '
            'channels' in problems_of(cfg))
    cfg = load(ADE20K)
    cfg.model.backbone.out_indices = (1, 2, 3)
    assert 'model.decode_head.in_index=[0, 1, 2, 3] selects output 3, but ' \
        'model.backbone.out_indices=(1, 2, 3) gives 3' in problems_of(cfg)


def test_tools_train_stops_before_building_anything(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(osp.join(REPO, 'tools'))
    monkeypatch.setenv('LOCAL_RANK', '0')
    train = importlib.import_module('train')
    with pytest.raises(SystemExit, match=r'model\.backbone\.window_size=0'):  # no traceback
        train.main([osp.join(REPO, PRETRAIN), '--work-dir', str(tmp_path),
                    '--cfg-options', 'model.backbone.window_size=0'])
    assert not list(tmp_path.iterdir())  # no log, no work dir content
