"""Train from any mim_scaling config: SimMIM pre-training or transfer to classification,
detection and segmentation. The config's ``default_scope`` (mmpretrain, mmdet, mmseg)
decides the library; the config's ``runner_type`` (``mim_scaling.Runner``) runs it.

Usage::

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CHECKPOINT]] [--amp]
        [--auto-scale-lr] [--cfg-options KEY=VALUE ...] [--launcher {none,pytorch,slurm,mpi}]
    bash tools/dist_train.sh CONFIG GPUS [options as above]

Examples::

    python tools/train.py configs/pretrain/simmim_swinv2-b_125k_in1k.py
    python tools/train.py CONFIG --resume                   # latest checkpoint of the work dir
    python tools/train.py CONFIG --resume work_dirs/x/iter_5000.pth
    bash tools/dist_train.sh CONFIG 2                      # 2 processes (gloo without GPU)

Logs and checkpoints go to ``--work-dir``, else the config's ``work_dir``, else
``./work_dirs/<config name>``. ``--amp`` switches to mmengine's ``AmpOptimWrapper`` with a
dynamic loss scale; it needs a CUDA (or NPU/MLU/MUSA) device, and the Runner stops with an
error otherwise rather than silently training in fp32. ``--resume`` without a value resumes
from the newest intact checkpoint of the work dir (the Runner's ``resume='auto'``), or, when
there is none, starts as the config says (from its ``load_from``, if any).
Checkpoints are loaded with PyTorch's safe ``weights_only`` loading (see
``mim_scaling.safe_loading``).
"""
import argparse

from mmengine.logging import print_log

from cli_config import add_common_args, build_runner, load_config


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Train a model from an mim_scaling config.',
        epilog='Run under torchrun with tools/dist_train.sh CONFIG GPUS [options].')
    parser.add_argument('config', help='config file')
    parser.add_argument(
        '--resume', nargs='?', const='auto', metavar='CHECKPOINT',
        help='resume from CHECKPOINT, or, given without a value, from the latest checkpoint '
        'in the work dir (when there is none, a start from the config\'s load_from, if any)')
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

    if args.resume == 'auto':  # the Runner finds the work dir's; load_from if none
        cfg.resume = 'auto'
    elif args.resume is not None:  # the Runner checks the file
        cfg.resume, cfg.load_from = True, args.resume

    build_runner(cfg).train()


if __name__ == '__main__':
    main()
