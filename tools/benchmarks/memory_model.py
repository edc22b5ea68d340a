"""Memory per GPU of SimMIM pre-training and ImageNet-1K fine-tuning: parameters, gradients,
optimizer states, activations.

Prints, for SwinV2-S/B/L/H/g, pre-trained at 192 px (window 12) or fine-tuned at 224 px
(window 14), the bytes each part of a training step needs and the peak per GPU for a
per-GPU batch, with and without activation checkpointing, in fp32 or under bf16 autocast,
with plain DDP or with AdamW's states sharded (ZeRO-1)::

    python tools/benchmarks/memory_model.py                    # the tables of docs/memory.md
    python tools/benchmarks/memory_model.py --task finetune
    python tools/benchmarks/memory_model.py --check            # model vs measured, small CPU models

The model:

* Parameters ``N`` are counted exactly (encoder and decoder, or encoder and classifier
  head, built on the meta device).
  fp32 weights take 4N bytes, gradients 4N, AdamW's two moments 8N (8N/G when G ranks
  each keep the states of their shard: mmengine's ``ZeroRedundancyOptimizer``). DDP keeps
  its own 4N of gradient buckets unless ``gradient_as_bucket_view=True``; bf16 autocast
  keeps a 2N bf16 copy of the weights during the step; PyTorch's multi-tensor (foreach)
  AdamW, its default on GPUs, holds one more 4N (4N/G) of temporaries while it steps.
* Activations per image are what autograd keeps for the backward pass: the bytes of the
  distinct tensors its saved-tensor hooks see during one forward pass of the whole loss
  (SimMIM: encoder, decoder, target, loss; fine-tuning: encoder, pooling, head, label-
  smoothed cross-entropy), counted on the CPU at the real image size, window
  and depths but narrow widths (32 and 64 channels: 32 per head, as in all five models)
  and two batch sizes; every such tensor grows linearly with the width (tokens x channels,
  or tokens x heads) or not at all (image-sized decoder output, target, loss), so a line
  through the two widths gives any width. With checkpointing every block keeps only its
  input, and the backward pass recomputes one block at a time (the largest is counted).
* The peak of a step is the larger of the backward pass (weights, all activations of the
  batch, gradients) and the optimizer step (weights, gradients, states, temporaries).

``--check`` measures the peak of one training step of small models on the CPU (PyTorch's
allocation records, ``benchmark_utils.peak_memory``) and prints it next to the model's
prediction; ``tests/tools/test_memory_model.py`` does the same for a tiny model of each
task.
"""
import argparse
import copy
import os.path as osp
from dataclasses import dataclass
from typing import Dict, Optional, Sequence

import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from mim_scaling.models.backbones.swinv2 import ARCH_SETTINGS, SwinV2Block
from mim_scaling.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
MODEL_CONFIGS = {
    'pretrain': osp.join(REPO, 'configs', '_base_', 'models', 'simmim_swinv2-b.py'),
    'finetune': osp.join(REPO, 'configs', '_base_', 'models', 'swinv2_cls.py'),
}
# Image size, window and per-GPU batch of S/B/L/H/g in the study's configs.
TASKS = {
    'pretrain': dict(img_size=192, window_size=12, batches=(128, 128, 128, 64, 64)),
    'finetune': dict(img_size=224, window_size=14, batches=(128, 128, 64, 64, 64)),
}
STUDY_ARCHS = ('small', 'base', 'large', 'huge', 'giant')
HEAD_DIMS = 32  # channels per attention head in all five models
GB = 1e9


def model_config(task: str, embed_dims: int, depths: Sequence[int], img_size: int,
                 window_size: int, with_cp: bool = False) -> dict:
    """The task's model config (configs/_base_/models) at another width and depth."""
    cfg = copy.deepcopy(Config.fromfile(MODEL_CONFIGS[task]).model)
    num_heads = [embed_dims * 2**i // HEAD_DIMS for i in range(len(depths))]
    cfg.backbone.update(
        arch=dict(embed_dims=embed_dims, depths=list(depths), num_heads=num_heads),
        img_size=img_size, window_size=window_size, with_cp=with_cp, drop_path_rate=0.)
    last = embed_dims * 2**(len(depths) - 1)
    if task == 'pretrain':
        cfg.neck.in_channels = last
    else:
        cfg.head.in_channels = last
    return cfg.to_dict()


def simmim_config(embed_dims: int, depths: Sequence[int], img_size: int = 192,
                  window_size: int = 12, with_cp: bool = False) -> dict:
    """The pre-training model config at another width and depth."""
    return model_config('pretrain', embed_dims, depths, img_size, window_size, with_cp)


def build(cfg: dict, device: str = 'cpu') -> torch.nn.Module:
    with DefaultScope.overwrite_default_scope('mmpretrain'), torch.device(device):
        return MODELS.build(cfg)


def count_parameters(cfg: dict) -> int:
    """Parameters of the model, counted without allocating them (meta device)."""
    return sum(p.numel() for p in build(cfg, 'meta').parameters())


def task_batch(task: str, batch: int, img_size: int):
    """Random images and what the task's loss takes with them: SimMIM masks, or labels."""
    if task == 'pretrain':
        return simmim_batch(batch, img_size)
    from mmpretrain.structures import DataSample
    labels = torch.randint(1000, (batch, ))
    return (torch.randn(batch, 3, img_size, img_size),
            [DataSample().set_gt_label(int(label)) for label in labels])


def simmim_batch(batch: int, img_size: int, patch_size: int = 4, mask_patch: int = 32):
    """Random images and SimMIM masks (60% of the 32-px cells) as the model's loss takes."""
    from mmpretrain.structures import DataSample
    inputs = torch.randn(batch, 3, img_size, img_size)
    cells = img_size // mask_patch
    samples = []
    for _ in range(batch):
        mask = (torch.rand(cells, cells) < 0.6).to(torch.uint8)
        repeat = mask_patch // patch_size
        samples.append(DataSample().set_mask(
            mask.repeat_interleave(repeat, 0).repeat_interleave(repeat, 1)))
    return inputs, samples


@dataclass
class SavedBytes:
    """Bytes autograd keeps for the backward pass of one forward pass."""
    total: int
    blocks: Sequence[int]        # kept by each SwinV2 block
    block_inputs: Sequence[int]  # each block's input (what a checkpointed block keeps)

    def checkpointed(self) -> int:
        return self.total - sum(self.blocks) + sum(self.block_inputs) + max(self.blocks)


def saved_bytes(model: torch.nn.Module, batch: int, img_size: int,
                dtype: torch.dtype = torch.float32, task: str = 'pretrain') -> SavedBytes:
    """Counts the distinct storages autograd saves in one forward pass of the task's loss,
    parameters excluded, and which SwinV2 block saved them."""
    parameters = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen = set()
    counter = [0]

    def pack(tensor):
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in seen and storage.data_ptr() not in parameters:
            seen.add(storage.data_ptr())
            counter[0] += storage.nbytes()
        return tensor

    blocks, inputs, handles = [], [], []

    def block_starts(module, args):
        blocks.append(-counter[0])
        inputs.append(args[0].numel() * args[0].element_size())

    def block_ends(module, args, output):
        blocks[-1] += counter[0]

    for module in model.modules():
        if isinstance(module, SwinV2Block):
            handles.append(module.register_forward_pre_hook(block_starts))
            handles.append(module.register_forward_hook(block_ends))
    images, samples = task_batch(task, batch, img_size)
    model.train()
    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), \
                torch.autocast('cpu', dtype=dtype, enabled=dtype != torch.float32):
            model.loss(images, samples)
    finally:
        for handle in handles:
            handle.remove()
    return SavedBytes(counter[0], blocks, inputs)


@dataclass
class ActivationModel:
    """Activation bytes per image as a line in the width (see the module docstring)."""
    slope: float            # bytes per image per channel of embed_dims
    intercept: float        # bytes per image that do not grow with the width
    cp_slope: float
    cp_intercept: float

    def per_image(self, embed_dims: int, with_cp: bool = False) -> float:
        if with_cp:
            return self.cp_slope * embed_dims + self.cp_intercept
        return self.slope * embed_dims + self.intercept


def fit_activations(depths: Sequence[int], img_size: int = 192, window_size: int = 12,
                    dtype: torch.dtype = torch.float32, widths=(32, 64),
                    task: str = 'pretrain') -> ActivationModel:
    """Counts saved bytes at two narrow widths and batches 1 and 2; fits lines in the width."""
    per_image = {}
    for width in widths:
        torch.manual_seed(0)
        model = build(model_config(task, width, depths, img_size, window_size))
        one, two = (saved_bytes(model, b, img_size, dtype, task) for b in (1, 2))
        per_image[width] = (two.total - one.total, two.checkpointed() - one.checkpointed())
    (w0, (a0, c0)), (w1, (a1, c1)) = per_image.items()
    slope, cp_slope = (a1 - a0) / (w1 - w0), (c1 - c0) / (w1 - w0)
    return ActivationModel(slope, a0 - slope * w0, cp_slope, c0 - cp_slope * w0)


def step_memory(params: int, activations_per_image: float, batch: int, zero_ranks: int = 1,
                bf16: bool = False, ddp: bool = True, bucket_view: bool = False,
                foreach: bool = True) -> Dict[str, float]:
    """Bytes per GPU of one training step, by part, and its peak (module docstring)."""
    parts = dict(
        weights=4. * params,
        gradients=4. * params,
        adamw_states=8. * params / zero_ranks,
        ddp_buckets=4. * params if ddp and not bucket_view else 0.,
        bf16_weights=2. * params if bf16 else 0.,
        activations=activations_per_image * batch,
        step_temporaries=4. * params / zero_ranks if foreach else 0.)
    backward = (parts['weights'] + parts['bf16_weights'] + parts['activations']
                + parts['gradients'] + parts['ddp_buckets'])
    step = (parts['weights'] + parts['gradients'] + parts['ddp_buckets']
            + parts['adamw_states'] + parts['step_temporaries'])
    parts['peak'] = max(backward, step)
    return parts


def table(batches: Dict[str, int], gpus: int, img_size: int = 192, window_size: int = 12,
          activations: Optional[Dict[torch.dtype, ActivationModel]] = None,
          task: str = 'pretrain') -> str:
    from benchmark_utils import format_table
    depths = ARCH_SETTINGS['base']['depths']
    if activations is None:
        activations = {dtype: fit_activations(depths, img_size, window_size, dtype=dtype,
                                              task=task)
                       for dtype in (torch.float32, torch.bfloat16)}
    rows = []
    for arch in STUDY_ARCHS:
        dims = ARCH_SETTINGS[arch]['embed_dims']
        params = count_parameters(model_config(task, dims, ARCH_SETTINGS[arch]['depths'],
                                               img_size, window_size))
        fp32, bf16 = activations[torch.float32], activations[torch.bfloat16]
        batch = batches[arch]
        plain = step_memory(params, fp32.per_image(dims), batch)
        cp_only = step_memory(params, fp32.per_image(dims, True), batch)
        sharded = step_memory(params, bf16.per_image(dims, True), batch, zero_ranks=gpus,
                              bf16=True, bucket_view=True)
        rows.append([
            f'SwinV2-{arch[0].upper() if arch != "giant" else "g"}', f'{params / 1e6:.1f}M',
            f'{4 * params / GB:.1f}', f'{4 * params / GB:.1f}', f'{8 * params / GB:.1f}',
            f'{fp32.per_image(dims) / 2**20:.0f}', f'{fp32.per_image(dims, True) / 2**20:.0f}',
            f'{bf16.per_image(dims) / 2**20:.0f}', f'{bf16.per_image(dims, True) / 2**20:.0f}',
            batch, f'{plain["peak"] / GB:.1f}', f'{cp_only["peak"] / GB:.1f}',
            f'{sharded["peak"] / GB:.1f}'])
    return format_table(
        ['model', 'params', 'weights GB', 'grads GB', 'AdamW GB', 'act/img MiB fp32',
         'fp32 + ckpt', 'bf16', 'bf16 + ckpt', 'batch/GPU', 'peak GB: DDP fp32',
         'DDP fp32 + ckpt', f'bf16 + ckpt + ZeRO-1/{gpus}'], rows)


def measure_step(cfg: dict, batch: int, img_size: int, task: str = 'pretrain') -> int:
    """Measured peak bytes of a first training step above the weights held before it:
    forward, backward and an AdamW step that creates its states (CPU allocation records)."""
    from benchmark_utils import peak_memory
    torch.manual_seed(0)
    model = build(cfg)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, foreach=False)
    images, samples = task_batch(task, batch, img_size)
    model.train()

    def step():
        model.loss(images, samples)['loss'].backward()
        optimizer.step()

    return peak_memory(step)


def predict_step(cfg: dict, batch: int, img_size: int, activations: ActivationModel) -> float:
    """The model's prediction of :func:`measure_step` (weights excluded: held before)."""
    params = count_parameters(cfg)
    arch = cfg['backbone']['arch']
    per_image = activations.per_image(arch['embed_dims'], cfg['backbone']['with_cp'])
    parts = step_memory(params, per_image, batch, ddp=False, foreach=False)
    return parts['peak'] - parts['weights']


def check(task: str) -> None:
    """Prints predicted and measured peaks of small models (the tables in docs/memory.md)."""
    from benchmark_utils import format_table, machine_summary
    print(machine_summary())
    rows = []
    for size, window, depths, batch, width in ((96, 6, (2, 2, 2, 2), 8, 48),
                                               (192, 12, (2, 2, 2, 2), 4, 96)):
        activations = fit_activations(depths, size, window, task=task)  # widths 32 and 64
        for with_cp in (False, True):
            cfg = model_config(task, width, depths, size, window, with_cp=with_cp)
            predicted = predict_step(cfg, batch, size, activations)
            measured = measure_step(cfg, batch, size, task)
            rows.append([f'width {width}, depths {list(depths)}, {size} px, window {window}',
                         batch, with_cp, f'{predicted / 2**20:.0f}', f'{measured / 2**20:.0f}',
                         f'{predicted / measured - 1:+.1%}'])
    model = 'SimMIM' if task == 'pretrain' else 'classifier'
    print(format_table([f'model ({model}, fp32)', 'batch', 'checkpointing', 'predicted MiB',
                        'measured MiB', 'error'], rows))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--task', choices=sorted(TASKS), default='pretrain',
                        help='SimMIM pre-training (192 px, window 12) or ImageNet-1K '
                        'fine-tuning (224 px, window 14)')
    parser.add_argument('--gpus', type=int, default=32, help='ranks sharing the AdamW states')
    parser.add_argument('--batch', type=int, nargs=5, metavar=('S', 'B', 'L', 'H', 'G'),
                        help='per-GPU batch of each model (default: the configs\')')
    parser.add_argument('--img-size', type=int, help='default: the task\'s')
    parser.add_argument('--check', action='store_true',
                        help='compare the model with measured peaks of small CPU models')
    args = parser.parse_args()
    task = TASKS[args.task]
    if args.check:
        check(args.task)
    else:
        print(table(dict(zip(STUDY_ARCHS, args.batch or task['batches'])), args.gpus,
                    args.img_size or task['img_size'], task['window_size'], task=args.task))


if __name__ == '__main__':
    main()
