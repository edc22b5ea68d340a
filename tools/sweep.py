"""Run a grid of the study: each pre-training, then its ImageNet-1K fine-tuning from the
pre-training's final checkpoint, and collect the results in one table.

Usage::

    python tools/sweep.py [--grid GRID_FILE] [--models M ...] [--data D ...] [--lengths L ...]
        [--launcher {dist,slurm,local}] [--run | --status] [--gpus N [--scale-lr]]
        [--gpus-per-node N] [--master-addr HOST] [--partition P] [--time LIMIT]
        [--images-per-second N | --throughputs TSV [--gpu-type NAME]]
        [--price-per-gpu-hour PRICE]
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
    # where each run stands: queued, running at iteration N (and when it should end),
    # finished, failed with its error line
    python tools/sweep.py --models b --status
    # a grid of one's own configs, run in this process on the CPU (the README's miniature)
    python tools/sweep.py --grid configs/demo/sweep_grid_lfw.py --launcher local --run \\
        --work-root work_dirs/study_lfw

Without ``--grid`` the grid is the released model zoo (``mim_scaling.zoo``: models s b l h
g, data in1k-10pct in1k-20pct in1k-50pct in1k in22k, lengths 125k 250k 500k). Before
anything is submitted or started, every config of the sweep, with its options, is checked
as the Runner would check it when built (``mim_scaling.engine.config.check_config``:
misspelt keys, sizes that do not fit, ...); one problem stops the whole sweep.

Each submission or start is recorded in the ledger of the run's work dir,
``sweep_jobs.json`` (``mim_scaling.study.ledger``), and every sweep reads it first: a run
whose final checkpoint is in its work dir is finished; one whose slurm job is queued or
running (``squeue``), or whose process still runs, is not submitted or started again (a
fine-tuning then waits for the pre-training's job); a failed, cancelled or stopped one is,
and its command's ``--resume`` continues it from its last checkpoint. Work dirs:
``<work-root>/<pre-training config name>`` and
``<work-root>/<fine-tuning config name>/<pre-training config name>`` (``<model>-from-scratch``
for the fine-tunings without pre-training that a grid file's ``from_scratch = True`` adds).

``--gpus N`` keeps each config's total batch (``auto_scale_lr.base_batch_size``): with more
GPUs than the config plans, through a smaller per-GPU batch; with fewer, through gradient
accumulation (``optim_wrapper.accumulative_counts``) for epoch-based schedules and a larger
per-GPU batch for iteration-based ones; each job's line says which. ``--scale-lr`` keeps
the per-GPU batch instead and rescales the lr (``tools/train.py --auto-scale-lr``).
Accumulation on an iteration-based pre-training (``optim_wrapper.accumulative_counts`` in
the config or the options) is refused: mmengine counts each micro-batch as an iteration,
so the run would train on a fraction of the images that the grid counts for it.

The estimates price each run at the measured training images/s per GPU of its model, task
(pre-training or fine-tuning) and image size, from ``mim_scaling/study/throughputs.tsv``
(or ``--throughputs``, a table of the same columns measured on one's own GPUs; ``--gpu-type``
picks one GPU's rows), or at one ``--images-per-second`` for all; each run's line names the
source. A run without a figure has no GPU-hours. A dry run writes nothing; ``--run`` ends
by writing the results of the selection, the zoo file's columns next to the released
figures, to ``<out-dir>/results.csv`` and ``results.md`` (``tools/analysis/plot_study.py``
draws the study's figures from the CSV). Run it from the repository root; config paths are
relative to it.
"""
import argparse
import copy
import math
import os
import shlex
import socket
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from mim_scaling.engine.config import ConfigError, check_config
from mim_scaling.engine.config.unknown_keys import key_problems
from mim_scaling.engine.hooks import PREEMPTED_EXIT_STATUS, Preempted
from mim_scaling.study import (StudyRun, collect_results, final_checkpoint, grid_from_file,
                               read_run_config, results_markdown, write_results, zoo_grid)
from mim_scaling.study.estimates import (THROUGHPUTS, RunEstimate, estimate, find_throughput,
                                         read_throughputs, throughput_key)
from mim_scaling.study.grid import parse_cfg_options
from mim_scaling.study.ledger import (Ledger, RunState, SlurmError, Submission, now,
                                      process_start, run_state, this_process)
from mim_scaling.study.progress import error_line, read_progress

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
    parser.add_argument('--status', action='store_true',
                        help='print the state of each run (queued, running at iteration N '
                        'with its expected end, finished, failed with its error line) from the '
                        'ledger of its work dir, slurm and its logs; submits nothing')
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
                        help='training images/s per GPU of every run, for the estimates '
                        '(default: the measured figure of the throughput table for the run\'s '
                        'model, task and image size, if any)')
    parser.add_argument('--throughputs', metavar='TSV',
                        help='table of measured images/s per GPU (columns gpu, model, task, '
                        'image_size, images_per_second, source; default: the package\'s, '
                        'mim_scaling/study/throughputs.tsv)')
    parser.add_argument('--gpu-type', metavar='NAME',
                        help='the GPU to price runs on: rows of the throughput table whose gpu '
                        'contains NAME (any case); needed when the table has several GPUs')
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
    if args.status and args.run:
        parser.error('--status submits nothing; give it without --run')
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
    max_iters = (cfg.get('train_cfg') or {}).get('max_iters')
    if steps > 1 and max_iters is not None:
        # mmengine counts every accumulated micro-batch as an iteration (and steps the lr
        # schedule on each), so the run would end after max_iters / steps optimizer steps:
        # a fraction of the images that the study's grid counts for it.
        raise SystemExit(
            f'tools/sweep.py: {config}: optim_wrapper.accumulative_counts={steps} with an '
            f'iteration-based schedule (train_cfg.max_iters={max_iters}) would make '
            f'{max_iters // steps:,} optimizer steps of {steps} micro-batches, 1/{steps} of '
            'the images the grid plans (mmengine counts micro-batches as iterations); keep '
            'the total batch with --gpus instead (a larger per-GPU batch; add '
            'memory_saving.with_cp=True if it does not fit)')
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
    pricing: str = ''  # where the images/s per GPU came from, or why there is none
    finished: bool = False
    max_epochs: Optional[int] = None  # epoch-based runs: to read their progress from the log

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


def _throughput(args, cfg, stage: str, table) -> Tuple[Optional[float], str]:
    """The images/s per GPU of a run and where it came from; (None, why) without one."""
    if args.images_per_second is not None:
        return args.images_per_second, '--images-per-second'
    key = throughput_key(cfg)
    if key is None:
        return None, ('its backbone has no named SwinV2 arch and square img_size to look up '
                      'in the throughput table')
    arch, size = key
    try:
        row = find_throughput(table, arch, stage, size, args.gpu_type)
    except ValueError as e:
        raise SystemExit(f'tools/sweep.py: {e}') from None
    on = f' on a GPU matching {args.gpu_type!r}' if args.gpu_type else ''
    if row is None:
        return None, (f'{_table_name(args)} has no measured images/s per GPU for SwinV2 '
                      f'{arch} {stage} at {size} px{on}')
    return row.images_per_second, f'{row.gpu}, {_table_name(args)}: {row.source}'


def _table_name(args) -> str:
    return args.throughputs or 'mim_scaling/study/throughputs.tsv'


def _read_table(path: str):
    try:
        return read_throughputs(path)
    except (OSError, ValueError) as e:
        raise SystemExit(f'tools/sweep.py: cannot read the throughput table: {e}') from None


def plan(args, runs) -> List[Job]:
    """The jobs of ``runs`` in the order they have to run, finished ones marked."""
    table = [] if args.images_per_second is not None else _read_table(
        args.throughputs or THROUGHPUTS)
    jobs = []

    def add(run, stage, config, work_dir, cfg_options, batch_options, finished):
        batch = batch_plan(args, config, batch_options)
        cfg = read_run_config(config, tuple(batch_options))
        images_per_second, pricing = _throughput(args, cfg, stage, table)
        jobs.append(Job(run, stage, config, str(work_dir), cfg_options, batch,
                        estimate(cfg, batch.total, batch.gpus, images_per_second,
                                 args.price_per_gpu_hour), pricing, finished,
                        (cfg.get('train_cfg') or {}).get('max_epochs')))

    for run in runs:
        if not run.from_scratch:
            pretrain_dir = run.pretrain_work_dir(args.work_root)
            pretrained = final_checkpoint(run.pretrain_config, pretrain_dir, args.cfg_options)
            add(run, 'pretrain', run.pretrain_config, pretrain_dir,
                [*args.cfg_options, *run.cfg_options], args.cfg_options, pretrained.exists())
        if run.finetune_config is None or args.pretrain_only:
            continue
        finetune_dir = run.finetune_work_dir(args.work_root)
        finished = final_checkpoint(run.finetune_config, finetune_dir,
                                    args.finetune_cfg_options).exists()
        # The one place the fine-tuning configs take the encoder from (configs/imagenet);
        # from scratch, the encoder keeps its random initialisation.
        options = [*args.finetune_cfg_options, *run.cfg_options,
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
               job.pricing)
        raise SystemExit(f'tools/sweep.py: no time limit for {job.label}: {why}; pass '
                         '--images-per-second or --throughputs (figures measured on your '
                         'GPUs) or --time')
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
        return [['env', f'NNODES={nodes}', f'NODE_RANK={rank}',
                 f'MASTER_ADDR={args.master_addr or _master_addr_of_shell(rank)}', *command]
                for rank in range(nodes)]
    # tools/slurm_train.sh submits itself with sbatch, asking for the early signal and
    # requeue; --parsable makes sbatch print the job id that a fine-tuning waits for.
    sbatch_args = '--parsable' + (f' --dependency=afterok:{dependency}' if dependency else '')
    limit = time_limit(args, job)
    return [['env', f'GPUS={job.batch.gpus}', f'GPUS_PER_NODE={per_node}',
             *([f'TIME={limit}'] if limit else []), f'SBATCH_ARGS={sbatch_args}',
             'bash', 'tools/slurm_train.sh', args.partition, job.name, config, work_dir,
             *job.train_args()]]


def _master_addr_of_shell(rank: int) -> str:
    """MASTER_ADDR as each node's shell gives it. Without it, tools/dist_train.sh would
    take 127.0.0.1: right on node 0, while any other node would wait on itself."""
    if rank == 0:
        return '${MASTER_ADDR:-}'
    return f'${{MASTER_ADDR:?node {rank} needs MASTER_ADDR, the host of node 0}}'


def show(command: List[str]) -> str:
    """The command as a shell line; ``$MASTER_ADDR`` left for each node's shell to expand."""
    return ' '.join(f'MASTER_ADDR="{word[len("MASTER_ADDR="):]}"'
                    if word.startswith('MASTER_ADDR=$') else shlex.quote(word)
                    for word in command)


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
            parts.append(f'GPU-hours unknown: {job.pricing}; pass --images-per-second or '
                         '--throughputs')
        else:
            parts.append(f'{e.gpu_hours:,.1f} GPU-hours ({e.hours:,.1f} h on {e.gpus}) at '
                         f'{e.images_per_second:g} images/s per GPU ({job.pricing})')
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
        parts.append('no GPU-hours: no measured images/s per GPU (--images-per-second, '
                     '--throughputs)')
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


def execute(args, job: Job, command: List[str]) -> int:
    """Runs one command, recorded in the ledger of its work dir; its exit status."""
    ledger = Ledger(job.work_dir)
    if args.launcher == 'local':
        if str(TOOLS) not in sys.path:
            sys.path.insert(0, str(TOOLS))
        import train  # tools/train.py, run in this process
        ledger.add(Submission('local', command, now(), 'running', **this_process()))
        try:
            train.main(command[2:])
        except Preempted:
            ledger.update_latest(state='stopped', exit_status=PREEMPTED_EXIT_STATUS)
            raise
        except (Exception, SystemExit) as e:
            error = traceback.format_exception_only(type(e), e)[-1].strip()
            ledger.update_latest(state='failed', exit_status=1, error=error)
            raise
        ledger.update_latest(state='finished', exit_status=0)
        return 0
    env = dict(os.environ)
    env.setdefault('PYTHON', sys.executable)  # the scripts' Python: this one
    env.setdefault('PYTHONUNBUFFERED', '1')  # its output as it comes
    # The output goes to a file in the work dir (for the error line of --status), which
    # this process copies to the terminal. Not through a pipe: the training would die of
    # the first write after the sweep was killed.
    output = Path(job.work_dir) / f'dist_train-{datetime.now():%Y%m%d_%H%M%S}.out'
    output.parent.mkdir(parents=True, exist_ok=True)
    with open(output, 'w') as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    ledger.add(Submission('dist', command, now(), 'running', host=socket.gethostname(),
                          pid=process.pid, pid_start=process_start(process.pid),
                          output=str(output)))
    with open(output, errors='replace') as follow:
        while process.poll() is None:
            text = follow.read()
            sys.stdout.write(text)
            sys.stdout.flush()
            if not text:
                time.sleep(0.2)
        sys.stdout.write(follow.read())
    status = process.returncode
    state = {0: 'finished', PREEMPTED_EXIT_STATUS: 'stopped'}.get(status, 'failed')
    ledger.update_latest(state=state, exit_status=status,
                         error=error_line(output) if state == 'failed' else None)
    return status


def job_states(jobs: List[Job], strict: bool) -> Dict[int, RunState]:
    """The state of each job (by ``id``) from its final checkpoint, ledger and slurm. When
    slurm cannot be asked: ``strict`` refuses, else the state is 'unknown'."""
    states = {}
    for job in jobs:
        try:
            states[id(job)] = run_state(job.work_dir, job.finished)
        except SlurmError as e:
            if strict:
                raise SystemExit(f'tools/sweep.py: cannot tell whether {job.label} is still '
                                 f'queued or running: {e}; nothing was submitted') from None
            states[id(job)] = RunState('unknown', Ledger(job.work_dir).latest(), str(e))
        except ValueError as e:  # a ledger that cannot be read
            raise SystemExit(f'tools/sweep.py: {e}') from None
    return states


# tools/train.py's --launcher under each launcher of the sweep.
TRAIN_LAUNCHER = {'dist': 'pytorch', 'slurm': 'slurm', 'local': 'none'}


def _as_built(args, job: Job, options: Tuple[str, ...]):
    """The config of ``job`` with ``options`` as tools/train.py hands it to the Runner."""
    cfg = copy.deepcopy(read_run_config(job.config, ()))  # the plan read it so
    if options:
        cfg.merge_from_dict(parse_cfg_options(options))
    cfg.launcher = TRAIN_LAUNCHER[args.launcher]
    cfg.resume = 'auto'  # every command of the sweep carries --resume
    if '--auto-scale-lr' in job.batch.train_args:
        cfg.auto_scale_lr.enable = True
    return cfg


def _option_warnings(args, job: Job, options: Tuple[str, ...], cfg) -> List[str]:
    """The Runner's warnings about top-level keys that ``options`` add to the config."""
    added = set(parse_cfg_options(options)) - set(read_run_config(job.config, ()).keys())
    if not added or not cfg.get('check_config_keys', True):  # (the user's opt-out)
        return []
    before = key_problems(_as_built(args, job, ()))[1]
    return [warning for warning in key_problems(cfg)[1] if warning not in before]


def config_problems(args, jobs: List[Job]) -> List[str]:
    """What the Runner would refuse in the config of each job, as it would build it (the
    config with the job's options, under its launcher), one line per problem with the jobs
    that have it. A top-level key that the options set and that the Runner only warns about
    is refused too: it would change nothing (a config's own variables were substituted when
    its file was read), so it is a misspelling of a key that was meant to change something.
    """
    labels: Dict[str, List[str]] = {}
    for job in jobs:
        options = (*job.cfg_options, *job.batch.cfg_options)
        cfg = _as_built(args, job, options)
        problems = _option_warnings(args, job, options, cfg)
        try:
            # A slurm job runs on other nodes: what this one's devices can run is no test.
            check_config(cfg, machine_checks=args.launcher != 'slurm')
        except ConfigError as e:
            problems = e.problems + problems
        for problem in problems:
            labels.setdefault(problem, []).append(job.label)
    return [f'{problem} ({", ".join(names[:2])}'
            f'{f" and {len(names) - 2} more" if len(names) > 2 else ""})'
            for problem, names in labels.items()]


def _where(submission: Optional[Submission]) -> str:
    if submission is None:
        return ''
    if submission.job_id:
        return f'slurm job {submission.job_id}'
    return f'process {submission.pid} on {submission.host}'


def _progress(job: Job, with_end: bool) -> str:
    progress = read_progress(job.work_dir, job.max_epochs)
    if progress is None:
        return ', no training iteration logged yet' if with_end else ''
    text = f' at iteration {progress.iteration:,} of {progress.total:,}'
    if with_end:
        text += (f', {progress.seconds_per_iteration:.3g} s per iteration: about '
                 f'{progress.remaining_seconds / 3600:,.1f} h to go, ending around '
                 f'{progress.end:%Y-%m-%d %H:%M} (the clock of its log)')
    return text


def state_line(job: Job, state: RunState) -> str:
    """The state of a job as --status prints it."""
    submission, where = state.submission, _where(state.submission)
    if state.state == 'finished':
        text = 'finished'
    elif state.state == 'queued':
        text = f'queued ({where}, {state.detail})'
        if submission.dependency:
            text += f', waiting for slurm job {submission.dependency}'
    elif state.state == 'running':
        text = f'running ({where}){_progress(job, with_end=True)}'
    elif state.state in ('failed', 'cancelled'):
        error = submission.error or error_line(submission.output)
        text = (f'{state.state} ({where}: {state.detail}){_progress(job, with_end=False)}'
                f'{f": {error}" if error else ""}')
    elif state.state == 'stopped':
        text = f'stopped ({where}: {state.detail}){_progress(job, with_end=False)}'
    elif state.state == 'not started':
        text = f'not started{_progress(job, with_end=False)}'
    else:
        text = f'{state.state}: {state.detail}'
    return '; '.join([text, *state.notes])


def print_status(jobs: List[Job], states: Dict[int, RunState]) -> None:
    for job in jobs:
        print(f'{job.label}: {state_line(job, states[id(job)])}')


def follow_new_pretraining(job: Job, state: RunState, pretrain_id: Optional[str]) -> None:
    """A fine-tuning queued behind a pre-training that failed and was submitted again
    would wait for the failed job forever: it now waits for the new one."""
    old = state.submission.dependency if state.submission else None
    if state.state != 'queued' or not old or not pretrain_id or old == pretrain_id:
        return
    result = subprocess.run(['scontrol', 'update', f'JobId={state.submission.job_id}',
                             f'Dependency=afterok:{pretrain_id}'], capture_output=True, text=True)
    if result.returncode:
        print(f'# {job.label}: could not make slurm job {state.submission.job_id} wait for '
              f'{pretrain_id} instead of {old}: {result.stderr.strip()}; cancel it (scancel) '
              'and run the sweep again')
        return
    Ledger(job.work_dir).update_latest(dependency=pretrain_id)
    print(f'# {job.label}: slurm job {state.submission.job_id} now waits for {pretrain_id}')


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
    states = job_states(jobs, strict=args.run)
    if args.status:
        print_status(jobs, states)
        return
    # Everything that can be refused is refused before the first job is submitted or started.
    todo = [job for job in jobs if states[id(job)].restartable]
    problems = config_problems(args, todo)
    if problems:
        raise SystemExit(f'tools/sweep.py: the Runner would refuse {len(problems)} thing(s) '
                         'in the configs of the sweep (with its options); nothing was '
                         'submitted or started:\n  - ' + '\n  - '.join(problems))
    # The slurm jobs of pre-trainings already queued or running, for their fine-tunings.
    job_ids = {job.run.name: states[id(job)].submission.job_id for job in jobs
               if job.stage == 'pretrain' and states[id(job)].state in ('queued', 'running')
               and states[id(job)].submission.job_id}
    pending = {job.run.name for job in todo if job.stage == 'pretrain'}
    lines = {id(job): [show(c) for c in commands(
        args, job, PRETRAIN_JOB_ID if job.stage == 'finetune' and job.run.name in pending
        else job_ids.get(job.run.name) if job.stage == 'finetune' else None)]
        for job in todo}
    several = [job.label for job in jobs if len(lines.get(id(job), ())) > 1]
    if args.run and several:
        raise SystemExit(f'tools/sweep.py: {", ".join(several)} span several nodes, which '
                         '--launcher dist cannot start from here: run the printed commands '
                         'on each node (without --run), or use --launcher slurm')

    failed, running, preempted = set(), set(), False
    for job in jobs:
        state = states[id(job)]
        if job.finished:
            print(f'# {job.label}: finished, skipped')
            continue
        if not state.restartable:  # queued or running: never twice into one work dir
            print(f'# {job.label}: {state_line(job, state)}; not submitted or started again')
            if args.run and job.stage == 'finetune':
                follow_new_pretraining(job, state, job_ids.get(job.run.name))
            if job.stage == 'pretrain' and not (state.submission and state.submission.job_id):
                running.add(job.run.name)  # its fine-tuning can only start once it ends
            continue
        print(describe(job))
        if state.state != 'not started':
            print(f'# {job.label}: {state_line(job, state)}; '
                  f'{"submitted" if args.launcher == "slurm" else "started"} again, '
                  'from its last checkpoint (--resume)')
        if args.run and job.run.name in failed:
            print(f'# {job.label}: skipped, its pre-training failed')
            continue
        if args.run and job.run.name in running:
            print(f'# {job.label}: skipped, its pre-training is still running: run the sweep '
                  'again once it has finished')
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
                job_id = submit(command)
                Ledger(job.work_dir).add(Submission(
                    'slurm', command, now(), 'submitted', job_id=job_id, dependency=dependency,
                    output=str(Path(job.work_dir) / f'slurm-{job_id}.out')))
                job_ids[job.run.name] = job_id
                print(f'# {job.label}: submitted as slurm job {job_id}')
                status = 0
            else:
                status = execute(args, job, command)
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
    print(describe_total([job for job in jobs if states[id(job)].restartable]))

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
