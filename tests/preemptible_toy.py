"""A toy regression trained by ``ResumableIterBasedTrainLoop``, for tests of long runs that
are preempted or resumed at another size (CPU, a second per run).

The toy task's linear model (``tests/_toy/toy_task.py``) on 12 fixed random samples; each
sample carries its dataset index, and :class:`RecordSamplesHook` appends the indices each
rank trained on at every iteration to ``work_dir/samples_rank{rank}.jsonl``, so a test can
rebuild the stream of samples a chain of runs trained on. :class:`PreemptAtHook` sends
SIGTERM at a chosen iteration (or validation, or while the checkpoint loads), to the
training process itself (and its descendants) or to the launcher's process group
(``tools/dist_train.sh``), and waits until the signal has reached this process, so the run
stops after that iteration.
Configs load this module with ``custom_imports`` and ``tests`` on PYTHONPATH.
"""
import json
import os
import os.path as osp
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import torch
from mmengine.hooks import Hook
from mmengine.registry import DATASETS, HOOKS, MODELS

HERE = Path(__file__).parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE / '_toy'))  # the toy task, in training processes too

from tiny_pretrain import logged_losses  # noqa: E402
from toy_task import ToyRegressionDataset, ToyRegressor  # noqa: E402

CONFIG = """\
custom_imports = dict(imports=['preemptible_toy'], allow_failed_imports=False)
runner_type = 'mim_scaling.Runner'
model = dict(type='IndexedToyRegressor')
train_dataloader = dict(
    batch_size={batch_size}, num_workers={num_workers}, persistent_workers={num_workers} > 0,
    collate_fn=dict(type='default_collate'),
    sampler=dict(type='mim_scaling.ResumableInfiniteSampler', shuffle=True),
    dataset=dict(type='IndexedToyDataset'))
train_cfg = dict(type='mim_scaling.ResumableIterBasedTrainLoop', max_iters={max_iters},
                 val_interval={val_interval})
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.05, momentum=0.9){optim_options})
param_scheduler = [
    dict(type='LinearLR', start_factor=0.25, by_epoch=False, begin=0, end=4),
    dict(type='MultiStepLR', milestones=[6], gamma=0.5, by_epoch=False),
]
auto_scale_lr = dict(base_batch_size=4, enable=False)
default_hooks = dict(
    checkpoint=dict(type='mim_scaling.AtomicCheckpointHook', interval=1000, by_epoch=False,
                    save_last=True, max_keep_ckpts=2),
    logger=dict(type='LoggerHook', interval=1))
custom_hooks = [dict(type='RecordSamplesHook'){preempt}]
log_processor = dict(by_epoch=False, window_size=1)
randomness = dict(seed=0)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
"""

VALIDATION = """\
val_dataloader = dict(
    batch_size=4, num_workers=0, collate_fn=dict(type='default_collate'),
    sampler=dict(type='DefaultSampler', shuffle=False), dataset=dict(type='IndexedToyDataset'))
val_evaluator = dict(type='ToyMSE')
val_cfg = dict()
"""


@MODELS.register_module(force=True)
class IndexedToyRegressor(ToyRegressor):
    """The toy task's regressor, ignoring the samples' indices."""

    def forward(self, inputs, targets=None, index=None, mode='tensor'):
        return super().forward(inputs, targets, mode)


@DATASETS.register_module(force=True)
class IndexedToyDataset(ToyRegressionDataset):
    """12 samples of the toy task's regression, with their indices."""

    def __init__(self, size=12):
        super().__init__(size)

    def __getitem__(self, index):
        return dict(super().__getitem__(index), index=index)


@HOOKS.register_module(force=True)
class RecordSamplesHook(Hook):
    """Appends ``{"iter", "indices", "lr"}`` of each iteration to
    ``work_dir/samples_rank{rank}.jsonl``."""

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        lr = runner.optim_wrapper.get_lr()['lr'][0]
        record = dict(iter=runner.iter + 1, indices=data_batch['index'].tolist(), lr=lr)
        with open(osp.join(runner.work_dir, f'samples_rank{runner.rank}.jsonl'), 'a') as f:
            f.write(json.dumps(record) + '\n')


@HOOKS.register_module(force=True)
class PreemptAtHook(Hook):
    """Sends SIGTERM on rank 0 after ``iteration`` (``when='train'``), during the first batch
    of the validation after it (``'val'``), while the run loads its checkpoint, before
    training starts (``'load'``), or as the Runner builds this hook (``'build'``): to this
    process (``target='self'``), to this process and
    all its descendants, as slurm signals every process of a job (``target='family'``), or
    to the process group of the launcher that started torchrun (``target='launcher'``);
    then, once training has started, waits until this process has received it (forwarded,
    for the launcher), unless ``wait=False``. With ``again``, sends SIGTERM to this process
    once more as the run ends (``after_run``), as a burst of signals or slurm's repeat
    would."""

    priority = 'NORMAL'  # before the PreemptionCheckpointHook checks for signals

    def __init__(self, iteration=None, target='self', when='train', again=False, wait=True):
        self.iteration, self.target, self.when = iteration, target, when
        self.again, self.wait = again, wait
        if when == 'build':
            os.kill(os.getpid(), signal.SIGTERM)

    def before_run(self, runner):
        if self.when == 'load':
            self._send(runner)

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if self.when == 'train' and runner.iter + 1 == self.iteration:
            self._send(runner)
            self._wait(runner)

    def after_val_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if self.when == 'val' and runner.iter == self.iteration and batch_idx == 0:
            self._send(runner)
            self._wait(runner)

    def after_run(self, runner):
        if self.again and runner.rank == 0:
            os.kill(os.getpid(), signal.SIGTERM)

    def _send(self, runner):
        if runner.rank != 0:
            return
        if self.target in ('self', 'family'):
            if self.target == 'family':  # the dataloader workers first, from another
                # process, as slurm's (a worker obeys a SIGTERM from its parent)
                workers = psutil.Process().children(recursive=True)
                subprocess.run(['kill', '-TERM', *(str(w.pid) for w in workers)], check=True)
            os.kill(os.getpid(), signal.SIGTERM)
        else:  # torchrun's parent: the launcher script, whose group torchrun is in
            os.killpg(os.getpgid(os.getppid()), signal.SIGTERM)

    def _wait(self, runner):
        if runner.rank != 0 or not self.wait:
            return
        preemption = next(hook for hook in runner.hooks
                          if type(hook).__name__ == 'PreemptionCheckpointHook')
        if not preemption.preemption_signals:  # signals=[]: SIGTERM kills it meanwhile
            time.sleep(20)
            return
        assert signal.getsignal(signal.SIGTERM) == preemption._on_signal, \
            'the preemption hook does not handle SIGTERM'
        deadline = time.monotonic() + 20
        while preemption._received is None:
            assert time.monotonic() < deadline, 'SIGTERM did not reach the training process'
            time.sleep(0.01)


def write_config(directory, name='toy', max_iters=8, batch_size=4, num_workers=0,
                 preempt_at=None, target='self', when='train', again=False,
                 accumulative_counts=1, param_groups=1, val_interval=None, signals=None):
    """Writes a config into ``directory`` and returns its path: with ``preempt_at`` (and
    ``when``, ``again``), a :class:`PreemptAtHook`; with ``param_groups=2``, the weight and
    the bias in groups of their own (the lr unchanged), so the log shows ``base_lr``; with
    ``val_interval``, a validation on the training samples; with ``signals``, a
    ``PreemptionCheckpointHook`` that handles those."""
    preempt = ('' if preempt_at is None and when not in ('load', 'build') else
               f", dict(type='PreemptAtHook', iteration={preempt_at}, target='{target}', "
               f"when='{when}', again={again})")
    if signals is not None:
        preempt += f", dict(type='mim_scaling.PreemptionCheckpointHook', signals={signals!r})"
    optim_options = ''
    if accumulative_counts != 1:
        optim_options += f', accumulative_counts={accumulative_counts}'
    if param_groups == 2:
        optim_options += ', paramwise_cfg=dict(bias_lr_mult=1.0)'
    text = CONFIG.format(max_iters=max_iters, batch_size=batch_size, num_workers=num_workers,
                         preempt=preempt, optim_options=optim_options,
                         val_interval=val_interval or 1000)
    path = Path(directory) / f'{name}.py'
    path.write_text(text + (VALIDATION if val_interval else ''))
    return path


def environment(**extra):
    """The environment of a training subprocess: this folder importable, one thread."""
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1', PYTHON=sys.executable,
               **extra)
    env['PYTHONPATH'] = os.pathsep.join([str(HERE), env.get('PYTHONPATH', '')])
    return env


def train_command(config, work_dir, *options):
    return [sys.executable, str(ROOT / 'tools/train.py'), str(config), '--work-dir',
            str(work_dir), *options]


def dist_train_command(config, work_dir, processes, *options):
    return ['bash', str(ROOT / 'tools/dist_train.sh'), str(config), str(processes),
            '--work-dir', str(work_dir), *options]


def samples(work_dir):
    """{iteration: the samples trained on, in the order of the stream} over the runs in
    ``work_dir`` (an iteration trained twice keeps the last).

    Rank r of w takes the stream's positions start + r, start + r + w, ...: the order is
    rebuilt from each rank's batches. A run of w ranks writes its iterations to
    samples_rank0..w-1, so lines of rank 0 without a match in the other files come from
    runs with fewer ranks.
    """
    per_rank = [[json.loads(line) for line in path.read_text().splitlines()]
                for path in sorted(Path(work_dir).glob('samples_rank*.jsonl'))]
    stream, cursors = {}, [0] * len(per_rank)
    for record in per_rank[0]:
        ranks = [r for r in range(len(per_rank)) if cursors[r] < len(per_rank[r])
                 and per_rank[r][cursors[r]]['iter'] == record['iter']]
        batches = [per_rank[r][cursors[r]]['indices'] for r in ranks]
        stream[record['iter']] = [index for group in zip(*batches) for index in group]
        for r in ranks:
            cursors[r] += 1
    return stream


def learning_rates(work_dir, rank=0):
    """{iteration: the lr it trained with} over the runs in ``work_dir``."""
    lines = (Path(work_dir) / f'samples_rank{rank}.jsonl').read_text().splitlines()
    return {record['iter']: record['lr'] for record in map(json.loads, lines)}


def train_in_process(config, work_dir, *options):
    """tools/train.py's main, in this process (saves a start-up): one thread, as its own
    experiment. Needs tools/ on sys.path and LOCAL_RANK set (see the tests' fixtures).
    The handlers of the preemption signals are given back afterwards: a preempted run
    leaves them ignored, for a process that is about to exit."""
    import train
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    handlers = {number: signal.getsignal(number) for number in (signal.SIGTERM, signal.SIGUSR1)}
    name = f'{Path(config).stem}_{Path(work_dir).name}_{time.monotonic_ns()}'
    try:
        train.main([str(config), '--work-dir', str(work_dir), *options, '--cfg-options',
                    f'experiment_name={name}'])
    finally:
        torch.set_num_threads(threads)
        for number, handler in handlers.items():
            signal.signal(number, handler)


def run_log(work_dir, index=-1):
    """The text log of a run in ``work_dir`` (the last by default)."""
    return sorted(Path(work_dir).glob('2*/2*.log'))[index].read_text()


def all_losses(work_dir):
    """{iteration: the loss logged} over the runs in ``work_dir`` (two runs started in the
    same second share a log); an iteration logged twice keeps the last."""
    losses = {}
    for run in logged_losses(work_dir):
        losses.update(run)
    return losses


def ranks_command(config, work_dir, processes, port, *options):
    """Like tools/dist_train.sh CONFIG PROCESSES, at the cost of one start-up: this module,
    run as a script, imports tools/train.py once and forks one process per rank."""
    return [sys.executable, __file__, str(config), str(work_dir), str(processes), str(port),
            *options]


def _fork_ranks(config, work_dir, processes, port, *options):
    sys.path.insert(0, str(ROOT / 'tools'))
    import train
    children = []
    for rank in range(int(processes)):
        pid = os.fork()
        if pid == 0:
            os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=processes,
                              MASTER_ADDR='127.0.0.1', MASTER_PORT=port)
            try:
                train.main([config, '--work-dir', work_dir, '--launcher', 'pytorch', *options])
                status = 0
            except SystemExit as stop:
                status = stop.code if isinstance(stop.code, int) else 1
            except BaseException:
                import traceback
                traceback.print_exc()
                status = 1
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(status)
        children.append(pid)
    statuses = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children]
    sys.exit(max(statuses, key=abs))


if __name__ == '__main__':
    _fork_ranks(*sys.argv[1:])
