"""mim_scaling.engine.config.unknown_keys: misspelt keys of hooks, loops, optimizer
wrappers, optimizers, parameter-wise options, ``auto_scale_lr``, ``env_cfg`` and of the
package's own keys are refused before anything is built, with the closest valid key; a
config's own variables, and the options a user's hook reads itself, are left alone."""
import glob
import inspect
import os.path as osp
import re

import pytest
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.registry import HOOKS
from mmengine.runner import Runner as MMEngineRunner

import mim_scaling  # noqa: F401  (registers the types the configs name)
from mim_scaling.engine.config import ConfigError, check_config
from mim_scaling.engine.config.unknown_keys import (PARAMWISE_KEYS, RUNNER_CFG_KEYS,
                                                    key_problems)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
SHIPPED = sorted(
    osp.relpath(p, REPO) for p in glob.glob(osp.join(REPO, 'configs', '**', '*.py'), recursive=True)
    if '_base_' not in p and 'sweep_grid_' not in p)  # grid files are tools/sweep.py's
# tests/configs/ reads every config of the pre-training grid and of the transfer tables, and
# SwinV2-B's robustness configs (the others differ from them only in the model they
# inherit), through check_config, which runs this check too; the rest are read here.
READ_BY_TABLE_TESTS = ('configs/pretrain/simmim_swinv2-', 'configs/imagenet/',
                       'configs/inat2018/', 'configs/coco/', 'configs/ade20k/',
                       'configs/robustness/')
CHECKED = [c for c in SHIPPED if not c.startswith(READ_BY_TABLE_TESTS) or 'continue' in c]


def problems(**cfg):
    return key_problems(Config(dict(default_scope='mmpretrain', **cfg)))[0]


def warnings(**cfg):
    return key_problems(Config(dict(default_scope='mmpretrain', **cfg)))[1]


def test_a_misspelt_checkpoint_key_is_refused_before_the_first_save():
    # CheckpointHook passes keys it does not know on to Runner.save_checkpoint, which takes
    # none of them: mmengine fails at the first save.
    for kind in ('mim_scaling.AtomicCheckpointHook', 'CheckpointHook'):
        found = problems(default_hooks=dict(
            timer=dict(type='IterTimerHook'),
            checkpoint=dict(type=kind, interval=5000, max_keep_ckpt=1, priority='VERY_LOW')))
        assert found == [f"default_hooks.checkpoint: unknown key 'max_keep_ckpt' of {kind}; "
                         "did you mean 'max_keep_ckpts'?"]
    assert problems(default_hooks=dict(checkpoint=dict(
        type='mim_scaling.AtomicCheckpointHook', interval=5, max_keep_ckpts=1,
        save_best='auto', by_epoch=False), logger=None)) == []


def test_custom_hooks_and_their_types():
    assert problems(custom_hooks=[
        dict(type='mim_scaling.LossCurveHook', filename='a.png'),
        dict(type='mim_scaling.UnreadableImagesHook', intervall=10),
        dict(type='mim_scaling.LossCurveHooks')]) == [
        "custom_hooks[1]: unknown key 'intervall' of mim_scaling.UnreadableImagesHook; "
        "did you mean 'interval'?",
        "custom_hooks[2]: type 'mim_scaling.LossCurveHooks' is not a registered hook "
        "(scope 'mmpretrain'); did you mean 'mim_scaling.LossCurveHook'?"]


def test_loops_with_and_without_a_type():
    assert problems(
        train_cfg=dict(type='mim_scaling.ResumableIterBasedTrainLoop', max_iter=10),
        val_cfg=dict(fp17=True), test_cfg=dict(type='TestLoop')) == [
        "train_cfg: unknown key 'max_iter' of mim_scaling.ResumableIterBasedTrainLoop; did "
        "you mean 'max_iters'?",
        "val_cfg: unknown key 'fp17' of ValLoop; did you mean 'fp16'?"]
    # Without a type, mmengine takes by_epoch to choose the loop.
    assert problems(train_cfg=dict(by_epoch=True, max_epoch=3, val_interval=1)) == [
        "train_cfg: unknown key 'max_epoch' of EpochBasedTrainLoop; did you mean "
        "'max_epochs'?"]
    assert problems(train_cfg=dict(by_epoch=False, max_iters=3, val_interval=1)) == []


def test_optimizer_wrappers_and_optimizers_follow_their_keyword_arguments():
    found = problems(optim_wrapper=dict(
        type='mim_scaling.FiniteLossOptimWrapper', non_finit='skip', accumulative_count=2,
        clip_grad=dict(max_norm=5.0), constructor='mim_scaling.LayerDecayOptimWrapperConstructor',
        paramwise_cfg=dict(layer_decay_rate=0.75),
        optimizer=dict(type='AdamW', lr=1e-3, weight_decy=0.05, fused=True)))
    assert found == [
        "optim_wrapper: unknown key 'non_finit' of mim_scaling.FiniteLossOptimWrapper; did "
        "you mean 'non_finite'?",
        # FiniteLossOptimWrapper's **kwargs are OptimWrapper's
        "optim_wrapper: unknown key 'accumulative_count' of "
        "mim_scaling.FiniteLossOptimWrapper; did you mean 'accumulative_counts'?",
        "optim_wrapper.optimizer: unknown key 'weight_decy' of AdamW; did you mean "
        "'weight_decay'?"]
    # A ZeRO optimizer passes its **kwargs to the optimizer it wraps.
    assert problems(optim_wrapper=dict(optimizer=dict(
        type='mim_scaling.ZeroRedundancyOptimizer', optimizer_type='AdamW', lr=1.0,
        betas=(0.9, 0.999), beta=0.9))) == [
        "optim_wrapper.optimizer: unknown key 'beta' of mim_scaling.ZeroRedundancyOptimizer; "
        "did you mean 'betas'?"]


def test_near_misses_of_top_level_keys_are_warned_of_and_own_variables_left_alone():
    # A config may hold any variable of its own: at most a warning, never a refusal.
    near_misses = dict(skip_unreadable_image=True, memory_savings=dict(bf16=True),
                       tensorbord=True, custom_hook=[], train_cgf=dict(max_iters=1))
    assert problems(**near_misses) == []
    assert [re.search(r"key '(\w+)' .*did you mean '(\w+)'", w).groups()
            for w in warnings(**near_misses)] == [
        ('skip_unreadable_image', 'skip_unreadable_images'),
        ('memory_savings', 'memory_saving'), ('tensorbord', 'tensorboard'),
        ('custom_hook', 'custom_hooks'), ('train_cgf', 'train_cfg')]
    assert problems(memory_saving=dict(with_cp=True, bf61=True)) == [
        "memory_saving: unknown key 'bf61'; did you mean 'bf16'?"]
    # Variables of upstream configs: mmdet's GN+WS configs (conv_cfg), mmpretrain's
    # retrieval and multi-model configs.
    upstream = dict(conv_cfg=dict(type='ConvWS'), models=[], gallery_dataloader={},
                    val_evaluator_subset={}, norm_cfg=dict(type='GN'))
    assert problems(**upstream) == []
    assert [w.split("'")[1] for w in warnings(**upstream)] == ['models']
    # Variables of the shipped configs, and keys that mmengine's Runner reads itself.
    assert problems(max_iters=10, warmup_iters=1, decay_iters=[5], pretrained='x.pth',
                    bgr_mean=[1, 2, 3], train_pipeline=[], test_pipeline=[],
                    compile=False, sync_bn='torch', find_unused_parameters=True,
                    model_wrapper_cfg=None, skip_unreadable_images=True, tensorboard=False,
                    runner_type='mim_scaling.Runner', custom_imports=dict(imports=[])) == []


def test_the_options_of_the_packages_constructors_auto_scale_lr_and_env_cfg():
    """Read with dict.get, so a misspelt one was ignored for good (Table 2's layer decay
    would stay at the config's 0.75)."""
    layer_decay = dict(optimizer=dict(type='AdamW', lr=5e-3, weight_decay=0.05),
                       constructor='mim_scaling.LayerDecayOptimWrapperConstructor')
    assert problems(optim_wrapper=dict(layer_decay, paramwise_cfg=dict(
        layer_decay_rat=0.5, bias_decay_mul=0.))) == [
        "optim_wrapper.paramwise_cfg: unknown key 'layer_decay_rat' of "
        "LayerDecayOptimWrapperConstructor; did you mean 'layer_decay_rate'?",
        "optim_wrapper.paramwise_cfg: unknown key 'bias_decay_mul' of "
        "LayerDecayOptimWrapperConstructor; did you mean 'bias_decay_mult'?"]
    assert problems(optim_wrapper=dict(layer_decay, paramwise_cfg=dict(
        layer_decay_rate=0.5, custom_keys={'.pos_embed': dict(decay_mult=0.)}))) == []
    merged = dict(optimizer=dict(type='AdamW', lr=1e-3),
                  constructor='mim_scaling.MergedGroupsOptimWrapperConstructor')
    assert problems(optim_wrapper=dict(merged, paramwise_cfg=dict(
        norm_decay_mult=0., bias_decay_mul=0.))) == [
        "optim_wrapper.paramwise_cfg: unknown key 'bias_decay_mul' of "
        "MergedGroupsOptimWrapperConstructor; did you mean 'bias_decay_mult'?"]
    assert problems(auto_scale_lr=dict(enabel=True, base_batch_size=2048),
                    env_cfg=dict(cudnn_benchmrk=True, mp_cfg=dict(mp_start_metod='fork'),
                                 dist_cfg=dict(backend='nccl', timeout=60))) == [
        "auto_scale_lr: unknown key 'enabel' of Runner.scale_lr; did you mean 'enable'?",
        "env_cfg: unknown key 'cudnn_benchmrk' of Runner.setup_env; did you mean "
        "'cudnn_benchmark'?",
        "env_cfg.mp_cfg: unknown key 'mp_start_metod' of set_multi_processing; did you mean "
        "'mp_start_method'?"]


def test_a_users_hook_that_reads_its_own_options_from_kwargs_is_not_refused():
    @HOOKS.register_module(force=True)
    class ReadsItsOwnOption(Hook):
        def __init__(self, **kwargs):
            self.every = kwargs.pop('every', 10)

    @HOOKS.register_module(force=True)
    class PassesOnToTheCheckpointHook(mim_scaling.engine.AtomicCheckpointHook):
        def __init__(self, keep_best=False, **kwargs):
            self.archive = kwargs.pop('archive', None)
            super().__init__(**kwargs)

    assert problems(custom_hooks=[
        dict(type='ReadsItsOwnOption', every=5),
        dict(type='PassesOnToTheCheckpointHook', interval=5, archive='s3://x')]) == []


def test_types_without_their_scope_are_pointed_to_it_and_never_to_a_weaker_class():
    found = problems(custom_hooks=[dict(type='LossCurveHook')],
                     optim_wrapper=dict(type='FiniteLossOptimWrapper',
                                        optimizer=dict(type='AdamW', lr=1e-3)))
    assert found == [
        "custom_hooks[0]: type 'LossCurveHook' is not a registered hook (scope "
        "'mmpretrain'); did you mean 'mim_scaling.LossCurveHook'?",
        "optim_wrapper: type 'FiniteLossOptimWrapper' is not a registered optimizer "
        "wrapper (scope 'mmpretrain'); did you mean 'mim_scaling.FiniteLossOptimWrapper'?"]
    # A misspelling of the package's class is not taken for mmengine's OptimWrapper.
    assert problems(optim_wrapper=dict(type='FiniteLosOptimWrapper'))[0].endswith(
        "did you mean 'mim_scaling.FiniteLossOptimWrapper'?")


def test_the_paramwise_keys_of_the_packages_constructors_include_those_they_read():
    from mim_scaling.engine.optimizers import (LayerDecayOptimWrapperConstructor,
                                               MergedGroupsOptimWrapperConstructor,
                                               no_weight_decay)
    read = set(re.findall(r"paramwise_cfg(?:\.get\(|\.pop\(|\[)'(\w+)'",
                          inspect.getsource(no_weight_decay)))
    assert read
    for constructor in (LayerDecayOptimWrapperConstructor, MergedGroupsOptimWrapperConstructor):
        assert read <= set(PARAMWISE_KEYS[constructor]), constructor


def test_the_keys_mmengines_runner_reads_itself_are_those_of_its_source():
    source = inspect.getsource(MMEngineRunner)
    read = set(re.findall(r"self\.cfg\.get\('(\w+)'", source))
    assert read == set(RUNNER_CFG_KEYS)


def test_check_config_refuses_typos_with_the_config_checks():
    cfg = Config(dict(default_scope='mmpretrain', skip_unreadable_images=True,
                      default_hooks=dict(checkpoint=dict(type='CheckpointHook',
                                                         max_keep_ckpt=2))))
    with pytest.raises(ConfigError, match="did you mean 'max_keep_ckpts'"):
        check_config(cfg)


def test_check_config_keys_false_switches_the_key_check_off():
    cfg = Config(dict(default_scope='mmpretrain', check_config_keys=False,
                      custom_hooks=[dict(type='mim_scaling.LossCurveHook', fancy=True)]))
    assert check_config(cfg) == []
    cfg.check_config_keys = True
    with pytest.raises(ConfigError, match="unknown key 'fancy'"):
        check_config(cfg)


@pytest.fixture
def external_bases_looked_up_once(monkeypatch):
    """mmengine finds each 'mmpretrain::' base of a config by reading all of the library's
    metafiles (0.2-0.6 s a base); the answer does not change between configs."""
    import mmengine.config.config as config_module

    def once(function):
        answers = {}

        def looked_up(*args):
            if args not in answers:
                try:
                    answers[args] = (function(*args), None)
                except ValueError as error:  # a base config has no metafile entry
                    answers[args] = (None, error)
            answer, error = answers[args]
            if error is not None:
                raise error
            return answer
        return looked_up

    for name in ('_get_external_cfg_path', 'is_installed'):
        monkeypatch.setattr(config_module, name, once(getattr(config_module, name)))


def test_the_shipped_configs_that_no_table_test_reads_pass(external_bases_looked_up_once):
    bad = {}
    for config in CHECKED:
        found = key_problems(Config.fromfile(osp.join(REPO, config)))[0]
        if found:
            bad[config] = found
    assert bad == {}
    assert len(SHIPPED) > 100 and any(c.startswith('configs/demo/') for c in CHECKED)


def test_the_runner_refuses_a_typo_before_building_anything(tmp_path):
    from mim_scaling.engine import Runner
    cfg = Config(dict(
        default_scope='mmpretrain', work_dir=str(tmp_path), model=dict(type='NotBuilt'),
        default_hooks=dict(checkpoint=dict(type='mim_scaling.AtomicCheckpointHook',
                                           interval=5000, max_keep_ckpt=1))))
    with pytest.raises(ConfigError, match="unknown key 'max_keep_ckpt' of mim_scaling.Atomic"
                       "CheckpointHook; did you mean 'max_keep_ckpts'"):
        Runner.from_cfg(cfg)
    assert list(tmp_path.iterdir()) == []  # no log, no work dir content
