"""A released fine-tuned classifier, converted, gives the authors' model's logits through our
ImageNet config and their accuracy through tools/test.py; converted files record the windows
of the pre-training."""
import importlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint

from mim_scaling.safe_loading import safe_load
from mim_scaling.models.backbones.swinv2_convert import convert_checkpoint
from mim_scaling.registry import MODELS
from tool_scripts import load_tool

ROOT = Path(__file__).parents[3]


@pytest.fixture
def released(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / 'tests/_zoo'))
    import released_format
    return released_format


def converter(*args):
    load_tool('model_converters/simmim2mmengine.py').main([str(a) for a in args])


def imagenet_classifier(released, config='configs/imagenet/swinv2-b_ft_in1k.py'):
    """The model of our fine-tuning config, at the tiny test size."""
    cfg = Config.fromfile(ROOT / config)
    cfg.model.backbone.update(released.BACKBONE, init_cfg=None,
                              pretrained_window_sizes=released.PRETRAINED_WINDOWS)
    cfg.model.head.update(in_channels=128, num_classes=released.NUM_CLASSES)
    init_default_scope('mmpretrain')
    return MODELS.build(cfg.model).eval()


def test_released_classifier_gives_the_authors_logits_through_our_config(released, tmp_path):
    authors = released.timm_swinv2(num_classes=released.NUM_CLASSES,
                                   pretrained_window_sizes=released.PRETRAINED_WINDOWS)
    src, dst = tmp_path / 'finetune_swinv2_tiny.pth', tmp_path / 'classifier.pth'
    torch.save(released.released_finetuned(authors), src)
    converter(src, dst)

    converted = safe_load(dst)
    assert converted['meta']['model'] == 'ImageClassifier'
    # The table normalisation of the fine-tuned windows [4, 4, 4, 2] was by [3, 3, 3, 2].
    assert converted['meta']['pretrained_window_sizes'] == released.PRETRAINED_WINDOWS
    ours = imagenet_classifier(released)
    load_checkpoint(ours, str(dst), strict=True)  # every tensor of the model has its value

    x = torch.randn(3, 3, 64, 64)
    with torch.no_grad():
        expected = authors(x)
        logits = ours(x, mode='tensor')  # normalised images, as timm's model takes them
    torch.testing.assert_close(logits, expected, atol=1e-4, rtol=0)
    assert expected.abs().max() > 0.1  # the comparison is not between near-zero outputs


TINY_CONFIG = """
_base_ = '{root}/configs/imagenet/swinv2-b_ft_in1k.py'
model = dict(
    backbone=dict(arch=dict(_delete_=True, embed_dims=16, depths=[1, 1, 2, 1],
                            num_heads=[1, 1, 2, 2]),
                  window_size=7, pretrained_window_sizes=[6, 6, 6, 6], init_cfg=None),
    head=dict(in_channels=128, num_classes=10))
data_preprocessor = dict(num_classes=10)
test_dataloader = dict(batch_size=3, num_workers=0, persistent_workers=False,
                       dataset=dict(data_root='{data}'))
"""


def test_tools_test_gives_the_authors_accuracy_for_a_released_classifier(
        released, tmp_path, monkeypatch, capsys):
    # The authors' classifier at 224 px, window 7 (stages of 56, 28, 14, 7 tokens).
    authors = released.timm_swinv2(num_classes=10, pretrained_window_sizes=[6, 6, 6, 6],
                                   img_size=224, window_size=7)
    src, ckpt = tmp_path / 'finetune_swinv2_tiny.pth', tmp_path / 'classifier.pth'
    torch.save(released.released_finetuned(authors), src)
    converter(src, ckpt)

    # Three 256-px images in ImageNet's layout; the config resizes to 256 and crops 224.
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (256, 256, 3), dtype=np.uint8) for _ in range(3)]
    crops = torch.tensor(np.stack(images)[:, 16:240, 16:240]).permute(0, 3, 1, 2).float()
    mean, std = torch.tensor([123.675, 116.28, 103.53]), torch.tensor([58.395, 57.12, 57.375])
    with torch.no_grad():
        predicted = authors((crops - mean[:, None, None]) / std[:, None, None]).argmax(1)
    # The first two are labelled as the authors' model classifies them, the third not.
    labels = [int(predicted[0]), int(predicted[1]), (int(predicted[2]) + 1) % 10]
    data = tmp_path / 'imagenet'
    (data / 'val').mkdir(parents=True)
    (data / 'meta').mkdir()
    for i, image in enumerate(images):
        Image.fromarray(image).save(data / 'val' / f'{i}.png')
    (data / 'meta' / 'val.txt').write_text(''.join(f'{i}.png {y}\n' for i, y in enumerate(labels)))
    config = tmp_path / 'swinv2-tiny_ft_in1k.py'
    config.write_text(TINY_CONFIG.format(root=ROOT, data=data))

    monkeypatch.syspath_prepend(str(ROOT / 'tools'))
    monkeypatch.setenv('LOCAL_RANK', '0')
    importlib.import_module('test').main([str(config), str(ckpt), '--work-dir',
                                          str(tmp_path / 'work')])
    logged = capsys.readouterr().out
    top1 = float(logged.rsplit('accuracy/top1: ', 1)[1].split()[0])
    assert top1 == pytest.approx(200 / 3, abs=0.01)


def test_pretrained_windows_are_read_from_the_released_tables(released):
    pretraining = released.timm_swinv2()  # pre-trained at window 4: tables normalised by 4
    assert convert_checkpoint(released.released_pretrained(pretraining))['meta'][
        'pretrained_window_sizes'] == [4, 4, 4, 2]
    # timm's state dicts store no tables; the source's own record is kept where it has one.
    assert 'pretrained_window_sizes' not in convert_checkpoint(pretraining.state_dict())['meta']
    ours = dict(meta=dict(pretrained_window_sizes=[12, 12, 12, 6]),
                state_dict={f'backbone.{k}': v for k, v in pretraining.state_dict().items()})
    assert convert_checkpoint(ours)['meta']['pretrained_window_sizes'] == [12, 12, 12, 6]


def test_a_head_without_bias_is_an_error(released):
    checkpoint = released.released_finetuned(released.timm_swinv2(num_classes=10))
    del checkpoint['model']['head.bias']
    with pytest.raises(ValueError, match='incomplete classifier head'):
        convert_checkpoint(checkpoint)
