"""A run resumed with another number of processes or per-GPU batch: what changed, and the
learning rates scaled to the new total batch when ``auto_scale_lr`` asks for it.

mmengine's ``Runner.scale_lr`` scales the config's learning rates before the resumed
optimizer and schedulers replace them with the checkpoint's, so on resume its scaling is
lost. :func:`scale_learning_rates` applies the linear scaling rule to the resumed state
instead, after it is loaded.
"""
from typing import Dict, Iterator

from mmengine.optim import OptimWrapperDict

__all__ = ['train_batch', 'total_batch', 'describe_batch', 'scale_learning_rates']

# Learning rates kept in param groups: the lr, the one schedulers start from, and the
# bounds of mmengine's OneCycle scheduler.
_GROUP_LR_KEYS = ('lr', 'initial_lr', 'max_lr', 'min_lr')
# Absolute learning rates held by mmengine's lr schedulers.
_SCHEDULER_LR_LISTS = ('base_values', '_last_value', 'min_values')
_SCHEDULER_LR_VALUES = ('eta_min', )


def train_batch(world_size: int, batch_size: int, accumulative_counts: int = 1) -> Dict:
    """The batch of a training run, as checkpoints record it."""
    return dict(world_size=int(world_size), batch_size=int(batch_size),
                accumulative_counts=int(accumulative_counts))


def total_batch(batch: Dict) -> int:
    """Samples per optimizer step: processes x per-GPU batch x gradient accumulation."""
    return batch['world_size'] * batch['batch_size'] * batch.get('accumulative_counts', 1)


def describe_batch(batch: Dict) -> str:
    """E.g. '2 processes x 4 = 8', with the gradient accumulation if any."""
    processes = 'process' if batch['world_size'] == 1 else 'processes'
    text = f"{batch['world_size']} {processes} x {batch['batch_size']}"
    if batch.get('accumulative_counts', 1) != 1:
        text += f" x {batch['accumulative_counts']} accumulated"
    return f'{text} = {total_batch(batch)}'


def _param_groups(optim_wrapper) -> Iterator[dict]:
    """The optimizers' param groups and, with several groups, the wrapper's
    ``base_param_settings``, whose lr is the ``base_lr`` that the log shows."""
    wrappers = (optim_wrapper.values() if isinstance(optim_wrapper, OptimWrapperDict)
                else [optim_wrapper])
    for wrapper in wrappers:
        yield from wrapper.param_groups


def _lr_schedulers(param_schedulers) -> Iterator:
    if param_schedulers is None:
        return
    if isinstance(param_schedulers, dict):
        for schedulers in param_schedulers.values():
            yield from _lr_schedulers(schedulers)
        return
    for scheduler in param_schedulers if isinstance(param_schedulers, list) else [
            param_schedulers]:
        if getattr(scheduler, 'param_name', None) == 'lr':
            yield scheduler


def scale_learning_rates(optim_wrapper, param_schedulers, ratio: float) -> None:
    """Multiplies every learning rate of the optimizer(s) and of their lr schedulers
    (current, initial and base values, ``eta_min`` and the like) by ``ratio``, so that
    the rest of the schedule is the resumed one scaled by ``ratio``."""
    for group in _param_groups(optim_wrapper):
        for key in _GROUP_LR_KEYS:
            if key in group:
                group[key] = group[key] * ratio
    for scheduler in _lr_schedulers(param_schedulers):
        for name in _SCHEDULER_LR_LISTS:
            if getattr(scheduler, name, None) is not None:
                setattr(scheduler, name, [value * ratio for value in getattr(scheduler, name)])
        for name in _SCHEDULER_LR_VALUES:
            if getattr(scheduler, name, None) is not None:
                setattr(scheduler, name, getattr(scheduler, name) * ratio)
