"""Without a GPU, a distributed UPerNet run builds BatchNorm instead of SyncBN (saying so),
and its log shows the backend actually used."""
import copy
import os.path as osp

import pytest
import torch
import torch.distributed as dist
from mmengine.config import Config
from mmengine.registry import RUNNERS

from mim_scaling.engine.config.sync_bn import sync_bn_to_bn

from ports import free_port

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
UPERNET = osp.join(REPO, 'configs', 'ade20k', 'upernet_swinv2_b.py')


@pytest.fixture(scope='module')
def upernet():
    return Config.fromfile(UPERNET)


def test_sync_bn_configs_become_bn(upernet):
    cfg = copy.deepcopy(upernet)
    assert sync_bn_to_bn(cfg) == ['model.decode_head.norm_cfg', 'model.auxiliary_head.norm_cfg']
    assert 'SyncBN' not in str(cfg.model)
    assert cfg.model.decode_head.norm_cfg == dict(type='BN', requires_grad=True)


@pytest.mark.skipif(torch.cuda.is_available(), reason='the CPU path of a machine without GPU')
def test_distributed_upernet_on_cpu_builds_with_batchnorm_and_logs_gloo(upernet, tmp_path,
                                                                        monkeypatch):
    """The config's runner_type built as tools/dist_train.sh builds it (--launcher pytorch),
    in one gloo process: DDP refuses SyncBatchNorm on the CPU whatever the world size."""
    cfg = copy.deepcopy(upernet)
    cfg.launcher, cfg.work_dir = 'pytorch', str(tmp_path)
    # A tiny backbone and heads; the config keeps its SyncBN heads and its nccl backend.
    cfg.model.backbone.update(arch=dict(embed_dims=8, depths=[1, 1, 1, 1],
                                        num_heads=[1, 1, 1, 1]), init_cfg=None)
    cfg.model.decode_head.update(in_channels=[8, 16, 32, 64], channels=16)
    cfg.model.auxiliary_head.update(in_channels=32, channels=8)
    assert cfg.env_cfg.dist_cfg.backend == 'nccl'
    for name, value in dict(RANK='0', LOCAL_RANK='0', WORLD_SIZE='1', MASTER_ADDR='127.0.0.1',
                            MASTER_PORT=str(free_port())).items():
        monkeypatch.setenv(name, value)
    try:
        runner = RUNNERS.build(cfg)
        assert dist.get_backend() == 'gloo'
        modules = list(runner.model.modules())
        assert not any(isinstance(m, torch.nn.SyncBatchNorm) for m in modules)
        assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in modules) > 0
        # The DDP-wrapped model runs forward and backward through its BatchNorm heads.
        runner.model.train()
        runner.model(torch.randn(2, 3, 64, 64), None, mode='tensor').sum().backward()
        assert runner.model.module.decode_head.conv_seg.weight.grad is not None
    finally:
        dist.destroy_process_group()
    (log, ) = tmp_path.glob('*/*.log')
    text = log.read_text()
    assert "dist_cfg: {'backend': 'gloo'}" in text
    assert ('No GPU: SyncBatchNorm runs on GPUs only, so model.decode_head.norm_cfg, '
            'model.auxiliary_head.norm_cfg build BatchNorm instead') in text
