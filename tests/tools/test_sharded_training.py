"""The memory settings of SwinV2-H/g (configs/_base_/memory_ckpt_bf16_zero1.py) through
tools/dist_train.sh: 2 gloo processes with AdamW's states sharded (ZeRO-1) train like one
unsharded process, and resume from their checkpoint."""
import copy
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from mim_scaling.safe_loading import safe_load

from ports import free_port

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOY_DIR = osp.join(REPO, 'tests', '_toy')
MEMORY_BASE = osp.join(REPO, 'configs', '_base_', 'memory_ckpt_bf16_zero1.py')

SHARDED = f"""\
_base_ = ['toy_regression.py', {MEMORY_BASE!r}]
# The toy model has no backbone to checkpoint, and the comparison below is with fp32.
memory_saving = dict(with_cp=False, bf16=False)
optim_wrapper = dict(optimizer=dict(_delete_=True, type='AdamW', lr=0.05, weight_decay=0.1))
"""


def dist_train(config, work_dir, tmp_path, *options):
    env = dict(os.environ, PORT=str(free_port()), PYTHON=sys.executable,
               PYTHONPATH=os.pathsep.join([TOY_DIR, os.environ.get('PYTHONPATH', '')]))
    result = subprocess.run(
        ['bash', osp.join(REPO, 'tools', 'dist_train.sh'), config, '2', '--work-dir',
         str(work_dir), '--cfg-options', 'env_cfg.dist_cfg.backend=gloo', *options],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-5000:]
    return log


def test_h_and_g_configs_get_checkpointing_bf16_and_sharded_adamw():
    from mim_scaling.engine.config.memory_saving import apply_memory_saving
    for name in ('simmim_swinv2-h_125k_in1k.py', 'simmim_swinv2-g_500k_in22k.py'):
        cfg = Config.fromfile(osp.join(REPO, 'configs', 'pretrain', name))
        cfg.launcher = 'pytorch'
        apply_memory_saving(cfg)
        assert cfg.model.backbone.with_cp
        assert cfg.optim_wrapper.type == 'mim_scaling.BF16FiniteLossOptimWrapper'
        optimizer = cfg.optim_wrapper.optimizer
        assert optimizer.type == 'mim_scaling.ZeroRedundancyOptimizer'
        assert optimizer.optimizer_type == 'AdamW' and optimizer.lr == 4e-4
        assert cfg.custom_hooks[-1].type == 'mim_scaling.ConsolidateOptimizerStateHook'
        assert cfg.model_wrapper_cfg.gradient_as_bucket_view
    single = Config.fromfile(osp.join(REPO, 'configs', 'pretrain', name))
    apply_memory_saving(single)  # one process (launcher 'none'): nothing to shard
    assert single.optim_wrapper.optimizer.type == 'AdamW'
    base = Config.fromfile(osp.join(REPO, 'configs', 'pretrain', 'simmim_swinv2-b_125k_in1k.py'))
    assert base.get('memory_saving') is None


@pytest.mark.dist
def test_sharded_adamw_on_two_ranks_trains_like_one_process_and_resumes(
        tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(TOY_DIR)
    monkeypatch.syspath_prepend(osp.dirname(osp.abspath(__file__)))
    import toy_task
    toy_task.write_config(str(tmp_path))
    config = tmp_path / 'toy_sharded.py'
    config.write_text(SHARDED)

    work_dir = tmp_path / 'sharded'
    dist_train(str(config), work_dir, tmp_path)
    dumped = Config.fromfile(work_dir / 'toy_sharded.py')
    assert dumped.optim_wrapper.optimizer.type == 'mim_scaling.ZeroRedundancyOptimizer'
    assert dumped.optim_wrapper.optimizer.optimizer_type == 'AdamW'
    assert dumped.model_wrapper_cfg.gradient_as_bucket_view
    final = torch.load(work_dir / 'weights_rank0.pth', weights_only=True)
    rank1 = torch.load(work_dir / 'weights_rank1.pth', weights_only=True)
    for key, weight in final.items():
        assert torch.equal(rank1[key], weight)

    # One process, plain AdamW, batches of 8 over the same sample order.
    cfg = copy.deepcopy(Config.fromfile(tmp_path / 'toy_regression.py'))
    cfg.optim_wrapper = Config.fromfile(config).optim_wrapper
    cfg.work_dir, cfg.experiment_name = str(tmp_path / 'single'), 'single_batch_8'
    cfg.train_dataloader.batch_size = 8
    single = Runner.from_cfg(cfg)
    single.train()
    for key, weight in single.model.state_dict().items():
        torch.testing.assert_close(final[key], weight)

    # The checkpoint holds the whole AdamW state (gathered from both shards) ...
    checkpoint = safe_load(work_dir / 'iter_2.pth')
    states = checkpoint['optimizer']['state']
    assert len(states) == 2 and all('exp_avg_sq' in s for s in states.values())
    # ... and resuming from it on two ranks ends where the uninterrupted run ended.
    resumed_dir = tmp_path / 'resumed'
    log = dist_train(str(config), resumed_dir, tmp_path, '--resume', str(work_dir / 'iter_2.pth'))
    assert 'resumed' in log.lower()
    resumed = torch.load(resumed_dir / 'weights_rank0.pth', weights_only=True)
    for key, weight in final.items():
        torch.testing.assert_close(resumed[key], weight, rtol=0, atol=0)
