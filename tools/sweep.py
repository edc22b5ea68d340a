"""Run a grid of the study: each pre-training, then its ImageNet-1K fine-tuning from the
pre-training's final checkpoint, and collect the results in one table.

Usage::

    python tools/sweep.py [--grid GRID_FILE] [--models M ...] [--data D ...] [--lengths L ...]
        [--launcher {dist,slurm,local}] [--run] [--gpus N] [--partition P]
        [--work-root DIR] [--out-dir DIR] [--pretrain-only]
        [--cfg-options KEY=VALUE ...] [--finetune-cfg-options KEY=VALUE ...]

Examples::

    # dry run (the default): print the commands of the SwinV2-B rows on 10% of ImageNet-1K
    python tools/sweep.py --models b --data in1k-10pct
    # run them, one job after another, each through tools/dist_train.sh on the GPUs of its
    # config's total batch (2048 = 16 x 128 for SwinV2-B)
    python tools/sweep.py --models b --data in1k-10pct --run
    # or through slurm (srun waits for each job)
    python tools/sweep.py --models b --launcher slurm --partition gpu --run
    # a grid of one's own configs, run in this process on the CPU (the README's miniature)
    python tools/sweep.py --grid configs/demo/sweep_grid_skimage.py --launcher local --run \\
        --work-root work_dirs/study_demo

Without ``--grid`` the grid is the released model zoo (``mim_scaling.zoo``: models s b l h
g, data in1k-10pct in1k-20pct in1k-50pct in1k in22k, lengths 125k 250k 500k). A run whose
final checkpoint is in its work dir is skipped; every command carries ``--resume``, so one
stopped half-way continues from its last checkpoint. Work dirs:
``<work-root>/<pre-training config name>`` and
``<work-root>/<fine-tuning config name>/<pre-training config name>``.

Whatever it runs, the sweep ends by writing the results of the selection, the zoo file's
columns next to the released figures, to ``<out-dir>/results.csv`` and ``results.md``
(``tools/analysis/plot_study.py`` draws the study's figures from the CSV). Run it from the
repository root; config paths are relative to it.
"""
import argparse
import os
import shlex
import subprocess
import sys
import traceback
from pathlib import Path

from mim_scaling.study import (collect_results, final_checkpoint, grid_from_file,
                               read_run_config, results_markdown, write_results, zoo_grid)

TOOLS = Path(__file__).resolve().parent


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Print, launch or run locally the pre-trainings and fine-tunings of a '
        'grid of the study, skipping finished runs, and collect their results.')
    parser.add_argument('--grid', help='grid file naming config templates (default: the '
                        'released model zoo)')
    parser.add_argument('--models', nargs='+', help='models to run (default: all)')
    parser.add_argument('--data', nargs='+', help='pre-training data sets (default: all)')
    parser.add_argument('--lengths', nargs='+', help='schedule lengths (default: all)')
    parser.add_argument('--launcher', choices=('dist', 'slurm', 'local'), default='dist',
                        help='dist: tools/dist_train.sh; slurm: tools/slurm_train.sh; '
                        'local: tools/train.py in this process, one run after another')
    parser.add_argument('--run', action='store_true',
                        help='run the commands (default: only print them)')
    parser.add_argument('--gpus', type=int,
                        help='GPUs per job for dist and slurm (default: what each config\'s '
                        'total batch needs, auto_scale_lr.base_batch_size / batch_size)')
    parser.add_argument('--gpus-per-node', type=int, default=8, help='slurm: GPUs per node')
    parser.add_argument('--partition', help='slurm partition')
    parser.add_argument('--work-root', default='work_dirs',
                        help='directory holding the work dirs (default: work_dirs)')
    parser.add_argument('--out-dir', help='where results.csv/.md go (default: --work-root)')
    parser.add_argument('--pretrain-only', action='store_true',
                        help='leave out the fine-tunings')
    parser.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
                        help='passed to every pre-training (tools/train.py --cfg-options)')
    parser.add_argument('--finetune-cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
                        help='passed to every fine-tuning')
    args = parser.parse_args(argv)
    if args.launcher == 'slurm' and not args.partition:
        parser.error('--launcher slurm needs --partition')
    if args.gpus is not None and args.gpus < 1:
        parser.error('--gpus must be at least 1')
    return args


def config_gpus(config, cfg_options):
    """The GPUs that give the config's total batch: each config states it as
    ``auto_scale_lr.base_batch_size`` and its per-GPU batch as ``train_dataloader.batch_size``
    (e.g. 2048 = 16 x 128 for SwinV2-B, 32 x 64 for SwinV2-L)."""
    cfg = read_run_config(config, tuple(cfg_options))
    total = (cfg.get('auto_scale_lr') or {}).get('base_batch_size')
    per_gpu = cfg.train_dataloader.batch_size
    if not total or total % per_gpu:
        raise SystemExit(f'tools/sweep.py: {config} does not state a total batch that its '
                         f'batch size {per_gpu} divides (auto_scale_lr.base_batch_size); '
                         'give --gpus')
    return total // per_gpu


def train_command(args, config, work_dir, cfg_options, job_name):
    """The command that trains ``config`` into ``work_dir`` with the chosen launcher."""
    options = ['--resume']  # continues a stopped run; a fresh start when there is nothing
    if cfg_options:
        options += ['--cfg-options', *cfg_options]
    if args.launcher == 'local':
        return [sys.executable, 'tools/train.py', config, '--work-dir', work_dir, *options]
    gpus = args.gpus or config_gpus(config, cfg_options)
    if args.launcher == 'dist':
        return ['bash', 'tools/dist_train.sh', config, str(gpus), '--work-dir', work_dir,
                *options]
    return ['env', f'GPUS={gpus}', f'GPUS_PER_NODE={min(gpus, args.gpus_per_node)}',
            'bash', 'tools/slurm_train.sh', args.partition, job_name, config, work_dir,
            *options]


def plan(args, runs):
    """[(run, stage, command or None when finished)] in the order they have to run."""
    jobs = []
    for run in runs:
        pretrain_dir = run.pretrain_work_dir(args.work_root)
        pretrained = final_checkpoint(run.pretrain_config, pretrain_dir, args.cfg_options)
        jobs.append((run, 'pretrain', None if pretrained.exists() else train_command(
            args, run.pretrain_config, str(pretrain_dir), args.cfg_options, run.name)))
        if run.finetune_config is None or args.pretrain_only:
            continue
        finetune_dir = run.finetune_work_dir(args.work_root)
        finished = final_checkpoint(run.finetune_config, finetune_dir,
                                    args.finetune_cfg_options).exists()
        # The one place the fine-tuning configs take the encoder from (configs/imagenet).
        options = [*args.finetune_cfg_options,
                   f'model.backbone.init_cfg.checkpoint={pretrained}']
        jobs.append((run, 'finetune', None if finished else train_command(
            args, run.finetune_config, str(finetune_dir), options, f'ft_{run.name}')))
    return jobs


def execute(args, command):
    """Runs one command; True when it succeeded."""
    if args.launcher == 'local':
        if str(TOOLS) not in sys.path:
            sys.path.insert(0, str(TOOLS))
        import train  # tools/train.py, run in this process
        train.main(command[2:])
        return True
    env = dict(os.environ)
    env.setdefault('PYTHON', sys.executable)  # the scripts' Python: this one
    return subprocess.run(command, env=env).returncode == 0


def main(argv=None):
    args = parse_args(argv)
    selection = dict(models=args.models, data=args.data, lengths=args.lengths)
    try:
        runs = grid_from_file(args.grid, **selection) if args.grid else zoo_grid(**selection)
    except (ValueError, FileNotFoundError) as e:
        raise SystemExit(f'tools/sweep.py: {e}')
    configs = [run.pretrain_config for run in runs]
    if not args.pretrain_only:
        configs += [run.finetune_config for run in runs if run.finetune_config]
    missing = sorted({c for c in configs if not Path(c).is_file()})
    if missing:
        raise SystemExit(f'tools/sweep.py: {len(missing)} config(s) of the selection do not '
                         f'exist (run from the repository root?): {", ".join(missing[:5])}')

    failed = set()
    for run, stage, command in plan(args, runs):
        if command is None:
            print(f'# {stage} {run.name}: finished, skipped')
            continue
        if args.run and run.name in failed:
            print(f'# {stage} {run.name}: skipped, its pre-training failed')
            continue
        print(shlex.join(command), flush=True)
        if not args.run:
            continue
        try:
            ok = execute(args, command)
        except (Exception, SystemExit):  # one failed run must not stop the rest of the sweep
            traceback.print_exc()
            ok = False
        if not ok:
            print(f'# {stage} {run.name}: FAILED', flush=True)
            failed.add(run.name)

    results = collect_results(runs, args.work_root, args.cfg_options,
                              args.finetune_cfg_options)
    out_dir = Path(args.out_dir or args.work_root)
    write_results(results, out_dir / 'results.csv', out_dir / 'results.md')
    print(f'\n{results_markdown(results)}\nResults: {out_dir / "results.csv"}, '
          f'{out_dir / "results.md"}')
    if failed:
        raise SystemExit(f'tools/sweep.py: {len(failed)} run(s) failed: '
                         f'{", ".join(sorted(failed))}')


if __name__ == '__main__':
    main()
