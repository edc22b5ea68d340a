"""A training process stopped by SIGTERM, as a cluster stops a job it preempts
(``PreemptionCheckpointHook``, which the package's Runner adds to every run): it finishes
its iteration (its gradient accumulation, its validation abandoned), saves the checkpoint
of that iteration, exits with status 75 whatever signals follow, and ``--resume`` then logs
exactly the losses of the run left alone.

Runs tools/train.py in this process, where SIGTERM is recorded instead of killing it: a
signal that reaches the recorder is one the hook did not take. The two-process case under
tools/dist_train.sh is in tests/tools/test_dist_train_preemption.py.
"""
import shutil
import signal

import pytest
from mmengine.config import Config

from mim_scaling.engine import PREEMPTED_EXIT_STATUS, PreemptionCheckpointHook, Runner
from mim_scaling.engine.hooks.preemption_checkpoint_hook import FORWARDED_SIGNALS_VARIABLE
from preemptible_toy import (ROOT, all_losses, learning_rates, run_log, samples,
                             train_in_process, write_config)

STOP_AT, ITERS = 3, 8


class SigtermRecorder:
    """This process's SIGTERM handler while it is installed: notes the signals it gets."""

    def __init__(self):
        self.received = []

    def __call__(self, signum, frame):
        self.received.append(signum)

    def __enter__(self):
        self.original = signal.signal(signal.SIGTERM, self)
        return self

    def __exit__(self, *exc):
        signal.signal(signal.SIGTERM, self.original)


def stopped(config, work_dir, *options):
    """Trains in this process until the run ends; its exit status (0: it finished)."""
    try:
        train_in_process(config, work_dir, *options)
    except SystemExit as stop:
        return stop.code
    return 0


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('preemption')
    straight, preempted, accumulated = tmp / 'straight', tmp / 'preempted', tmp / 'accumulated'
    config = write_config(tmp, 'straight', max_iters=ITERS)
    # The same run, with a hook that sends SIGTERM to this process during iteration 3, and
    # once more as the run ends.
    preempting = write_config(tmp, 'preempting', max_iters=ITERS, preempt_at=STOP_AT,
                              again=True)
    # Validation every 2 iterations; SIGTERM during the first batch of the one after 2.
    in_validation = write_config(tmp, 'in_validation', max_iters=ITERS, preempt_at=2,
                                 when='val', val_interval=2)
    # Gradients accumulated over 2 iterations; SIGTERM during iteration 3, the first of a
    # group.
    accumulating = write_config(tmp, 'accumulating', max_iters=ITERS, accumulative_counts=2)
    accumulation_preempted = write_config(tmp, 'accumulation_preempted', max_iters=ITERS,
                                          accumulative_counts=2, preempt_at=STOP_AT)
    results = {}
    with pytest.MonkeyPatch.context() as patch, SigtermRecorder() as recorder:
        patch.syspath_prepend(str(ROOT / 'tools'))
        patch.setenv('LOCAL_RANK', '0')
        train_in_process(config, straight)
        results['status'] = stopped(preempting, preempted)
        results['signals_to_recorder'] = list(recorder.received)
        results['stopped_log'] = run_log(preempted)
        results['stopped_losses'] = all_losses(preempted)
        shutil.copytree(preempted, tmp / 'loading')
        train_in_process(preempting, preempted, '--resume')
        # Stopped while loading the checkpoint of iteration 3.
        results['load_status'] = stopped(
            write_config(tmp, 'loading', max_iters=ITERS, when='load'), tmp / 'loading',
            '--resume')
        results['load_log'] = run_log(tmp / 'loading')
        results['load_losses'] = all_losses(tmp / 'loading')
        results['validation_status'] = stopped(in_validation, tmp / 'validation')
        results['validation_log'] = run_log(tmp / 'validation')
        results['validation_losses'] = all_losses(tmp / 'validation')
        train_in_process(in_validation, tmp / 'validation', '--resume')
        train_in_process(accumulating, tmp / 'accumulated_straight')
        results['accumulation_status'] = stopped(accumulation_preempted, accumulated)
        results['accumulation_log'] = run_log(accumulated)
        train_in_process(accumulating, accumulated, '--resume')
    return dict(results, straight=straight, preempted=preempted, tmp=tmp,
                accumulated=accumulated)


def test_sigterm_saves_the_iteration_it_stopped_at_and_exits_with_75(runs):
    assert runs['status'] == PREEMPTED_EXIT_STATUS == 75
    work_dir = runs['preempted']
    assert sorted(runs['stopped_losses']) == list(range(1, STOP_AT + 1))
    assert (work_dir / f'iter_{STOP_AT}.pth').exists()
    assert f'Stopping after iteration {STOP_AT} on SIGTERM' in runs['stopped_log']
    assert f'Preempted after iteration {STOP_AT}' in runs['stopped_log']


def test_signals_after_the_stop_are_ignored_until_the_process_has_exited(runs):
    # The second SIGTERM, sent as the run ends, did not reach the recorder, the process's
    # own handler, which stands for the default action (death by SIGTERM, 143): the
    # signals stay ignored from the stop on, and the run still ends with 75.
    assert runs['status'] == 75
    assert runs['signals_to_recorder'] == []


def test_resume_after_sigterm_logs_the_losses_of_the_run_left_alone(runs):
    straight, stopped = all_losses(runs['straight']), runs['stopped_losses']
    resumed = {i: loss for i, loss in all_losses(runs['preempted']).items() if i > STOP_AT}
    assert sorted(resumed) == list(range(STOP_AT + 1, ITERS + 1))
    assert {**stopped, **resumed} == straight  # exactly, iteration by iteration
    assert samples(runs['preempted']) == samples(runs['straight'])


def test_sigterm_while_the_checkpoint_loads_stops_before_the_first_iteration(runs):
    # Held from the Runner's build until training starts: exit 75, nothing trained.
    assert runs['load_status'] == 75
    assert 'SIGTERM while the run was built or loaded: stopping before iteration 4' in \
        runs['load_log']
    assert sorted(runs['load_losses']) == list(range(1, STOP_AT + 1))  # those copied
    assert f'Preempted after iteration {STOP_AT}' in runs['load_log']
    assert max((runs['tmp'] / 'loading').glob('iter_*.pth')).name == f'iter_{STOP_AT}.pth'


def test_sigterm_while_the_runner_is_built_stops_training_or_acts_on_other_runs(tmp_path):
    cfg = Config.fromfile(write_config(tmp_path, 'building', when='build', val_interval=2))
    cfg.update(work_dir=str(tmp_path / 'work'), launcher='none')
    with SigtermRecorder() as recorder:
        with pytest.raises(SystemExit) as stop:
            Runner.from_cfg(cfg).train()
        assert stop.value.code == 75 and recorder.received == []
        assert 'stopping before iteration 1' in run_log(tmp_path / 'work')
        assert not (tmp_path / 'work' / 'samples_rank0.jsonl').exists()  # nothing trained
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN  # until the exit
        signal.signal(signal.SIGTERM, recorder)
        # A run that validates (or tests) gets the signal as it would have without the hold.
        runner = Runner.from_cfg(cfg)
        assert recorder.received == []
        runner.val()
        assert recorder.received == [signal.SIGTERM]


def test_sigterm_during_validation_abandons_it_and_saves_the_last_trained_iteration(runs):
    assert runs['validation_status'] == 75
    assert sorted(runs['validation_losses']) == [1, 2]
    assert (runs['tmp'] / 'validation' / 'iter_2.pth').exists()
    log = runs['validation_log']
    assert 'Stopping during the validation after iteration 2 on SIGTERM' in log
    assert 'Iter(val) [1/3]' in log and 'Iter(val) [2/3]' not in log
    # The checkpoint holds the training's random states, not the validation's: the
    # resumed run logs the losses of the run without validation.
    assert all_losses(runs['tmp'] / 'validation') == all_losses(runs['straight'])


def test_under_gradient_accumulation_the_run_stops_after_the_optimizer_step(runs):
    assert runs['accumulation_status'] == 75
    assert 'SIGTERM during iteration 3, within a gradient accumulation' in \
        runs['accumulation_log']
    assert (runs['accumulated'] / 'iter_4.pth').exists()
    assert not (runs['accumulated'] / f'iter_{STOP_AT}.pth').exists()
    assert 'not divisible by `_accumulative_counts`' not in run_log(runs['accumulated'])
    straight = all_losses(runs['tmp'] / 'accumulated_straight')
    assert all_losses(runs['accumulated']) == straight  # exactly, iteration by iteration


def test_sigterm_during_the_last_iteration_lets_the_run_finish(tmp_path):
    with pytest.MonkeyPatch.context() as patch, SigtermRecorder() as recorder:
        patch.syspath_prepend(str(ROOT / 'tools'))
        patch.setenv('LOCAL_RANK', '0')
        train_in_process(write_config(tmp_path, 'last', max_iters=4, preempt_at=4), tmp_path)
    assert recorder.received == []
    assert 'SIGTERM during the last iteration: the run completes' in run_log(tmp_path)
    assert 'Preempted' not in run_log(tmp_path)
    assert sorted(all_losses(tmp_path)) == [1, 2, 3, 4]


def test_signals_none_leaves_sigterm_to_the_process(tmp_path):
    cfg = Config.fromfile(write_config(tmp_path, 'off', max_iters=4, preempt_at=2))
    cfg.custom_hooks = [dict(type='mim_scaling.PreemptionCheckpointHook', signals=[]),
                        dict(type='PreemptAtHook', iteration=2, wait=False)]
    cfg.update(work_dir=str(tmp_path / 'work'), launcher='none')
    with SigtermRecorder() as recorder:
        Runner.from_cfg(cfg).train()  # to the end
    assert recorder.received == [signal.SIGTERM]
    assert (tmp_path / 'work' / 'iter_4.pth').exists()


@pytest.mark.parametrize('signals', [[], ['SIGUSR1']])
def test_signals_the_hook_leaves_get_their_default_action_back_under_dist_train(
        tmp_path, monkeypatch, signals):
    # tools/dist_train.sh starts the training processes with the signals it forwards
    # ignored, so that one during start-up does not kill them; with signals=[] SIGTERM
    # must then kill them as it would without the hook.
    monkeypatch.setenv(FORWARDED_SIGNALS_VARIABLE, 'TERM USR1')
    cfg = Config.fromfile(write_config(tmp_path, 'off', signals=signals))
    cfg.update(work_dir=str(tmp_path / 'work'), launcher='none')
    ignored = {number: signal.signal(number, signal.SIG_IGN)
               for number in (signal.SIGTERM, signal.SIGUSR1)}
    try:
        Runner.from_cfg(cfg)
        actions = [signal.getsignal(number) for number in ignored]
    finally:
        for number, handler in ignored.items():
            signal.signal(number, handler)
    # SIGUSR1, when the hook handles it, stays ignored until training starts.
    assert actions == [signal.SIG_DFL, signal.SIG_IGN if signals else signal.SIG_DFL]


def test_an_epoch_based_run_stops_after_the_iteration_without_saving(tmp_path):
    # mmengine resumes epoch-based runs at the start of an epoch only: the run stops
    # mid-epoch and --resume takes the last epoch checkpoint.
    cfg = Config.fromfile(write_config(tmp_path, 'epochs', preempt_at=2))
    cfg.train_dataloader.sampler = dict(type='DefaultSampler', shuffle=True)
    cfg.train_cfg = dict(by_epoch=True, max_epochs=2)
    cfg.param_scheduler = None
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1)
    cfg.update(work_dir=str(tmp_path / 'work'), launcher='none')
    with SigtermRecorder() as recorder, pytest.raises(SystemExit) as stopped:
        Runner.from_cfg(cfg).train()
    assert stopped.value.code == PREEMPTED_EXIT_STATUS
    assert 'Epoch-based runs are resumed at the start of an epoch' in str(stopped.value)
    assert max(learning_rates(tmp_path / 'work')) == 2  # of the 3 of the first epoch
    assert not list((tmp_path / 'work').glob('*.pth'))
    assert recorder.received == []


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
    with SigtermRecorder(), pytest.raises(SystemExit) as stopped:
        Runner.from_cfg(cfg).train()
    assert stopped.value.code == PREEMPTED_EXIT_STATUS
    assert (tmp_path / 'work' / f'iter_{STOP_AT}.pth').exists()


def test_unknown_signal_names_are_refused():
    assert PreemptionCheckpointHook(['SIGUSR2', 'TERM']).preemption_signals == (
        signal.SIGUSR2, signal.SIGTERM)
    with pytest.raises(ValueError, match="unknown signal 'SIGTREM'"):
        PreemptionCheckpointHook(['SIGTREM'])
