"""tools/dist_train.sh: two processes on the gloo backend train the toy task in lockstep."""
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


@pytest.mark.dist
def test_dist_train_on_gloo_keeps_both_ranks_identical(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(TOY_DIR)
    import toy_task
    config = toy_task.write_config(str(tmp_path))
    work_dir = tmp_path / 'dist'
    env = dict(os.environ, PORT=str(free_port()), PYTHON=sys.executable,
               PYTHONPATH=os.pathsep.join([TOY_DIR, os.environ.get('PYTHONPATH', '')]))
    result = subprocess.run(
        ['bash', osp.join(REPO, 'tools', 'dist_train.sh'), config, '2', '--work-dir',
         str(work_dir), '--cfg-options', 'env_cfg.dist_cfg.backend=gloo'],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-5000:]

    # mmengine logs the world size as "GPU number", whatever the device.
    assert 'Distributed training: True' in log and 'GPU number: 2' in log
    rank0 = torch.load(work_dir / 'weights_rank0.pth', weights_only=True)
    rank1 = torch.load(work_dir / 'weights_rank1.pth', weights_only=True)
    checkpoint = safe_load(work_dir / 'iter_4.pth')['state_dict']
    for key, weight in rank0.items():
        assert torch.equal(rank1[key], weight)
        assert torch.equal(checkpoint[key], weight)

    # Each rank took half of every global batch of 8; averaging their gradients makes the
    # run equal to one process with batches of 8 over the same sample order.
    cfg = copy.deepcopy(Config.fromfile(config))
    cfg.work_dir, cfg.experiment_name = str(tmp_path / 'single'), 'single_batch_8'
    cfg.train_dataloader.batch_size = 8
    single = Runner.from_cfg(cfg)
    initial = copy.deepcopy(single.model.state_dict())
    single.train()
    for key, weight in single.model.state_dict().items():
        torch.testing.assert_close(rank0[key], weight)
        assert not torch.equal(initial[key], weight)
