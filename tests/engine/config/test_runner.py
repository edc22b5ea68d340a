"""mim_scaling.Runner, the ``runner_type`` of every config: what a config promises is carried
out when the Runner is built, whichever way it is built, and what cannot be honoured fails
before anything is built."""
import ast
import copy
import os
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
from mmengine.config import Config
from mmengine.registry import RUNNERS

from mim_scaling.engine import Runner
from mim_scaling.engine.config import ConfigError, checks, rewrite_config
from mim_scaling.engine.optimizers import BF16FiniteLossOptimWrapper

from ports import free_port

ROOT = Path(__file__).parents[3]
DEMO = ROOT / 'configs/demo/simmim_swinv2-demo_300it_skimage.py'
RUNTIMES = {ROOT / 'configs/_base_' / f'default_runtime_{kind}.py'
            for kind in ('pretrain', 'cls', 'det', 'seg')}
TINY_ARCH = dict(embed_dims=8, depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 1])


def bases(config: Path):
    """The local files ``config`` inherits from, however deep (``lib::`` bases excluded)."""
    tree = ast.parse(config.read_text())
    found = set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, 'id', None) == '_base_'
                                                for t in node.targets):
            value = ast.literal_eval(node.value)
            for base in [value] if isinstance(value, str) else value:
                if '::' not in base:
                    path = (config.parent / base).resolve()
                    found |= {path} | bases(path)
    return found


def test_every_config_inherits_a_runtime_that_names_the_runner():
    leaves = [path for path in (ROOT / 'configs').rglob('*.py')
              if '_base_' not in path.parts and not path.name.startswith('sweep_grid')]
    assert len(leaves) > 100
    orphans = [str(path.relative_to(ROOT)) for path in leaves if not bases(path) & RUNTIMES]
    assert orphans == []
    for runtime in RUNTIMES:
        assert Config.fromfile(runtime).runner_type == 'mim_scaling.Runner', runtime


def tiny(config, work_dir, **changes):
    """``config`` with a 1-block-per-stage, 8-wide backbone (and its decoder), in work_dir."""
    cfg = Config.fromfile(config)
    cfg.model.backbone.arch = copy.deepcopy(TINY_ARCH)
    cfg.model.neck.in_channels = 8 * 8
    cfg.merge_from_dict(dict(work_dir=str(work_dir), **changes))
    return cfg


@pytest.mark.parametrize('name', ['simmim_swinv2-h_125k_in1k.py', 'simmim_swinv2-g_500k_in22k.py'])
def test_h_and_g_configs_built_by_the_registry_checkpoint_and_autocast_to_bf16(name, tmp_path):
    cfg = tiny(ROOT / 'configs/pretrain' / name, tmp_path)
    # What every OpenMMLab tools/train.py does with a config that names a runner_type.
    runner = RUNNERS.build(cfg)
    assert type(runner) is Runner
    assert runner.model.backbone.with_cp
    wrapper = runner.build_optim_wrapper(runner.optim_wrapper)
    assert isinstance(wrapper, BF16FiniteLossOptimWrapper)
    # One process: no optimizer to shard (the 2-process gloo run in
    # tests/tools/test_sharded_training.py covers ZeRO).
    assert wrapper.optimizer.__class__.__name__ == 'AdamW'
    assert not cfg.model.backbone.get('with_cp')  # the caller's config is left as it was


@pytest.mark.skipif(torch.cuda.is_available(), reason='the CPU path of a machine without GPU')
def test_bf16_on_a_cpu_is_bfloat16_autocast(tmp_path):
    """On the CPU the bf16 wrapper honours bf16 (PyTorch's CPU autocast), slowly."""
    cfg = tiny(ROOT / 'configs/pretrain/simmim_swinv2-h_125k_in1k.py', tmp_path)
    rewrite_config(cfg)  # no error: the machine can run it
    assert cfg.optim_wrapper.type == 'mim_scaling.BF16FiniteLossOptimWrapper'
    linear = torch.nn.Linear(4, 4)
    wrapper = BF16FiniteLossOptimWrapper(torch.optim.SGD(linear.parameters(), lr=0.1))
    with wrapper.optim_context(linear):
        assert linear(torch.randn(2, 4)).dtype == torch.bfloat16
    assert linear(torch.randn(2, 4)).dtype == torch.float32


def test_bf16_on_a_gpu_without_bfloat16_fails_at_build_time(tmp_path, monkeypatch):
    monkeypatch.setattr(checks, 'get_device', lambda: 'cuda')
    monkeypatch.setattr(torch.cuda, 'is_bf16_supported', lambda: False)
    monkeypatch.setattr(torch.cuda, 'get_device_name', lambda *args: 'Tesla V100-SXM2-32GB')
    cfg = tiny(ROOT / 'configs/pretrain/simmim_swinv2-g_125k_in1k.py', tmp_path / 'work')
    with pytest.raises(ConfigError, match=r'memory_saving.bf16=True asks for bfloat16 autocast'
                       r'.*\(Tesla V100-SXM2-32GB\).*memory_saving.bf16=False'):
        Runner.from_cfg(cfg)
    assert not (tmp_path / 'work').exists()  # nothing was built


def test_amp_without_an_accelerator_fails_at_build_time(tmp_path, monkeypatch):
    for name in ('is_cuda_available', 'is_npu_available', 'is_mlu_available',
                 'is_musa_available'):
        monkeypatch.setattr(checks, name, lambda: False)
    cfg = tiny(DEMO, tmp_path, optim_wrapper=dict(type='AmpOptimWrapper'))
    with pytest.raises(ConfigError, match="'AmpOptimWrapper' \\(e.g. from --amp\\) autocasts "
                       'on a CUDA, NPU, MLU or MUSA device and there is none here'):
        Runner.from_cfg(cfg)


def test_bf16_and_fp16_amp_together_are_refused(tmp_path):
    """--amp (fp16 AmpOptimWrapper) on a SwinV2-H config, whose memory plan says bf16."""
    cfg = tiny(ROOT / 'configs/pretrain/simmim_swinv2-h_125k_in1k.py', tmp_path,
               optim_wrapper=dict(type='AmpOptimWrapper', loss_scale='dynamic'))
    with pytest.raises(ValueError, match='memory_saving.bf16 asks for bfloat16 autocast and '
                       'optim_wrapper for float16 AmpOptimWrapper'):
        Runner.from_cfg(cfg)


def test_a_config_mistake_fails_at_build_time(tmp_path):
    cfg = tiny(DEMO, tmp_path / 'work')
    cfg.model.neck.in_channels = 8 * 4  # the decoder reads the last stage, 8 * 8 wide
    with pytest.raises(ConfigError, match=r'model.neck.in_channels=32 .*64'):
        Runner.from_cfg(cfg)
    assert not (tmp_path / 'work').exists()


def test_rewriting_is_idempotent():
    cfg = Config.fromfile(ROOT / 'configs/pretrain/simmim_swinv2-h_125k_in1k.py')
    cfg.merge_from_dict(dict(launcher='pytorch', tensorboard=True, skip_unreadable_images=True,
                             compile=True))
    rewrite_config(cfg)
    hooks = [hook.type.split('.')[-1] for hook in cfg.custom_hooks]
    for name in ('UnreadableImagesHook', 'EagerOptimizerUpdateHook', 'PretrainedWindowsHook',
                 'ConsolidateOptimizerStateHook'):
        assert hooks.count(name) == 1, hooks
    assert cfg.train_dataloader.dataset.type == 'mim_scaling.SkipUnreadableImages'
    assert cfg.optim_wrapper.optimizer.type == 'mim_scaling.ZeroRedundancyOptimizer'
    once = cfg.pretty_text
    rewrite_config(cfg)
    assert cfg.pretty_text == once


def test_the_config_a_run_dumps_builds_again_unchanged(tmp_path):
    cfg = tiny(ROOT / 'configs/pretrain/simmim_swinv2-h_125k_in1k.py', tmp_path,
               tensorboard=True, skip_unreadable_images=True, compile=True)
    RUNNERS.build(cfg)
    (dumped, ) = tmp_path.glob('*.py')
    cfg = Config.fromfile(dumped)
    assert cfg.runner_type == 'mim_scaling.Runner'
    assert [h.type for h in cfg.custom_hooks].count('mim_scaling.PretrainedWindowsHook') == 1
    as_dumped = cfg.pretty_text
    rewrite_config(cfg)  # python tools/train.py work_dir/<config>.py
    assert cfg.pretty_text == as_dumped


@pytest.mark.skipif(torch.cuda.is_available(), reason='the CPU path of a machine without GPU')
def test_slurm_launcher_starts_a_gloo_group_without_gpu(tmp_path, monkeypatch):
    """mmengine's init_dist would call torch.cuda.set_device; the Runner starts gloo from the
    slurm variables instead, and wraps the CPU model in DDP without device_ids."""
    for key in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_PORT'):
        monkeypatch.setenv(key, 'unset')  # so that teardown restores the original state
        monkeypatch.delenv(key)
    for key, value in dict(SLURM_PROCID='0', SLURM_NTASKS='1', SLURM_LOCALID='0',
                           SLURM_NODELIST='node-1', MASTER_ADDR='127.0.0.1').items():
        monkeypatch.setenv(key, value)
    port = free_port()
    cfg = tiny(DEMO, tmp_path, launcher='slurm', env_cfg=dict(dist_cfg=dict(port=port)))
    assert cfg.env_cfg.dist_cfg.backend == 'nccl'
    try:
        runner = RUNNERS.build(cfg)
        assert dist.is_initialized() and dist.get_backend() == 'gloo'
        assert (dist.get_rank(), dist.get_world_size()) == (0, 1)
        assert os.environ['MASTER_PORT'] == str(port)
        assert runner.model.device_ids is None
        assert runner.cfg.env_cfg.dist_cfg.backend == 'gloo'
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def test_build_dataloader_is_static_as_mmengines():
    """mmengine's Runner.build_dataloader(cfg) is a static method; so is the package's."""
    loader = Runner.build_dataloader(dict(
        dataset=list(range(6)), sampler=dict(type='DefaultSampler', shuffle=False),
        batch_size=2, num_workers=0))
    assert [batch for batch in loader] == [[0, 1], [2, 3], [4, 5]]


def test_mmengines_own_runner_stops_a_run_of_the_packages_configs(tmp_path):
    """mmengine's Runner.from_cfg ignores runner_type: the runtime bases' hook stops it."""
    from mmengine.runner import Runner as MMEngineRunner
    from mim_scaling.engine.hooks import RunnerTypeCheckHook
    for runtime in RUNTIMES:
        cfg = Config.fromfile(runtime)
        hooks = [*(cfg.get('default_hooks') or {}).values(), *(cfg.get('custom_hooks') or [])]
        assert 'mim_scaling.RunnerTypeCheckHook' in [h.type for h in hooks], runtime
    plain = MMEngineRunner.from_cfg(tiny(DEMO, tmp_path / 'plain'))
    with pytest.raises(RuntimeError, match='to be run by mim_scaling.Runner .* but '
                       'mmengine.runner.runner.Runner built it'):
        plain.call_hook('before_run')
    ours = RUNNERS.build(tiny(DEMO, tmp_path / 'ours'))
    RunnerTypeCheckHook().before_run(ours)  # no error


def test_other_tools_resume_keeps_the_config_files_load_from(tmp_path):
    """mmpretrain's and mmdet's --resume set resume=True and load_from=None: the Runner takes
    the config file's load_from back as the start of a run with nothing to resume."""
    config = tmp_path / 'from_weights.py'
    config.write_text(f"_base_ = ['{DEMO}']\nload_from = 'released.pth'\n")
    cfg = tiny(config, tmp_path / 'work')
    cfg.resume, cfg.load_from = True, None  # what those tools do
    runner = Runner.from_cfg(cfg)
    assert (runner._resume, runner._load_from) == ('auto', 'released.pth')


@pytest.mark.parametrize('name', ['swinv2-h_ft_in1k.py', 'swinv2-g_ft_in1k.py'])
def test_h_and_g_fine_tuning_configs_carry_the_memory_plan(name):
    cfg = Config.fromfile(ROOT / 'configs/imagenet' / name)
    cfg.launcher = 'pytorch'
    rewrite_config(cfg)
    assert cfg.model.backbone.with_cp
    assert cfg.optim_wrapper.type == 'mim_scaling.BF16FiniteLossOptimWrapper'
    assert cfg.optim_wrapper.optimizer.type == 'mim_scaling.ZeroRedundancyOptimizer'
    assert cfg.optim_wrapper.paramwise_cfg.layer_decay_rate == 0.65
    assert cfg.model_wrapper_cfg.gradient_as_bucket_view
