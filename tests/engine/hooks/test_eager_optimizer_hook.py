"""compile=True: the SimMIM training step compiles into one graph around an eager update."""
import copy
from pathlib import Path

import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from mim_scaling.engine.hooks.eager_optimizer_hook import keep_update_eager

ROOT = Path(__file__).parents[3]


def test_training_step_traces_in_one_graph_and_updates_eagerly():
    init_default_scope('mmpretrain')
    cfg = Config.fromfile(ROOT / 'configs/demo/simmim_swinv2-demo_300it_skimage.py')
    cfg.model.backbone.update(img_size=64, window_size=4,
                              arch=dict(embed_dims=16, depths=[1, 1, 1, 1],
                                        num_heads=[1, 1, 2, 2]))
    cfg.model.neck.in_channels = 16 * 8
    model = MODELS.build(cfg.model).train()
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    data = dict(inputs=torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8),
                data_samples=[DataSample().set_mask(torch.rand(16, 16) > 0.4) for _ in range(2)])
    before = copy.deepcopy(model.state_dict())

    keep_update_eager(optim_wrapper)
    explanation = torch._dynamo.explain(model.train_step)(data, optim_wrapper)
    assert explanation.graph_count == 1 and explanation.graph_break_count == 0, \
        explanation.break_reasons
    changed = [k for k, v in model.state_dict().items() if not torch.equal(v, before[k])]
    assert 'backbone.layers.0.blocks.0.attn.qkv.weight' in changed  # the step ran
