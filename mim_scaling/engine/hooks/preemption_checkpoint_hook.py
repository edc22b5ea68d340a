"""A run stopped by its cluster (preemption, time limit) loses at most one iteration."""
import os
import signal
from typing import Optional, Sequence

import torch
from mmengine.dist import all_reduce, barrier, get_world_size, is_main_process
from mmengine.hooks import CheckpointHook, Hook

from mim_scaling.registry import HOOKS
from .consolidate_optimizer_hook import consolidate_optimizer_state, saves_after_this_iteration

__all__ = ['PreemptionCheckpointHook', 'Preempted', 'PREEMPTED_EXIT_STATUS',
           'PREEMPTED_FILE_VARIABLE']

# EX_TEMPFAIL of sysexits.h: a temporary failure, to be retried (here: resumed). Distinct
# from 143 (128 + SIGTERM), the status of a process that a SIGTERM killed without saving.
PREEMPTED_EXIT_STATUS = 75
# Set by tools/dist_train.sh and tools/slurm_train.sh: under torchrun, workers that exit
# with 75 would be reported as failed (ChildFailedError traceback), and srun would stop the
# other ranks at the first one; so they exit with 0 and write a note to this file instead,
# and the script exits with 75.
PREEMPTED_FILE_VARIABLE = 'MIM_SCALING_PREEMPTED_FILE'


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

    Epoch-based runs (mmengine resumes them only at the start of an epoch) stop after the
    iteration without saving and resume from their last epoch checkpoint.

    The handlers are installed when training starts (not for test or validation runs) and
    the previous ones restored when it ends. :class:`~mim_scaling.engine.Runner` adds this
    hook to every run; a config that lists it in ``custom_hooks`` chooses the signals
    (``signals=[]`` turns it off).

    Args:
        signals (Sequence[str]): The names of the signals that stop the run.
            Defaults to ``('SIGTERM', 'SIGUSR1')``.
    """

    priority = 'LOWEST'  # after the checkpoint hook, which may have saved the iteration

    def __init__(self, signals: Sequence[str] = ('SIGTERM', 'SIGUSR1')) -> None:
        if isinstance(signals, str):
            signals = [signals]
        self.preemption_signals = tuple(_signal_number(name) for name in signals)
        self._received: Optional[int] = None
        self._previous_handlers = {}
        self._stopped_at: Optional[int] = None
        self._checkpoint: Optional[str] = None

    def _on_signal(self, signum: int, frame) -> None:
        # Only a note: the run acts on it at the end of the iteration.
        if self._received is None:
            self._received = signum

    def before_train(self, runner) -> None:
        self._received, self._stopped_at, self._checkpoint = None, None, None
        try:
            for number in self.preemption_signals:
                self._previous_handlers[number] = signal.signal(number, self._on_signal)
        except ValueError:  # signal handlers can only be set in the main thread
            runner.logger.warning('Training does not run in the main thread, where signal '
                                  'handlers live: a preemption signal will not save a '
                                  'checkpoint.')
            return
        if self.preemption_signals and self._checkpoint_hook(runner) is None:
            runner.logger.warning('There is no checkpoint hook: a preemption signal will stop '
                                  'the run without saving a checkpoint.')

    def after_train(self, runner) -> None:
        for number, handler in self._previous_handlers.items():
            signal.signal(number, handler)
        self._previous_handlers = {}

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
        received = (signal.Signals(self._received).name if self._received is not None
                    else 'a signal on another rank')
        if iteration >= runner.max_iters:
            runner.logger.info(f'{received} during the last iteration: the run completes.')
            return
        self._stopped_at = iteration
        runner.train_loop.stop_training = True
        hook = self._checkpoint_hook(runner)
        if hook is None:
            runner.logger.warning(f'Stopping after iteration {iteration} on {received}, '
                                  'without a checkpoint (there is no checkpoint hook).')
            return
        if hook.by_epoch:  # mmengine's epoch loop would finish the epoch first
            self.after_train(runner)
            self._exit(runner, f'Preempted after iteration {iteration}. Epoch-based runs are '
                       'resumed at the start of an epoch: --resume continues from the last '
                       'epoch checkpoint.')
        if not saves_after_this_iteration(hook, runner):  # else it has just saved
            consolidate_optimizer_state(runner)
            getattr(hook, 'save_checkpoint_now', hook._save_checkpoint)(runner)
        self._checkpoint = hook.last_ckpt
        barrier()  # no rank exits before the checkpoint is in place
        runner.logger.info(f'Stopping after iteration {iteration} on {received}: '
                           f'{self._checkpoint} is saved.')

    def after_run(self, runner) -> None:
        if self._stopped_at is not None:
            self._exit(runner, f'Preempted after iteration {self._stopped_at}; --resume '
                       f'continues from {self._checkpoint or "the last checkpoint"}.')

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
