"""Evaluate a checkpoint on the test set of any mim_scaling config (classification,
detection, segmentation or pre-training); the config's ``default_scope`` decides the library.

Usage::

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out RESULTS.pkl]
        [--cfg-options KEY=VALUE ...] [--launcher {none,pytorch,slurm,mpi}]
    bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [options as above]

The metrics of the config's ``test_evaluator`` are logged to ``--work-dir`` (else the
config's ``work_dir``, else ``./work_dirs/<config name>``). ``--out`` also dumps every
prediction (mmengine's ``DumpResults``) to a pickle file. The checkpoint is loaded with
PyTorch's safe ``weights_only`` loading (see ``mim_scaling.safe_loading``), and must hold
every weight of the model in its shape (e.g. the SimMIM decoder for a pre-training config):
otherwise the Runner stops with an error saying what is missing, before evaluating (whichever
tool builds it: mmpretrain's, mmdet's and mmseg's ``tools/test.py`` too).
"""
import argparse

from mmengine.evaluator import DumpResults

from cli_config import add_common_args, build_runner, load_config


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Test a checkpoint with an mim_scaling config.',
        epilog='Run under torchrun with tools/dist_test.sh CONFIG CHECKPOINT GPUS [options].')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file (or URL)')
    parser.add_argument('--out', metavar='RESULTS.pkl',
                        help='also dump the predictions to this pickle file')
    add_common_args(parser)
    args = parser.parse_args(argv)
    if args.out is not None and not args.out.endswith(('.pkl', '.pickle')):
        parser.error(f'--out must name a .pkl or .pickle file, got {args.out}')
    return args


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args)
    cfg.load_from = args.checkpoint

    runner = build_runner(cfg)
    if args.out is not None:
        runner.test_evaluator.metrics.append(DumpResults(out_file_path=args.out))
    runner.test()


if __name__ == '__main__':
    main()
