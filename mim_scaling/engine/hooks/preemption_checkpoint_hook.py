"""A run stopped by its cluster (preemption, time limit) loses at most one iteration."""
import os
import os.path as osp
import signal
from typing import Optional, Sequence, Tuple

import torch
from mmengine.dist import all_reduce, barrier, get_world_size, is_main_process
from mmengine.hooks import CheckpointHook, Hook
from mmengine.optim import OptimWrapperDict

from mim_scaling.registry import HOOKS
from mim_scaling.utils.config_types import type_name
from ..checkpointing.resumable_loop import ResumableIterBasedTrainLoop, ValidationInterrupted
from .consolidate_optimizer_hook import consolidate_optimizer_state

__all__ = ['PreemptionCheckpointHook', 'Preempted', 'PREEMPTED_EXIT_STATUS',
           'PREEMPTED_FILE_VARIABLE', 'FORWARDED_SIGNALS_VARIABLE', 'SignalHold',
           'preemption_signals_of', 'restore_forwarded_signals']

# EX_TEMPFAIL of sysexits.h: a temporary failure, to be retried (here: resumed). Distinct
# from 143 (128 + SIGTERM), the status of a process that a SIGTERM killed without saving.
PREEMPTED_EXIT_STATUS = 75
# Set by tools/dist_train.sh and tools/slurm_train.sh: under torchrun, workers that exit
# with 75 would be reported as failed (ChildFailedError traceback), and srun would stop the
# other ranks at the first one; so they exit with 0 and write a note to this file instead,
# and the script exits with 75.
PREEMPTED_FILE_VARIABLE = 'MIM_SCALING_PREEMPTED_FILE'
# Set by tools/dist_train.sh: the signals it forwards to the training processes, which it
# starts with them ignored (a signal during start-up must not kill them). Those that the
# run's hook does not handle get their default action back when the Runner is built.
FORWARDED_SIGNALS_VARIABLE = 'MIM_SCALING_FORWARDED_SIGNALS'
DEFAULT_SIGNALS = ('SIGTERM', 'SIGUSR1')


class Preempted(SystemExit):
    """Ends a run stopped by a preemption signal; the process exits with status 75."""

    def __init__(self, message: str) -> None:
        super().__init__(PREEMPTED_EXIT_STATUS)
        self.message = message

    def __str__(self) -> str:
        return self.message


def _signal_number(name: str) -> signal.Signals:
    number = getattr(signal, name if name.startswith('SIG') else f'SIG{name}', None)
    if not isinstance(number, signal.Signals) or name.startswith('SIG_'):
        raise ValueError(f'PreemptionCheckpointHook: unknown signal {name!r}; signals are '
                         "named as in Python's signal module, e.g. 'SIGTERM', 'SIGUSR1'")
    return number


def _signal_numbers(signals: Sequence[str]) -> Tuple[signal.Signals, ...]:
    return tuple(_signal_number(name) for name in ([signals] if isinstance(signals, str)
                                                   else signals))


def preemption_signals_of(cfg) -> Tuple[signal.Signals, ...]:
    """The signals that the :class:`PreemptionCheckpointHook` of a config's
    ``custom_hooks`` handles; none without one."""
    for hook in cfg.get('custom_hooks') or []:
        if type_name(hook.get('type')) == PreemptionCheckpointHook.__name__:
            return _signal_numbers(hook.get('signals', DEFAULT_SIGNALS))
    return ()


def restore_forwarded_signals(handled: Sequence[int]) -> None:
    """Gives their default action back to the signals that ``tools/dist_train.sh``
    forwards (it starts the training processes with them ignored), except those in
    ``handled``: with ``signals=[]``, SIGTERM kills a process as it would without the
    hook."""
    for name in os.environ.get(FORWARDED_SIGNALS_VARIABLE, '').split():
        number = _signal_number(name)
        if number not in handled and signal.getsignal(number) == signal.SIG_IGN:
            signal.signal(number, signal.SIG_DFL)


class SignalHold:
    """Notes preemption signals without acting on them, while a run is built or loads its
    checkpoint, for its :class:`PreemptionCheckpointHook` to act on when training starts.

    Without it, a signal then would kill a single process or a slurm task (status 143, no
    requeue), and be dropped under ``tools/dist_train.sh``. The hook takes the hold over
    (its handlers and a held signal) in ``before_train``; :meth:`release` gives the
    signals back to their previous handlers if it has not.

    Args:
        signals (Sequence[int]): The signals to hold.
        received (int, optional): A signal held before, by another hold.
    """

    def __init__(self, signals: Sequence[int], received: Optional[int] = None) -> None:
        self.received = received
        self.previous_handlers = {}
        try:
            for number in signals:
                self.previous_handlers[number] = signal.signal(number, self._note)
        except ValueError:  # not the main thread: nothing can be held
            self.release()

    def _note(self, signum: int, frame) -> None:
        if self.received is None:
            self.received = signum

    def release(self) -> None:
        """Gives the signals back to the handlers they had before the hold."""
        for number, handler in self.previous_handlers.items():
            signal.signal(number, handler)
        self.previous_handlers = {}


def _mid_accumulation(optim_wrapper) -> bool:
    """Whether the optimizer wrapper(s) hold gradients accumulated since their last step
    (``accumulative_counts`` > 1), which a checkpoint would not keep."""
    wrappers = (optim_wrapper.values() if isinstance(optim_wrapper, OptimWrapperDict)
                else [optim_wrapper])
    return any(w._inner_count % w._accumulative_counts != 0 for w in wrappers)


@HOOKS.register_module()
class PreemptionCheckpointHook(Hook):
    """Stops training at a preemption signal, with a checkpoint of the iteration it was on.

    Cluster schedulers send SIGTERM before they preempt a job or end it at its time limit
    (slurm then waits ``KillWait``/``GraceTime`` seconds before SIGKILL), and slurm sends a
    chosen signal ahead of the time limit when asked (``--signal=USR1@180``). On any of
    ``signals``, every rank finishes its current iteration; at the end of each iteration
    the ranks all-reduce whether any of them was signalled, so all stop after the same
    one. The checkpoint hook then saves that iteration (the ZeRO optimizer states
    consolidated first, as for a periodic save) unless it has just saved it, the iteration
    is not followed by validation, the other hooks end the run as usual (logs closed), and
    the process exits with status 75 (:data:`PREEMPTED_EXIT_STATUS`); ``--resume``
    continues from that checkpoint exactly. A signal during the last iteration lets the run
    finish normally.

    - Under gradient accumulation the run stops at the end of the accumulation group, after
      the optimizer step: a checkpoint does not hold accumulated gradients.
    - A signal during a validation of
      :class:`~mim_scaling.engine.ResumableIterBasedTrainLoop` abandons it (the ranks agree
      after each validation batch) and saves the last trained iteration; the validation
      after the last iteration completes.
    - A signal that arrives while :class:`~mim_scaling.engine.Runner` builds the run or
      loads its checkpoint is held until training starts, which then stops before its first
      iteration: nothing was trained since the checkpoint it started from.
    - From the stop on, the signals are ignored, so a repeat (a burst, or slurm's second
      signal) cannot kill the process before it has exited with 75.

    Epoch-based runs (mmengine resumes them only at the start of an epoch) stop after the
    iteration without saving and resume from their last epoch checkpoint.

    The handlers are installed when training starts (not for test or validation runs) and
    the previous ones restored when it ends, unless a signal stopped it.
    :class:`~mim_scaling.engine.Runner` adds this hook to every run; a config that lists it
    in ``custom_hooks`` chooses the signals (``signals=[]`` turns it off: the signals then
    do what they would without it).

    Args:
        signals (Sequence[str]): The names of the signals that stop the run.
            Defaults to ``('SIGTERM', 'SIGUSR1')``.
    """

    priority = 'LOWEST'  # after the checkpoint hook, which may have saved the iteration

    def __init__(self, signals: Sequence[str] = DEFAULT_SIGNALS) -> None:
        self.preemption_signals = _signal_numbers(signals)
        self._received: Optional[int] = None
        self._previous_handlers = {}
        self._stopped_at: Optional[int] = None
        self._checkpoint: Optional[str] = None
        self._waits_for_step = False  # a signal within a gradient accumulation
        self._validation_interrupted = False

    def _on_signal(self, signum: int, frame) -> None:
        # Only a note: the run acts on it at the end of the iteration.
        if self._received is None:
            self._received = signum

    def before_train(self, runner) -> None:
        self._received, self._stopped_at, self._checkpoint = None, None, None
        self._waits_for_step = self._validation_interrupted = False
        try:
            for number in self.preemption_signals:
                self._previous_handlers[number] = signal.signal(number, self._on_signal)
        except ValueError:  # signal handlers can only be set in the main thread
            runner.logger.warning('Training does not run in the main thread, where signal '
                                  'handlers live: a preemption signal will not save a '
                                  'checkpoint.')
            return
        hold = getattr(runner, 'signal_hold', None)
        if hold is not None:  # the handlers from before the hold, and a held signal
            self._previous_handlers.update(hold.previous_handlers)
            hold.previous_handlers = {}
            self._received = self._received or hold.received
        if self.preemption_signals and self._checkpoint_hook(runner) is None:
            runner.logger.warning('There is no checkpoint hook: a preemption signal will stop '
                                  'the run without saving a checkpoint.')
        if self._previous_handlers and self._signalled():  # held during the build
            self._stopped_at = runner.iter
            runner.train_loop.stop_training = True
            self._ignore_signals()
            runner.logger.info(f'{self._received_name()} while the run was built or loaded: '
                               f'stopping before iteration {runner.iter + 1}, with nothing '
                               'trained to save.')

    def after_train(self, runner) -> None:
        if self._stopped_at is None:
            self._restore_handlers()

    def _restore_handlers(self) -> None:
        for number, handler in self._previous_handlers.items():
            signal.signal(number, handler)
        self._previous_handlers, self._received = {}, None

    def _ignore_signals(self) -> None:
        # Ignored, not handled: Python restores the default action of signals it handles
        # while the interpreter shuts down, and a repeat would then still kill the process.
        for number in self._previous_handlers:
            signal.signal(number, signal.SIG_IGN)

    def _received_name(self) -> str:
        return (signal.Signals(self._received).name if self._received is not None
                else 'a signal on another rank')

    @staticmethod
    def _checkpoint_hook(runner) -> Optional[CheckpointHook]:
        return next((hook for hook in runner.hooks if isinstance(hook, CheckpointHook)), None)

    def _signalled(self) -> bool:
        """Whether any rank received a signal; the same answer on every rank."""
        if get_world_size() == 1:
            return self._received is not None
        flag = torch.tensor([0 if self._received is None else 1])
        all_reduce(flag, op='max')
        return bool(flag.item())

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if self._stopped_at is not None or not self._previous_handlers or not self._signalled():
            return
        iteration = runner.iter + 1
        if iteration >= runner.max_iters:
            runner.logger.info(f'{self._received_name()} during the last iteration: the run '
                               'completes.')
            return
        if _mid_accumulation(runner.optim_wrapper):
            if not self._waits_for_step:
                self._waits_for_step = True
                runner.logger.info(f'{self._received_name()} during iteration {iteration}, '
                                   'within a gradient accumulation: the run stops after the '
                                   "accumulation's optimizer step.")
            return
        self._stop(runner, iteration, f'after iteration {iteration}')

    def after_val_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        # Only the resumable loop ends a run from its validation (ValidationInterrupted);
        # the validation of a finished run completes, as its last iteration did.
        if (self._stopped_at is None and self._previous_handlers
                and isinstance(runner.train_loop, ResumableIterBasedTrainLoop)
                and runner.iter < runner.max_iters and self._signalled()):
            self._validation_interrupted = True
            raise ValidationInterrupted(f'{self._received_name()} during validation')

    def after_train_epoch(self, runner) -> None:
        # The loop ends training right after an interrupted validation: the training's
        # random states are back, the checkpoint is that of the last trained iteration.
        if self._validation_interrupted and self._stopped_at is None:
            self._stop(runner, runner.iter,
                       f'during the validation after iteration {runner.iter}')

    def _stop(self, runner, iteration: int, when: str) -> None:
        """Ends training after ``iteration`` and saves its checkpoint."""
        self._stopped_at = iteration
        runner.train_loop.stop_training = True
        self._ignore_signals()
        received = self._received_name()
        hook = self._checkpoint_hook(runner)
        if hook is None:
            runner.logger.warning(f'Stopping {when} on {received}, without a checkpoint '
                                  '(there is no checkpoint hook).')
            return
        if hook.by_epoch:  # mmengine's epoch loop would finish the epoch first
            self._exit(runner, f'Preempted after iteration {iteration}. Epoch-based runs are '
                       'resumed at the start of an epoch: --resume continues from the last '
                       'epoch checkpoint.')
        name = hook.filename_tmpl.format(iteration)
        if hook.last_ckpt is None or osp.basename(hook.last_ckpt) != name:  # else just saved
            consolidate_optimizer_state(runner)
            # The step given: after validation, runner.iter already counts the iteration.
            hook._save_checkpoint_with_step(runner, iteration,
                                            dict(epoch=runner.epoch, iter=iteration))
        self._checkpoint = hook.last_ckpt
        barrier()  # no rank exits before the checkpoint is in place
        runner.logger.info(f'Stopping {when} on {received}: {self._checkpoint} is saved.')

    def after_run(self, runner) -> None:
        if self._stopped_at is not None:
            start = self._checkpoint or ('the start' if self._stopped_at == 0
                                         else 'the last checkpoint')
            self._exit(runner, f'Preempted after iteration {self._stopped_at}; --resume '
                       f'continues from {start}.')

    @staticmethod
    def _exit(runner, message: str) -> None:
        report = os.environ.get(PREEMPTED_FILE_VARIABLE)
        if report:  # a launcher that exits with the status itself
            if os.environ.get('LOCAL_RANK', '0') == '0':
                with open(report, 'w', encoding='utf-8') as f:
                    f.write(f'{message}\n')
            raise SystemExit(0)
        if is_main_process():
            runner.logger.info(f'{message} Exit status {PREEMPTED_EXIT_STATUS}.')
        raise Preempted(message)
