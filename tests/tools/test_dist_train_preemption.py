"""tools/dist_train.sh with two gloo processes, preempted and resumed at another size.

A SIGTERM sent to the launcher's process group during iteration 4 (what a scheduler or
``kill`` does) reaches both ranks: they stop after the same iteration, the checkpoint of
that iteration exists, the script exits with 75 and no traceback, no process is left, and
``--resume`` logs exactly the losses of the run left alone. The runs start from the
checkpoint of one process with batch 4 and one of them ends on one process with batch 8:
from 1 to 2 processes and from 2 to 1, every run trains the uninterrupted stream of
samples, none skipped or repeated.
"""
import os
import shutil
import signal
import subprocess

import psutil
import pytest

from ports import free_port
from preemptible_toy import (ROOT, all_losses, dist_train_command, environment,
                             learning_rates, ranks_command, run_log, samples,
                             train_in_process, write_config)

ONE, STOP, ITERS = 2, 4, 6  # 1 process to iteration 2, then 2 processes, stopped after 4
SAMPLES = ONE * 4 + (ITERS - ONE) * 8
pytestmark = pytest.mark.dist


def launch(config, work_dir, log, script=True):
    """tools/dist_train.sh CONFIG 2 --resume, in a process group of its own; without
    ``script``, two ranks forked from one start-up (the same training, cheaper)."""
    port = free_port()
    command = (dist_train_command(config, work_dir, 2, '--resume') if script else
               ranks_command(config, work_dir, 2, port, '--resume'))
    with open(log, 'w') as out:
        return subprocess.Popen(command, cwd=ROOT, env=environment(PORT=str(port)),
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def finish(process, timeout=240):
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        raise


def processes_of(config):
    return [p for p in psutil.process_iter(['cmdline'])
            if str(config) in ' '.join(p.info['cmdline'] or [])]


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('dist_preemption')
    straight, preempted, shrunk = tmp / 'straight', tmp / 'preempted', tmp / 'shrunk'
    config = write_config(tmp, 'two', max_iters=ITERS)
    preempting = write_config(tmp, 'preempting', max_iters=ITERS, num_workers=2,
                              preempt_at=STOP, target='launcher')
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(ROOT / 'tools'))
        patch.setenv('LOCAL_RANK', '0')
        with pytest.raises(SystemExit):  # one process, stopped after iteration 2
            train_in_process(write_config(tmp, 'one', max_iters=ITERS, preempt_at=ONE),
                             straight)
        shutil.copytree(straight, preempted)
        stopped = launch(preempting, preempted, tmp / 'preempted.log')
        left_alone = launch(config, straight, tmp / 'straight.log', script=False)
        # Meanwhile, the uninterrupted stream: one process, batch 4.
        train_in_process(write_config(tmp, 'stream', max_iters=SAMPLES // 4), tmp / 'stream')
        status = finish(stopped)
        left_behind = processes_of(preempting)
        stopped_losses = all_losses(preempted)
        stopped_iters = [max(learning_rates(preempted, rank)) for rank in (0, 1)]
        shutil.copytree(preempted, shrunk)
        resumed = launch(config, preempted, tmp / 'resumed.log', script=False)
        # From two processes of 4 to one of 8, meanwhile.
        train_in_process(write_config(tmp, 'one_of_8', max_iters=ITERS, batch_size=8), shrunk,
                         '--resume')
        assert finish(left_alone) == 0, (tmp / 'straight.log').read_text()[-3000:]
        assert finish(resumed) == 0, (tmp / 'resumed.log').read_text()[-3000:]
    return dict(status=status, output=(tmp / 'preempted.log').read_text(),
                left_behind=left_behind, stopped_losses=stopped_losses,
                stopped_iters=stopped_iters, straight=straight, preempted=preempted,
                shrunk=shrunk, stream=tmp / 'stream')


def test_sigterm_to_the_launcher_saves_the_iteration_both_ranks_stopped_at(runs):
    assert runs['status'] == 75, runs['output'][-3000:]
    assert runs['stopped_iters'] == [STOP, STOP]
    assert f'Preempted after iteration {STOP}' in runs['output']
    assert 'Traceback' not in runs['output'] and 'SignalException' not in runs['output']
    assert (runs['preempted'] / f'iter_{STOP}.pth').exists()
    assert not runs['left_behind'], runs['left_behind']  # nor dataloader workers


def test_resume_logs_the_losses_of_the_run_left_alone(runs):
    straight, stopped = all_losses(runs['straight']), runs['stopped_losses']
    assert sorted(stopped) == list(range(1, STOP + 1))
    assert all_losses(runs['preempted']) == straight  # exactly, iteration by iteration
    assert {i: straight[i] for i in stopped} == stopped


@pytest.mark.parametrize('work_dir', ['straight', 'preempted', 'shrunk'])
def test_one_to_two_processes_and_back_train_the_uninterrupted_stream(runs, work_dir):
    trained = samples(runs[work_dir])
    assert sorted(trained) == list(range(1, ITERS + 1))
    stream = [index for batch in samples(runs['stream']).values() for index in batch]
    assert [index for i in sorted(trained) for index in trained[i]] == stream


def test_the_log_says_what_changed(runs):
    log = run_log(runs['straight'])
    assert 'run of 1 process x 4 = 4 samples per step; this run has 2 processes x 4 = 8' in log
    assert 'The total batch changed from 4 to 8; the run keeps the learning rate' in log
    log = run_log(runs['shrunk'])
    assert 'run of 2 processes x 4 = 8 samples per step; this run has 1 process x 8 = 8' in log
    assert 'total batch changed' not in log
