"""Gathers a sharded optimizer's states on every rank before a checkpoint is saved."""
from mmengine.hooks import CheckpointHook, Hook

from mim_scaling.registry import HOOKS

__all__ = ['ConsolidateOptimizerStateHook']


@HOOKS.register_module()
class ConsolidateOptimizerStateHook(Hook):
    """Calls ``consolidate_state_dict(to=0)`` on every rank where a ``CheckpointHook`` is
    about to save, so that the main process can write the whole optimizer state.

    For :class:`~mim_scaling.engine.optimizers.ZeroRedundancyOptimizer` (its docstring says
    why); does nothing for other optimizers. Its priority runs it before the checkpoint
    hooks, at the same points and under the same conditions as theirs.
    """

    priority = 'LOW'  # before CheckpointHook's VERY_LOW

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if any(not hook.by_epoch and (
                hook.every_n_train_iters(runner, hook.interval, hook.save_begin)
                or (hook.save_last and hook.is_last_train_iter(runner)))
               for hook in self._checkpoint_hooks(runner)):
            self._consolidate(runner)

    def after_train_epoch(self, runner) -> None:
        if any(hook.by_epoch and (
                hook.every_n_epochs(runner, hook.interval, hook.save_begin)
                or (hook.save_last and hook.is_last_train_epoch(runner)))
               for hook in self._checkpoint_hooks(runner)):
            self._consolidate(runner)

    def after_val_epoch(self, runner, metrics=None) -> None:
        if metrics and any(hook.save_best for hook in self._checkpoint_hooks(runner)):
            self._consolidate(runner)

    @staticmethod
    def _checkpoint_hooks(runner):
        return [hook for hook in runner.hooks if isinstance(hook, CheckpointHook)]

    @staticmethod
    def _consolidate(runner) -> None:
        optimizer = getattr(getattr(runner, 'optim_wrapper', None), 'optimizer', None)
        if hasattr(optimizer, 'consolidate_state_dict'):
            optimizer.consolidate_state_dict(to=0)
