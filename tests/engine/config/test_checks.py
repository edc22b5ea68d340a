"""check_config, the one entry point of the checks: it refuses what mim_scaling.Runner
refuses when it is built, with a ConfigError naming each problem, builds nothing and
leaves the config unchanged."""
from pathlib import Path

import pytest
from mmengine.config import Config

from mim_scaling.engine.config import ConfigError, check_config

ROOT = Path(__file__).parents[3]
DEMO = ROOT / 'configs/demo/simmim_swinv2-demo_300it_skimage.py'
H_PRETRAIN = ROOT / 'configs/pretrain/simmim_swinv2-h_125k_in1k.py'


def test_a_valid_config_passes_and_is_left_unchanged():
    cfg = Config.fromfile(H_PRETRAIN)
    before = cfg.pretty_text
    assert check_config(cfg) == []
    assert cfg.pretty_text == before  # memory_saving was applied to a copy only


def test_custom_hooks_given_as_a_string_get_a_message():
    """--cfg-options custom_hooks=dict(...) gives a string, on which mmengine's Runner
    fails with an AttributeError deep in its hook registration."""
    cfg = Config.fromfile(DEMO)
    cfg.merge_from_dict({'custom_hooks': "dict(type='mim_scaling.LossCurveHook')"})
    with pytest.raises(ConfigError, match=r"custom_hooks=.* must be a list of dicts.*"
                       r'--cfg-options gives a string'):
        check_config(cfg)
    cfg.custom_hooks = ['mim_scaling.LossCurveHook']
    with pytest.raises(ConfigError, match=r"custom_hooks\[0\]='mim_scaling.LossCurveHook' "
                       'must be a dict with a type'):
        check_config(cfg)


def test_what_carrying_out_the_package_keys_would_refuse_is_a_config_error():
    cfg = Config.fromfile(H_PRETRAIN)
    cfg.optim_wrapper.type = 'AmpOptimWrapper'  # --amp: float16, against memory_saving.bf16
    with pytest.raises(ConfigError, match='memory_saving.bf16 asks for bfloat16 autocast and '
                       'optim_wrapper for float16'):
        check_config(cfg)
    cfg = Config.fromfile(DEMO)
    cfg.decode_on_device = True
    cfg.train_dataloader.dataset.pipeline.insert(1, dict(type='ColorJitter', brightness=0.4))
    with pytest.raises(ConfigError, match=r'decode_on_device=True: .*ColorJitter'):
        check_config(cfg)


def test_a_checkpoint_to_resume_from_that_cannot_be_read(tmp_path):
    truncated = tmp_path / 'iter_10.pth'
    truncated.write_bytes(b'PK\x03\x04 a zip archive cut short')
    cfg = Config.fromfile(DEMO)
    cfg.merge_from_dict(dict(resume=True, load_from=str(truncated)))
    with pytest.raises(ConfigError, match='cannot resume from load_from=.*iter_10.pth: it is '
                       'not a complete zip archive'):
        check_config(cfg)
    cfg.load_from = str(tmp_path / 'missing.pth')
    with pytest.raises(ConfigError, match='missing.pth: the file does not exist'):
        check_config(cfg)
