"""A training process stopped by SIGTERM, as a cluster stops a job it preempts
(``PreemptionCheckpointHook``, which the package's Runner adds to every run): it finishes
its iteration, saves the checkpoint of that iteration, exits with status 75, and
``--resume`` then logs exactly the losses of the run left alone.

Runs tools/train.py in this process; the two-process case under tools/dist_train.sh is in
tests/tools/test_dist_train_preemption.py.
"""
import signal

import pytest
from mmengine.config import Config

from mim_scaling.engine import PREEMPTED_EXIT_STATUS, PreemptionCheckpointHook, Runner
from preemptible_toy import (ROOT, all_losses, learning_rates, run_log, samples,
                             train_in_process, write_config)

STOP_AT, ITERS = 3, 8


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('preemption')
    straight, preempted = tmp / 'straight', tmp / 'preempted'
    config = write_config(tmp, 'straight', max_iters=ITERS)
    # The same run, with a hook that sends SIGTERM to this process during iteration 3.
    preempting = write_config(tmp, 'preempting', max_iters=ITERS, preempt_at=STOP_AT)
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(ROOT / 'tools'))
        patch.setenv('LOCAL_RANK', '0')
        handler = signal.getsignal(signal.SIGTERM)
        train_in_process(config, straight)
        with pytest.raises(SystemExit) as stopped:
            train_in_process(preempting, preempted)
        handler_after = signal.getsignal(signal.SIGTERM)
        stopped_log, stopped_losses = run_log(preempted), all_losses(preempted)
        train_in_process(preempting, preempted, '--resume')
    return dict(straight=straight, preempted=preempted, status=stopped.value.code,
                stopped_log=stopped_log, stopped_losses=stopped_losses,
                handlers=(handler, handler_after))


def test_sigterm_saves_the_iteration_it_stopped_at_and_exits_with_75(runs):
    assert runs['status'] == PREEMPTED_EXIT_STATUS == 75
    work_dir = runs['preempted']
    assert sorted(runs['stopped_losses']) == list(range(1, STOP_AT + 1))
    assert (work_dir / f'iter_{STOP_AT}.pth').exists()
    assert f'Stopping after iteration {STOP_AT} on SIGTERM' in runs['stopped_log']
    assert f'Preempted after iteration {STOP_AT}' in runs['stopped_log']
    # The process's own handler is back once training ends.
    assert runs['handlers'][1] == runs['handlers'][0]


def test_resume_after_sigterm_logs_the_losses_of_the_run_left_alone(runs):
    straight, stopped = all_losses(runs['straight']), runs['stopped_losses']
    resumed = {i: loss for i, loss in all_losses(runs['preempted']).items() if i > STOP_AT}
    assert sorted(resumed) == list(range(STOP_AT + 1, ITERS + 1))
    assert {**stopped, **resumed} == straight  # exactly, iteration by iteration
    assert samples(runs['preempted']) == samples(runs['straight'])


def test_an_epoch_based_run_stops_after_the_iteration_without_saving(tmp_path):
    # mmengine resumes epoch-based runs at the start of an epoch only: the run stops
    # mid-epoch and --resume takes the last epoch checkpoint.
    cfg = Config.fromfile(write_config(tmp_path, 'epochs', preempt_at=2))
    cfg.train_dataloader.sampler = dict(type='DefaultSampler', shuffle=True)
    cfg.train_cfg = dict(by_epoch=True, max_epochs=2)
    cfg.param_scheduler = None
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1)
    cfg.update(work_dir=str(tmp_path / 'work'), launcher='none')
    handler = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SystemExit) as stopped:
        Runner.from_cfg(cfg).train()
    assert stopped.value.code == PREEMPTED_EXIT_STATUS
    assert 'Epoch-based runs are resumed at the start of an epoch' in str(stopped.value)
    assert max(learning_rates(tmp_path / 'work')) == 2  # of the 3 of the first epoch
    assert not list((tmp_path / 'work').glob('*.pth'))
    assert signal.getsignal(signal.SIGTERM) == handler


def test_sigterm_to_every_process_of_the_job_spares_the_dataloader_workers(tmp_path):
    # slurm signals every process of a job step: the training process, the workers of its
    # training loader and the persistent workers of its validation loader alike. A worker
    # killed by it would fail the run (torch: "DataLoader worker is killed by signal")
    # before the checkpoint is saved.
    cfg = Config.fromfile(write_config(tmp_path, 'family', max_iters=ITERS, num_workers=1,
                                       preempt_at=STOP_AT, target='family'))
    cfg.val_dataloader = dict(
        batch_size=4, num_workers=1, persistent_workers=True,
        collate_fn=dict(type='default_collate'),
        sampler=dict(type='DefaultSampler', shuffle=False), dataset=dict(type='IndexedToyDataset'))
    cfg.val_evaluator = dict(type='ToyMSE')
    cfg.val_cfg = dict()
    cfg.train_cfg.val_interval = 2  # the validation workers are up at iteration 3
    cfg.update(work_dir=str(tmp_path / 'work'), launcher='none')
    with pytest.raises(SystemExit) as stopped:
        Runner.from_cfg(cfg).train()
    assert stopped.value.code == PREEMPTED_EXIT_STATUS
    assert (tmp_path / 'work' / f'iter_{STOP_AT}.pth').exists()


def test_unknown_signal_names_are_refused():
    assert PreemptionCheckpointHook(['SIGUSR2', 'TERM']).preemption_signals == (
        signal.SIGUSR2, signal.SIGTERM)
    with pytest.raises(ValueError, match="unknown signal 'SIGTREM'"):
        PreemptionCheckpointHook(['SIGTREM'])
