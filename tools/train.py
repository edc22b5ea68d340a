"""Train from any mim_scaling config: SimMIM pre-training or transfer to classification,
detection and segmentation. The config's ``default_scope`` (mmpretrain, mmdet, mmseg)
decides the library; an mmengine Runner (or the config's ``runner_type``) runs it.

Usage::

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CHECKPOINT]] [--amp]
        [--auto-scale-lr] [--cfg-options KEY=VALUE ...] [--launcher {none,pytorch,slurm,mpi}]
    bash tools/dist_train.sh CONFIG GPUS [options as above]

Examples::

    python tools/train.py configs/pretrain/simmim_swinv2-b_125k_in1k.py
    python tools/train.py CONFIG --resume                   # latest checkpoint of the work dir
    python tools/train.py CONFIG --resume work_dirs/x/iter_5000.pth
    bash tools/dist_train.sh CONFIG 2 --cfg-options env_cfg.dist_cfg.backend=gloo  # CPU only

Logs and checkpoints go to ``--work-dir``, else the config's ``work_dir``, else
``./work_dirs/<config name>``. ``--amp`` switches to mmengine's ``AmpOptimWrapper`` with a
dynamic loss scale; it needs a CUDA (or NPU/MLU/MUSA) device and stops with an error
otherwise rather than silently training in fp32. Checkpoints are loaded with PyTorch's safe
``weights_only`` loading (see ``mim_scaling.safe_loading``).
"""
import argparse

from mmengine.device import (is_cuda_available, is_mlu_available, is_musa_available,
                             is_npu_available)
from mmengine.logging import print_log

from runner_setup import add_common_args, build_runner, load_config

from mim_scaling.engine.checkpoint_integrity import checkpoint_problem, find_resumable_checkpoint


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Train a model from an mim_scaling config.',
        epilog='Run under torchrun with tools/dist_train.sh CONFIG GPUS [options].')
    parser.add_argument('config', help='config file')
    parser.add_argument(
        '--resume', nargs='?', const='auto', metavar='CHECKPOINT',
        help='resume from CHECKPOINT, or, given without a value, from the latest checkpoint '
        'in the work dir (a fresh start when there is none)')
    parser.add_argument(
        '--amp', action='store_true',
        help='automatic mixed precision (AmpOptimWrapper, dynamic loss scale); needs a GPU')
    parser.add_argument(
        '--auto-scale-lr', action='store_true',
        help='scale the learning rate by the total batch size over the config\'s '
        'auto_scale_lr.base_batch_size')
    add_common_args(parser)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args)

    if args.amp:
        if not (is_cuda_available() or is_npu_available() or is_mlu_available()
                or is_musa_available()):
            raise SystemExit('tools/train.py: --amp needs a CUDA, NPU, MLU or MUSA device and '
                             'none is available here; drop --amp to train in fp32.')
        if cfg.optim_wrapper.get('type') == 'AmpOptimWrapper':
            print_log('The config already uses AmpOptimWrapper; --amp changes nothing.',
                      logger='current')
        else:
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.loss_scale = 'dynamic'
            # The dynamic loss scale skips steps with non-finite gradients by itself.
            cfg.optim_wrapper.pop('non_finite', None)

    if args.auto_scale_lr:
        if cfg.get('auto_scale_lr', {}).get('base_batch_size') is None:
            raise SystemExit('tools/train.py: --auto-scale-lr needs '
                             'auto_scale_lr=dict(base_batch_size=...) in the config.')
        cfg.auto_scale_lr.enable = True

    if args.resume == 'auto':
        # The newest intact checkpoint of the work dir; newer unreadable ones are named.
        cfg.load_from = find_resumable_checkpoint(cfg.work_dir)
        cfg.resume = cfg.load_from is not None
    elif args.resume is not None:
        problem = None if '://' in args.resume else checkpoint_problem(args.resume)
        if problem:
            raise SystemExit(f'tools/train.py: cannot resume from {args.resume}: {problem}.')
        cfg.resume, cfg.load_from = True, args.resume

    build_runner(cfg).train()


if __name__ == '__main__':
    main()
