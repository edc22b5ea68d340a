"""Run a grid of the study: each pre-training, then its ImageNet-1K fine-tuning from the
pre-training's final checkpoint, and collect the results in one table.

Usage::

    python tools/sweep.py [--grid GRID_FILE] [--models M ...] [--data D ...] [--lengths L ...]
        [--launcher {dist,slurm,local}] [--run] [--gpus N [--scale-lr]] [--gpus-per-node N]
        [--master-addr HOST] [--partition P] [--time LIMIT]
        [--images-per-second N] [--price-per-gpu-hour PRICE]
        [--work-root DIR] [--out-dir DIR] [--pretrain-only]
        [--cfg-options KEY=VALUE ...] [--finetune-cfg-options KEY=VALUE ...]

Examples::

    # dry run (the default): the commands of the SwinV2-B rows on 10% of ImageNet-1K, with
    # the images, GPU-hours and cost of each run and of all
    python tools/sweep.py --models b --data in1k-10pct --images-per-second 900 \\
        --price-per-gpu-hour 2.5
    # run them, one job after another, each through tools/dist_train.sh on the GPUs of its
    # config's total batch (2048 = 16 x 128 for SwinV2-B: 2 nodes of 8 GPUs, printed as one
    # command per node; --run runs single-node jobs only)
    python tools/sweep.py --models b --data in1k-10pct --gpus 8 --run
    # or submit them to slurm: sbatch jobs with a time limit, requeue and the early signal,
    # each fine-tuning waiting for its pre-training (--dependency=afterok)
    python tools/sweep.py --models b --launcher slurm --partition gpu --time 3-00:00:00 --run
    # a grid of one's own configs, run in this process on the CPU (the README's miniature)
    python tools/sweep.py --grid configs/demo/sweep_grid_lfw.py --launcher local --run \\
        --work-root work_dirs/study_lfw

Without ``--grid`` the grid is the released model zoo (``mim_scaling.zoo``: models s b l h
g, data in1k-10pct in1k-20pct in1k-50pct in1k in22k, lengths 125k 250k 500k). A run whose
final checkpoint is in its work dir is skipped; every command carries ``--resume``, so one
stopped half-way continues from its last checkpoint. Work dirs:
``<work-root>/<pre-training config name>`` and
``<work-root>/<fine-tuning config name>/<pre-training config name>`` (``<model>-from-scratch``
for the fine-tunings without pre-training that a grid file's ``from_scratch = True`` adds).

``--gpus N`` keeps each config's total batch (``auto_scale_lr.base_batch_size``): with more
GPUs than the config plans, through a smaller per-GPU batch; with fewer, through gradient
accumulation (``optim_wrapper.accumulative_counts``) for epoch-based schedules and a larger
per-GPU batch for iteration-based ones; each job's line says which. ``--scale-lr`` keeps
the per-GPU batch instead and rescales the lr (``tools/train.py --auto-scale-lr``).

The estimates take the training images/s per GPU from ``--images-per-second`` or from the
table "Training throughput per GPU" of ``docs/benchmarks.md`` (measured figures only: a
config without one has no GPU-hours). A dry run writes nothing; ``--run`` ends by writing
the results of the selection, the zoo file's columns next to the released figures, to
``<out-dir>/results.csv`` and ``results.md`` (``tools/analysis/plot_study.py`` draws the
study's figures from the CSV). Run it from the repository root; config paths are relative
to it.
"""
import argparse
import math
import os
import shlex
import subprocess
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

from mim_scaling.engine.hooks import PREEMPTED_EXIT_STATUS, Preempted
from mim_scaling.study import (StudyRun, collect_results, final_checkpoint, grid_from_file,
                               read_run_config, results_markdown, write_results, zoo_grid)
from mim_scaling.study.estimates import (BENCHMARKS, RunEstimate, estimate, find_throughput,
                                         read_throughputs)

TOOLS = Path(__file__).resolve().parent
# Placeholder of a pre-training's job id in the printed sbatch command of its fine-tuning.
PRETRAIN_JOB_ID = 'PRETRAIN_JOB_ID'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Print, launch or run locally the pre-trainings and fine-tunings of a '
        'grid of the study, skipping finished runs, with what they cost, and collect their '
        'results.')
    parser.add_argument('--grid', help='grid file naming config templates (default: the '
                        'released model zoo)')
    parser.add_argument('--models', nargs='+', help='models to run (default: all)')
    parser.add_argument('--data', nargs='+', help='pre-training data sets (default: all)')
    parser.add_argument('--lengths', nargs='+', help='schedule lengths (default: all)')
    parser.add_argument('--launcher', choices=('dist', 'slurm', 'local'), default='dist',
                        help='dist: tools/dist_train.sh, one command per node; slurm: sbatch '
                        'jobs of tools/slurm_train.sh; local: tools/train.py in this process, '
                        'one run after another')
    parser.add_argument('--run', action='store_true',
                        help='run or submit the commands (default: only print them)')
    parser.add_argument('--gpus', type=int,
                        help='GPUs per job for dist and slurm (default: what each config\'s '
                        'total batch needs, auto_scale_lr.base_batch_size / batch_size); the '
                        'total batch is kept, through the per-GPU batch or gradient '
                        'accumulation, unless --scale-lr')
    parser.add_argument('--scale-lr', action='store_true',
                        help='with --gpus: keep the per-GPU batch instead and rescale the lr '
                        'to the new total batch (tools/train.py --auto-scale-lr)')
    parser.add_argument('--gpus-per-node', type=int, default=8,
                        help='GPUs of a node (default 8): a job over more spans several nodes')
    parser.add_argument('--master-addr', help='dist over several nodes: the host of node 0 '
                        '(default: $MASTER_ADDR of each node\'s shell)')
    parser.add_argument('--partition', help='slurm partition')
    parser.add_argument('--time', help='slurm time limit of every job (slurm\'s format, e.g. '
                        '2-00:00:00; default: the estimate x 1.25 + 30 minutes; a job that '
                        'reaches it saves a checkpoint and is requeued)')
    parser.add_argument('--images-per-second', type=float, metavar='N',
                        help='training images/s per GPU for the estimates (default: the '
                        'measured figure of docs/benchmarks.md for the config, if any)')
    parser.add_argument('--price-per-gpu-hour', type=float, metavar='PRICE',
                        help='adds the cost to the estimates')
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
    if args.launcher == 'local' and args.gpus is not None:
        parser.error('--gpus is for --launcher dist and slurm; local runs one process')
    for name in ('gpus', 'gpus_per_node'):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f'--{name.replace("_", "-")} must be at least 1')
    if args.scale_lr and args.gpus is None:
        parser.error('--scale-lr goes with --gpus')
    if args.images_per_second is not None and args.images_per_second <= 0:
        parser.error('--images-per-second must be positive')
    return args


def _layout(gpus: int, per_gpu: int, steps: int) -> str:
    accumulated = f' x {steps} accumulated steps' if steps > 1 else ''
    return f'{gpus} GPU{"s" if gpus > 1 else ""} x {per_gpu}{accumulated}'


@dataclass
class BatchPlan:
    """How a job makes its total batch: GPUs, and what changes from the config."""
    gpus: int
    total: int
    cfg_options: Tuple[str, ...] = ()
    train_args: Tuple[str, ...] = ()
    note: str = ''  # what changed and how, for the printout


def batch_plan(args, config: str, cfg_options) -> BatchPlan:
    """The GPUs of a job and how it keeps the config's total batch on them.

    Each config states its total batch as ``auto_scale_lr.base_batch_size`` and its
    per-GPU batch as ``train_dataloader.batch_size`` (e.g. 2048 = 16 x 128 for SwinV2-B,
    32 x 64 for SwinV2-L); without --gpus a job gets the GPUs that make it.
    """
    cfg = read_run_config(config, tuple(cfg_options))
    per_gpu = cfg.train_dataloader.batch_size
    steps = (cfg.get('optim_wrapper') or {}).get('accumulative_counts', 1)
    if args.launcher == 'local':
        return BatchPlan(1, per_gpu * steps)
    total = (cfg.get('auto_scale_lr') or {}).get('base_batch_size')
    if not total or total % (per_gpu * steps):
        raise SystemExit(f'tools/sweep.py: {config} does not state a total batch that its '
                         f'batch size {per_gpu} divides (auto_scale_lr.base_batch_size); '
                         'give --gpus with --scale-lr')
    config_gpus = total // (per_gpu * steps)
    gpus = args.gpus or config_gpus
    was = f'(config: {_layout(config_gpus, per_gpu, steps)})'
    if gpus == config_gpus:
        return BatchPlan(gpus, total)
    if args.scale_lr:
        new_total = gpus * per_gpu * steps
        return BatchPlan(gpus, new_total, train_args=('--auto-scale-lr', ), note=(
            f'total batch {new_total} = {_layout(gpus, per_gpu, steps)} instead of {total} '
            f'{was}, lr scaled by {new_total}/{total} (--auto-scale-lr)'))
    # Fewer GPUs: keep the per-GPU batch the config was sized for and accumulate gradients.
    # Only epoch-based schedules: under accumulation mmengine counts micro-batches as
    # iterations (and steps the lr schedule on each), so an iteration-based schedule would
    # end after a fraction of its images.
    epoch_based = 'max_epochs' in (cfg.get('train_cfg') or {})
    if epoch_based and gpus < config_gpus and total % (gpus * per_gpu) == 0:
        accumulate = total // (gpus * per_gpu)
        return BatchPlan(gpus, total, (f'optim_wrapper.accumulative_counts={accumulate}', ),
                         note=f'total batch {total} kept by gradient accumulation: '
                         f'{_layout(gpus, per_gpu, accumulate)} {was}')
    if total % (gpus * steps) == 0:
        new_per_gpu = total // (gpus * steps)
        note = (f'total batch {total} kept by the per-GPU batch: '
                f'{_layout(gpus, new_per_gpu, steps)} {was}')
        if new_per_gpu > per_gpu:
            note += (f'; {new_per_gpu} images per GPU need more memory than {per_gpu}: if '
                     'they do not fit, add memory_saving.with_cp=True to the options')
        return BatchPlan(gpus, total, (f'train_dataloader.batch_size={new_per_gpu}', ),
                         note=note)
    raise SystemExit(f'tools/sweep.py: --gpus {gpus} cannot keep the total batch {total} of '
                     f'{config} ({_layout(config_gpus, per_gpu, steps)}); give a number of '
                     'GPUs that divides it, or --scale-lr to change the total batch')


@dataclass
class Job:
    """One training of the sweep: a pre-training or a fine-tuning."""
    run: StudyRun
    stage: str  # 'pretrain' or 'finetune'
    config: str
    work_dir: str
    cfg_options: List[str]
    batch: BatchPlan
    estimate: RunEstimate
    throughput_source: str = ''
    finished: bool = False

    @property
    def name(self) -> str:
        return self.run.name if self.stage == 'pretrain' else f'ft_{self.run.name}'

    @property
    def label(self) -> str:
        return f'{self.stage} {self.run.name}'

    def nodes(self, gpus_per_node: int) -> Tuple[int, int]:
        """(nodes, GPUs per node) of the job."""
        gpus = self.batch.gpus
        if gpus <= gpus_per_node:
            return 1, gpus
        if gpus % gpus_per_node:
            raise SystemExit(f'tools/sweep.py: {self.label} needs {gpus} GPUs, which nodes of '
                             f'{gpus_per_node} (--gpus-per-node) cannot hold evenly; give '
                             '--gpus a multiple of --gpus-per-node')
        return gpus // gpus_per_node, gpus_per_node

    def train_args(self) -> List[str]:
        """tools/train.py's options after the config and the work dir."""
        options = ['--resume', *self.batch.train_args]  # --resume: continues a stopped run
        cfg_options = [*self.cfg_options, *self.batch.cfg_options]
        return options + (['--cfg-options', *cfg_options] if cfg_options else [])


def _throughput(args, config: str, table) -> Tuple[Optional[float], str]:
    if args.images_per_second is not None:
        return args.images_per_second, '--images-per-second'
    row = find_throughput(config, table)
    if row is None:
        return None, ''
    return row.images_per_second, f'{row.gpu}, docs/benchmarks.md'


def plan(args, runs) -> List[Job]:
    """The jobs of ``runs`` in the order they have to run, finished ones marked."""
    table = []
    if args.images_per_second is None and BENCHMARKS.is_file():
        table = read_throughputs(BENCHMARKS)
    jobs = []

    def add(run, stage, config, work_dir, cfg_options, batch_options, finished):
        batch = batch_plan(args, config, batch_options)
        images_per_second, source = _throughput(args, config, table)
        cfg = read_run_config(config, tuple(batch_options))
        jobs.append(Job(run, stage, config, str(work_dir), cfg_options, batch,
                        estimate(cfg, batch.total, batch.gpus, images_per_second,
                                 args.price_per_gpu_hour), source, finished))

    for run in runs:
        if not run.from_scratch:
            pretrain_dir = run.pretrain_work_dir(args.work_root)
            pretrained = final_checkpoint(run.pretrain_config, pretrain_dir, args.cfg_options)
            add(run, 'pretrain', run.pretrain_config, pretrain_dir, args.cfg_options,
                args.cfg_options, pretrained.exists())
        if run.finetune_config is None or args.pretrain_only:
            continue
        finetune_dir = run.finetune_work_dir(args.work_root)
        finished = final_checkpoint(run.finetune_config, finetune_dir,
                                    args.finetune_cfg_options).exists()
        # The one place the fine-tuning configs take the encoder from (configs/imagenet);
        # from scratch, the encoder keeps its random initialisation.
        options = [*args.finetune_cfg_options,
                   'model.backbone.init_cfg=None' if run.from_scratch else
                   f'model.backbone.init_cfg.checkpoint={pretrained}']
        add(run, 'finetune', run.finetune_config, finetune_dir, options,
            args.finetune_cfg_options, finished)
    return jobs


def time_limit(args, job: Job) -> Optional[str]:
    """The slurm time limit of ``job``: --time, else its estimate x 1.25 + 30 minutes;
    without either, None in a dry run and an error for --run."""
    if args.time:
        return args.time
    hours = job.estimate.hours
    if hours is None:
        if not args.run:
            return None
        why = ('its number of images is unknown' if job.estimate.images is None else
               'docs/benchmarks.md has no measured images/s per GPU for its config')
        raise SystemExit(f'tools/sweep.py: no time limit for {job.label}: {why}; pass '
                         '--images-per-second (a figure measured on your GPUs) or --time')
    minutes = math.ceil(hours * 60 * 1.25) + 30
    return f'{minutes // 1440}-{minutes % 1440 // 60:02d}:{minutes % 60:02d}:00'


def commands(args, job: Job, dependency: Optional[str] = None) -> List[List[str]]:
    """The command(s) that train ``job``: one, or one per node for dist over several."""
    config, work_dir = job.config, job.work_dir
    if args.launcher == 'local':
        return [[sys.executable, 'tools/train.py', config, '--work-dir', work_dir,
                 *job.train_args()]]
    nodes, per_node = job.nodes(args.gpus_per_node)
    if args.launcher == 'dist':
        command = ['bash', 'tools/dist_train.sh', config, str(per_node), '--work-dir',
                   work_dir, *job.train_args()]
        if nodes == 1:
            return [command]
        master = args.master_addr or '$MASTER_ADDR'
        return [['env', f'NNODES={nodes}', f'NODE_RANK={rank}', f'MASTER_ADDR={master}',
                 *command] for rank in range(nodes)]
    # tools/slurm_train.sh submits itself with sbatch, asking for the early signal and
    # requeue; --parsable makes sbatch print the job id that a fine-tuning waits for.
    sbatch_args = '--parsable' + (f' --dependency=afterok:{dependency}' if dependency else '')
    limit = time_limit(args, job)
    return [['env', f'GPUS={job.batch.gpus}', f'GPUS_PER_NODE={per_node}',
             *([f'TIME={limit}'] if limit else []), f'SBATCH_ARGS={sbatch_args}',
             'bash', 'tools/slurm_train.sh', args.partition, job.name, config, work_dir,
             *job.train_args()]]


def show(command: List[str]) -> str:
    """The command as a shell line; ``$MASTER_ADDR`` left for each node's shell to expand."""
    return shlex.join(command).replace("'MASTER_ADDR=$MASTER_ADDR'",
                                       'MASTER_ADDR="$MASTER_ADDR"')


def _images(n: int) -> str:
    return f'{n:,} images'


def describe(job: Job) -> str:
    """The job's GPUs, images, GPU-hours and cost, as one comment line."""
    e = job.estimate
    parts = [f'{e.gpus} GPU{"s" if e.gpus > 1 else ""}']
    if job.batch.note:
        parts.append(job.batch.note)
    parts.append('images unknown (no max_iters, and no training set to count)'
                 if e.images is None else _images(e.images))
    if e.images is not None:
        if e.gpu_hours is None:
            parts.append('GPU-hours unknown: docs/benchmarks.md has no measured images/s per '
                         'GPU for this config; pass --images-per-second')
        else:
            parts.append(f'{e.gpu_hours:,.1f} GPU-hours ({e.hours:,.1f} h on {e.gpus}) at '
                         f'{e.images_per_second:g} images/s per GPU ({job.throughput_source})')
            if e.cost is not None:
                parts.append(f'cost {e.cost:,.2f} at {e.price_per_gpu_hour:g} per GPU-hour')
    return f'# {job.label}: ' + '; '.join(parts)


def describe_total(jobs: List[Job]) -> str:
    """Images, GPU-hours and cost of the jobs still to run."""
    todo = [job for job in jobs if not job.finished]
    parts = [f'# total of {len(todo)} run{"s" if len(todo) != 1 else ""} to go']
    known = [job.estimate for job in todo if job.estimate.images is not None]
    if known:
        parts.append(_images(sum(e.images for e in known)))
    timed = [job.estimate for job in todo if job.estimate.gpu_hours is not None]
    if timed:
        parts.append(f'{sum(e.gpu_hours for e in timed):,.1f} GPU-hours')
        if all(e.cost is not None for e in timed):
            parts.append(f'cost {sum(e.cost for e in timed):,.2f}')
    missing = [job.label for job in todo if job.estimate.gpu_hours is None]
    if missing and timed:
        parts.append(f'without {len(missing)} run(s) that have no estimate: '
                     f'{", ".join(missing)}')
    elif missing:
        parts.append('no GPU-hours: no images/s per GPU figure (--images-per-second)')
    return ', '.join(parts[:1]) + (': ' + ', '.join(parts[1:]) if len(parts) > 1 else '')


def submit(command: List[str]) -> str:
    """Submits a job through tools/slurm_train.sh; its job id."""
    env = dict(os.environ)
    env.setdefault('PYTHON', sys.executable)  # the job's Python: this one
    env.pop('SLURM_JOB_ID', None)  # in an allocation the script would run, not submit
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise RuntimeError(f'sbatch failed ({result.returncode}): {result.stderr.strip()}')
    job_id = result.stdout.strip().split(';')[0]  # --parsable: "ID" or "ID;CLUSTER"
    if not job_id.isdigit():
        raise RuntimeError(f'sbatch printed {result.stdout!r}, not a job id')
    return job_id


def execute(args, command) -> int:
    """Runs one command; its exit status."""
    if args.launcher == 'local':
        if str(TOOLS) not in sys.path:
            sys.path.insert(0, str(TOOLS))
        import train  # tools/train.py, run in this process
        train.main(command[2:])
        return 0
    env = dict(os.environ)
    env.setdefault('PYTHON', sys.executable)  # the scripts' Python: this one
    return subprocess.run(command, env=env).returncode


def main(argv=None):
    args = parse_args(argv)
    selection = dict(models=args.models, data=args.data, lengths=args.lengths)
    try:
        runs = grid_from_file(args.grid, **selection) if args.grid else zoo_grid(**selection)
    except (ValueError, FileNotFoundError) as e:
        raise SystemExit(f'tools/sweep.py: {e}')
    configs = [run.pretrain_config for run in runs if not run.from_scratch]
    if not args.pretrain_only:
        configs += [run.finetune_config for run in runs if run.finetune_config]
    missing = sorted({c for c in configs if not Path(c).is_file()})
    if missing:
        raise SystemExit(f'tools/sweep.py: {len(missing)} config(s) of the selection do not '
                         f'exist (run from the repository root?): {", ".join(missing[:5])}')

    jobs = plan(args, runs)
    # Everything that can be refused is refused before the first job starts.
    pending = {job.run.name for job in jobs if job.stage == 'pretrain' and not job.finished}
    lines = {id(job): [show(c) for c in commands(
        args, job, PRETRAIN_JOB_ID if job.stage == 'finetune' and job.run.name in pending
        else None)] for job in jobs if not job.finished}
    several = [job.label for job in jobs if len(lines.get(id(job), ())) > 1]
    if args.run and several:
        raise SystemExit(f'tools/sweep.py: {", ".join(several)} span several nodes, which '
                         '--launcher dist cannot start from here: run the printed commands '
                         'on each node (without --run), or use --launcher slurm')

    failed, job_ids, preempted = set(), {}, False
    for job in jobs:
        if job.finished:
            print(f'# {job.label}: finished, skipped')
            continue
        print(describe(job))
        if args.run and job.run.name in failed:
            print(f'# {job.label}: skipped, its pre-training failed')
            continue
        if len(lines[id(job)]) > 1:
            print(f'# {len(lines[id(job)])} nodes: run line i on node i (NODE_RANK), with '
                  'MASTER_ADDR the host of node 0')
        if not args.run:
            print('\n'.join(lines[id(job)]), flush=True)
            continue
        dependency = job_ids.get(job.run.name) if job.stage == 'finetune' else None
        command, = commands(args, job, dependency)
        print(show(command), flush=True)
        try:
            if args.launcher == 'slurm':
                job_ids[job.run.name] = submit(command)
                print(f'# {job.label}: submitted as slurm job {job_ids[job.run.name]}')
                status = 0
            else:
                status = execute(args, command)
        except Preempted:  # --launcher local: the signal was meant for the whole sweep
            status = PREEMPTED_EXIT_STATUS
        except (Exception, SystemExit):  # one failed run must not stop the rest of the sweep
            traceback.print_exc()
            status = 1
        if status == PREEMPTED_EXIT_STATUS:
            # The job (and so the machine or allocation) is being taken away: starting the
            # next job would only be stopped in turn.
            print(f'# {job.label}: stopped by a preemption signal after saving a checkpoint; '
                  'the sweep stops too: run it again to continue', flush=True)
            preempted = True
            break
        if status:
            print(f'# {job.label}: FAILED', flush=True)
            failed.add(job.run.name)
    print(describe_total(jobs))

    results = collect_results(runs, args.work_root, args.cfg_options,
                              args.finetune_cfg_options)
    print(f'\n{results_markdown(results)}')
    if args.run:  # a dry run writes nothing
        out_dir = Path(args.out_dir or args.work_root)
        write_results(results, out_dir / 'results.csv', out_dir / 'results.md')
        print(f'Results: {out_dir / "results.csv"}, {out_dir / "results.md"}')
    if preempted:
        raise SystemExit(PREEMPTED_EXIT_STATUS)
    if failed:
        raise SystemExit(f'tools/sweep.py: {len(failed)} run(s) failed: '
                         f'{", ".join(sorted(failed))}')


if __name__ == '__main__':
    main()
