"""The whole SimMIM training step against the backbone's forward+backward, ours and timm's.

One training step is what the Runner runs per iteration: ``model.train_step(data,
optim_wrapper)`` with the config's model and optimizer wrapper (data preprocessor, encoder
with mask token, decoder, normalised target, L1 loss, backward, gradient clipping, AdamW
step). It is measured against the encoder's forward and backward alone on the same
preprocessed batch, and the same step with timm's SwinV2 as the encoder (timm has no mask
token: a thin adapter adds SimMIM's), all in one run with interleaved repeats
(``benchmark_utils``). Prints images/s, peak memory of a step and, on a GPU, the model FLOPs
utilisation: FLOPs of one step counted by ``torch.utils.flop_counter`` over the device's
dense peak (``--peak-tflops``; 989 for an H100's or H200's bf16)::

    python tools/benchmarks/benchmark_simmim.py --batch 8 --threads 2
    python tools/benchmarks/benchmark_simmim.py --device cuda --dtype bfloat16 --batch 128 \
        --compile mim_scaling
    # seconds on the CPU: the demo's tiny model
    python tools/benchmarks/benchmark_simmim.py --batch 2 --repeats 1 --warmup 1 \
        --config configs/demo/simmim_swinv2-demo_300it_skimage.py
"""
import argparse
import copy
import statistics

import timm
import torch
import torch.nn as nn
from benchmark_utils import Result, add_step_args, machine_summary, paired_ratios, \
    peak_memory, print_results, time_interleaved
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch.utils.flop_counter import FlopCounterMode

from mim_scaling.engine.hooks.eager_optimizer_hook import keep_update_eager
from mim_scaling.models.backbones import SwinV2

DEFAULT_CONFIG = 'configs/pretrain/simmim_swinv2-b_125k_in1k.py'
# Dense bf16/fp16 tensor-core peaks in TFLOP/s, by a word of the device name.
PEAK_TFLOPS = {'H100': 989.0, 'H200': 989.0, 'A100': 312.0}


class TimmSimMIMEncoder(nn.Module):
    """timm's SwinV2 as a SimMIM encoder: patch embedding, SimMIM's mask token, stages, norm.

    Drop-in for ``mim_scaling.SwinV2(use_mask_token=True, out_indices=(3,))`` in the
    benchmark: ``forward(x, mask)`` returns a 1-tuple with the last stage as NCHW.
    """

    def __init__(self, backbone_cfg):
        super().__init__()
        arch = SwinV2._arch_settings(backbone_cfg.arch)
        self.model = timm.models.swin_transformer_v2.SwinTransformerV2(
            img_size=backbone_cfg.img_size, window_size=backbone_cfg.window_size,
            patch_size=backbone_cfg.patch_size, embed_dim=arch['embed_dims'],
            depths=arch['depths'], num_heads=arch['num_heads'], num_classes=0,
            drop_path_rate=backbone_cfg.drop_path_rate)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, 1, arch['embed_dims']))
        nn.init.trunc_normal_(self.mask_token, std=.02)

    def forward(self, x, mask):
        x = self.model.patch_embed(x)  # (B, H, W, C)
        w = mask.unsqueeze(-1).to(x.dtype)
        x = x * (1 - w) + self.mask_token.to(x.dtype) * w
        x = self.model.norm(self.model.layers(x))
        return (x.permute(0, 3, 1, 2).contiguous(), )


def random_batch(batch: int, img_size: int, mask_patch: int = 32, ratio: float = 0.6,
                 patch: int = 4):
    """What the data loader hands the model: uint8 images and SimMIM masks (1 = masked)."""
    g = torch.Generator().manual_seed(0)
    grid = img_size // mask_patch
    inputs, samples = [], []
    for _ in range(batch):
        inputs.append(torch.randint(0, 256, (3, img_size, img_size), dtype=torch.uint8,
                                    generator=g))
        order = torch.randperm(grid * grid, generator=g)
        coarse = torch.zeros(grid * grid)
        coarse[order[:int(round(ratio * grid * grid))]] = 1
        scale = mask_patch // patch
        mask = coarse.view(grid, grid).repeat_interleave(scale, 0).repeat_interleave(scale, 1)
        samples.append(DataSample().set_mask(mask))
    # Batched as the configs' default_collate does.
    return dict(inputs=torch.stack(inputs), data_samples=samples)


def build(cfg: Config, device, dtype: str):
    """The config's SimMIM model on ``device`` and its optimizer wrapper (AMP if not fp32)."""
    model = MODELS.build(copy.deepcopy(cfg.model))
    model.init_weights()
    model.to(device)
    return model, optim_wrapper_for(model, cfg, dtype)


def optim_wrapper_for(model, cfg, dtype):
    optim_cfg = copy.deepcopy(cfg.optim_wrapper)
    if dtype != 'float32':
        optim_cfg.update(type='AmpOptimWrapper', dtype=dtype)
    return build_optim_wrapper(model, optim_cfg)


def count_flops(step) -> int:
    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops()


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--config', default=DEFAULT_CONFIG, help='a SimMIM pre-training config')
    parser.add_argument('--batch', type=int, default=8)
    add_step_args(parser)
    parser.add_argument('--impls', nargs='+', default=['mim_scaling', 'timm'],
                        choices=['mim_scaling', 'timm'], help='encoders of the SimMIM step')
    parser.add_argument('--compile', nargs='*', choices=['mim_scaling', 'timm'], metavar='IMPL',
                        help="also time torch.compile'd copies of these steps (no name: all), "
                        'compiled as the Runner does with compile=True (train_step)')
    parser.add_argument('--peak-tflops', type=float,
                        help='dense peak of the device for the dtype, for the MFU column '
                        '(default: known GPUs, e.g. 989 on an H100)')
    parser.add_argument('--no-memory', action='store_true', help='skip the peak-memory pass')
    parser.add_argument('--no-flops', action='store_true', help='skip the FLOP-counting pass')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    init_default_scope('mmpretrain')
    MMLogger.get_instance('benchmark_simmim', log_level='WARNING')  # no init_weights report
    import mim_scaling  # noqa: F401  (registers the backbone, target and algorithm)

    if args.compile is not None:
        # mmengine's step counter recompiles the step once: two compilations to warm up.
        args.warmup = max(args.warmup, 3)
    device = torch.device(args.device)
    cfg = Config.fromfile(args.config)
    autocast_dtype = getattr(torch, args.dtype)
    print(machine_summary(device))
    backbone_cfg = cfg.model.backbone
    print(f'{args.config}: SwinV2 {backbone_cfg.arch}, {backbone_cfg.img_size} px, window '
          f'{backbone_cfg.window_size}, batch {args.batch}, {args.dtype}; median of '
          f'{args.repeats} interleaved steps after {args.warmup}', flush=True)

    data = random_batch(args.batch, backbone_cfg.img_size)
    steps, flops = {}, {}
    for impl in args.impls:
        model, optim_wrapper = build(cfg, device, args.dtype)
        if impl == 'timm':
            model.backbone = TimmSimMIMEncoder(backbone_cfg)
            model.to(device)
            optim_wrapper = optim_wrapper_for(model, cfg, args.dtype)
        model.train()
        if impl == 'mim_scaling':
            # The encoder alone, on the batch the preprocessor makes of the same data.
            preprocessed = model.data_preprocessor(copy.copy(data), True)
            x = preprocessed['inputs']
            mask = torch.stack([s.mask for s in preprocessed['data_samples']]).to(device)
            backbone = model.backbone

            def backbone_step(backbone=backbone, x=x, mask=mask):
                with torch.autocast(device.type, dtype=autocast_dtype,
                                    enabled=args.dtype != 'float32'):
                    out = backbone(x, mask)[0]
                out.float().mean().backward()
                backbone.zero_grad(set_to_none=True)

            steps['mim_scaling backbone fwd+bwd'] = backbone_step

        def train_step(model=model, optim_wrapper=optim_wrapper):
            model.train_step(data, optim_wrapper)

        name = f'{impl} SimMIM step'
        steps[name] = train_step
        if not args.no_flops:
            flops[name] = count_flops(train_step)
        if args.compile is not None and (not args.compile or impl in args.compile):
            # As tools/train.py runs compile=True: mmengine's Runner compiles the model's
            # train_step, and the optimizer update stays eager.
            keep_update_eager(optim_wrapper)
            compiled_train_step = torch.compile(model.train_step)

            def compiled_step(fn=compiled_train_step, optim_wrapper=optim_wrapper):
                fn(data, optim_wrapper)

            steps[name + ' +compile'] = compiled_step
            if name in flops:
                flops[name + ' +compile'] = flops[name]
    if 'mim_scaling backbone fwd+bwd' in steps and not args.no_flops:
        flops['mim_scaling backbone fwd+bwd'] = count_flops(steps['mim_scaling backbone fwd+bwd'])

    peak = args.peak_tflops
    if peak is None and device.type == 'cuda':
        name = torch.cuda.get_device_name(device)
        peak = next((v for k, v in PEAK_TFLOPS.items() if k in name), None)
    memory = {}
    if not args.no_memory:
        for name, step in steps.items():
            step()
            memory[name] = peak_memory(step, device)
            print(f'peak memory measured: {name}', flush=True)
    times = time_interleaved(steps, args.repeats, args.warmup, device)
    results = []
    for name, seconds in times.items():
        result = Result(name, seconds, args.batch, memory.get(name))
        if name in flops:
            result.extra['GFLOP/step'] = f'{flops[name] / 1e9:.1f}'
            result.extra['TFLOP/s'] = f'{flops[name] / result.median / 1e12:.3g}'
            if peak:
                result.extra['MFU'] = f'{flops[name] / result.median / 1e12 / peak:.1%}'
        results.append(result)
    print_results(results)
    if 'mim_scaling SimMIM step' in times and 'mim_scaling backbone fwd+bwd' in times:
        step, backbone = times['mim_scaling SimMIM step'], times['mim_scaling backbone fwd+bwd']
        extra = statistics.median(step) / statistics.median(backbone) - 1
        paired = [1 / r - 1 for r in paired_ratios(step, backbone)][::-1]
        print(f'The SimMIM step costs {extra:+.1%} time over the backbone forward+backward '
              f'(ratio of the medians); {statistics.median(paired):+.1%} as the median of the '
              f'repeats, each step against the backbone pass timed just before it '
              f'({paired[0]:+.1%} to {paired[-1]:+.1%}).')


if __name__ == '__main__':
    main()
