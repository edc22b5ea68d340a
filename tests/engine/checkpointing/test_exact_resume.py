"""Long runs of a tiny pre-training through tools/train.py (stochastic depth on, two
dataloader workers), as the README promises them:

- a run killed with SIGKILL and resumed with ``--resume`` logs the same loss at every
  iteration as the same run left alone, without loading the batches it skips;
- the kill leaves no process behind;
- the resident memory of the training process and its workers stays flat.

One uninterrupted run (sampled for memory) and one killed run share the start-up time. Both
runs record their memory at the end of every iteration, and the killed run kills itself at
the end of iteration KILL_AT (tiny_pretrain.LongRunProbe): nothing depends on how fast the
machine is.
"""
import importlib
import signal
import subprocess
from statistics import median

import psutil
import pytest
import torch

from tiny_pretrain import (ROOT, environment, logged_losses, memory_samples, train_command,
                           write_config)

RESUME_ITERS, CHECKPOINT, KILL_AT, BATCH, WORKERS = 24, 8, 12, 4, 2
LONG_ITERS = 160  # the uninterrupted run, sampled for memory
MiB = 2**20


def start(config, work_dir, env, *options):
    return subprocess.Popen(train_command(config, work_dir, *options), cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp('long_runs')
    config = write_config(tmp_path, LONG_ITERS, val_interval=CHECKPOINT,
                          checkpoint_interval=CHECKPOINT)
    straight_dir, killed_dir = tmp_path / 'straight', tmp_path / 'killed'
    straight_memory, killed_memory = tmp_path / 'straight.jsonl', tmp_path / 'killed.jsonl'
    straight = start(config, straight_dir, environment(memory_file=straight_memory))
    killed = start(config, killed_dir,
                   environment(memory_file=killed_memory, kill_at_iteration=KILL_AT),
                   '--cfg-options', f'train_cfg.max_iters={RESUME_ITERS}')
    try:
        for process in (killed, straight):
            process.wait(timeout=300)
    finally:
        for process in (straight, killed):
            if process.poll() is None:
                process.kill()
    assert straight.returncode == 0, straight.stderr.read()[-4000:]
    assert killed.returncode == -signal.SIGKILL, killed.stderr.read()[-4000:]
    killed_samples = memory_samples(killed_memory)
    assert killed_samples[-1][0] == KILL_AT
    workers = set().union(*(children for _, _, children in killed_samples))
    alive = []
    for pid in workers:
        try:
            alive.append(psutil.Process(pid))
        except psutil.NoSuchProcess:
            pass  # gone already
    _, left_behind = psutil.wait_procs(alive, timeout=3)

    # tools/train.py --resume, called in this process to save a start-up, with the
    # environment of the runs above.
    count_file = tmp_path / 'loads_after_resume.txt'
    with pytest.MonkeyPatch.context() as patch:
        for key, value in environment(count_file).items():
            patch.setenv(key, value)
        patch.syspath_prepend(str(ROOT / 'tools'))
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            importlib.import_module('train').main(
                [str(config), '--work-dir', str(killed_dir), '--resume', '--cfg-options',
                 f'train_cfg.max_iters={RESUME_ITERS}'])
        finally:
            torch.set_num_threads(threads)
    log = sorted(killed_dir.glob('2*/2*.log'))[-1].read_text()
    return dict(straight=logged_losses(straight_dir)[0], killed=logged_losses(killed_dir),
                samples=memory_samples(straight_memory), workers=workers,
                left_behind=left_behind, log=log,
                loads=len(count_file.read_text().splitlines()))


def test_a_kill_leaves_no_process_behind(runs):
    assert len(runs['workers']) >= WORKERS
    assert not runs['left_behind'], f"left behind: {runs['left_behind']}"


def test_the_resumed_run_logs_the_losses_of_the_uninterrupted_one(runs):
    straight = runs['straight']
    resumed_from = int(runs['log'].split('resumed epoch: 0, iter: ')[1].split()[0])
    assert resumed_from == CHECKPOINT  # the last checkpoint before the kill
    *interrupted, resumed = runs['killed']
    assert sorted(resumed) == list(range(resumed_from + 1, RESUME_ITERS + 1))
    assert resumed == {i: straight[i] for i in resumed}  # exactly, iteration by iteration
    for losses in interrupted:
        assert losses == {i: straight[i] for i in losses}


def test_the_resumed_run_does_not_load_the_batches_it_skips(runs):
    # mmengine's loop loaded and discarded the resumed_from batches before resuming.
    resumed_from = int(runs['log'].split('resumed epoch: 0, iter: ')[1].split()[0])
    still_to_train = (RESUME_ITERS - resumed_from) * BATCH
    prefetched = 2 * WORKERS * BATCH  # by the workers when the last batch is taken
    assert still_to_train <= runs['loads'] <= still_to_train + prefetched


def test_resident_memory_stays_flat(runs):
    # Past the allocator's warm-up (half the run), the median resident memory of the second
    # half of the samples exceeds that of the first by no more than noise; keeping one batch
    # per iteration would add 20 MiB.
    warm = [s for s in runs['samples'] if s[0] > LONG_ITERS // 2]
    assert [s[0] for s in warm] == list(range(LONG_ITERS // 2 + 1, LONG_ITERS + 1))
    early, late = warm[:len(warm) // 2], warm[len(warm) // 2:]
    growth = median(s[1] for s in late) - median(s[1] for s in early)
    assert growth < 12 * MiB, f'the training process grew by {growth / MiB:.1f} MiB'
    # The same, persistent workers throughout. Compared over each half rather than between
    # two snapshots: one scan of /proc can miss a process.
    workers = set().union(*(s[2] for s in early)) & set().union(*(s[2] for s in late))
    assert len(workers) >= WORKERS
    for pid in workers:
        growth = (median(s[2][pid] for s in late if pid in s[2])
                  - median(s[2][pid] for s in early if pid in s[2]))
        assert growth < 4 * MiB, f'worker {pid} grew by {growth / MiB:.1f} MiB'
