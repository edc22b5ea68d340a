"""Gathers a sharded optimizer's states on every rank before a checkpoint is saved."""
from mmengine.hooks import CheckpointHook, Hook

from mim_scaling.registry import HOOKS

__all__ = ['ConsolidateOptimizerStateHook', 'consolidate_optimizer_state']


def saves_after_this_iteration(hook: CheckpointHook, runner) -> bool:
    """Whether an iteration-based ``hook`` saves a checkpoint in this ``after_train_iter``."""
    return not hook.by_epoch and bool(
        hook.every_n_train_iters(runner, hook.interval, hook.save_begin)
        or (hook.save_last and hook.is_last_train_iter(runner)))


def consolidate_optimizer_state(runner) -> None:
    """Gathers a sharded optimizer's states on rank 0 (every rank must call it); does
    nothing for other optimizers."""
    optimizer = getattr(getattr(runner, 'optim_wrapper', None), 'optimizer', None)
    if hasattr(optimizer, 'consolidate_state_dict'):
        optimizer.consolidate_state_dict(to=0)


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
        if any(saves_after_this_iteration(hook, runner)
               for hook in self._checkpoint_hooks(runner)):
            consolidate_optimizer_state(runner)

    def after_train_epoch(self, runner) -> None:
        if any(hook.by_epoch and (
                hook.every_n_epochs(runner, hook.interval, hook.save_begin)
                or (hook.save_last and hook.is_last_train_epoch(runner)))
               for hook in self._checkpoint_hooks(runner)):
            consolidate_optimizer_state(runner)

    def after_val_epoch(self, runner, metrics=None) -> None:
        if metrics and any(hook.save_best for hook in self._checkpoint_hooks(runner)):
            consolidate_optimizer_state(runner)

    @staticmethod
    def _checkpoint_hooks(runner):
        return [hook for hook in runner.hooks if isinstance(hook, CheckpointHook)]
