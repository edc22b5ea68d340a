"""An optimizer wrapper that never steps on a non-finite loss."""
import logging

import torch
import torch.distributed as dist
from mmengine.logging import MessageHub, print_log
from mmengine.optim import OptimWrapper

from mim_scaling.registry import OPTIM_WRAPPERS
from .clip_grad import clip_grad_norm_

__all__ = ['FiniteLossOptimWrapper', 'NonFiniteError']

SKIPPED_KEY = 'train/non_finite_skipped'


class NonFiniteError(RuntimeError):
    """Training met a non-finite loss or non-finite weights and stopped."""


def last_checkpoint_note() -> str:
    last = MessageHub.get_current_instance().get_info('last_ckpt')
    if last is None:
        return 'No checkpoint was saved before it.'
    return (f'The last checkpoint, {last}, has finite weights: resume from it '
            '(tools/train.py CONFIG --resume) with, e.g., a lower learning rate.')


@OPTIM_WRAPPERS.register_module()
class FiniteLossOptimWrapper(OptimWrapper):
    """mmengine's ``OptimWrapper`` that takes no step with a non-finite loss.

    Before the backward pass, the ranks agree (one all-reduce of a flag) on whether every
    rank's loss is finite. If not:

    - ``non_finite='stop'`` (default): raises :class:`NonFiniteError` naming the iteration
      and the last checkpoint, before the weights are touched;
    - ``non_finite='skip'``: no backward, no step (with gradient accumulation, the whole
      accumulated step is dropped); the running count is logged as ``non_finite_skipped``.

    Gradient-norm clipping (``clip_grad=dict(max_norm=...)``) is PyTorch's, skipping the
    multiplication by 1 when the norm is within bounds (:func:`clip_grad_norm_`).

    For fp16, use mmengine's ``AmpOptimWrapper`` instead (``tools/train.py --amp``): its
    dynamic loss scale already skips steps with non-finite gradients and adjusts the scale.

    Args:
        optimizer: As for ``OptimWrapper``.
        non_finite (str): ``'stop'`` or ``'skip'``.
        **kwargs: ``accumulative_counts``, ``clip_grad``: as for ``OptimWrapper``.
    """

    def __init__(self, optimizer, non_finite: str = 'stop', **kwargs) -> None:
        if non_finite not in ('stop', 'skip'):
            raise ValueError(f"optim_wrapper.non_finite must be 'stop' or 'skip', got "
                             f'{non_finite!r}')
        super().__init__(optimizer, **kwargs)
        if getattr(self, 'clip_func', None) is torch.nn.utils.clip_grad_norm_:
            self.clip_func = clip_grad_norm_
        self.non_finite = non_finite
        self._skip_accumulated = False

    def update_params(self, loss: torch.Tensor, step_kwargs=None, zero_kwargs=None) -> None:
        if self._finite_on_all_ranks(loss):
            self.backward(self.scale_loss(loss))
        else:
            self._handle_non_finite(loss)
            self._inner_count += 1  # the micro-batch counts, as if backward had run
            self._skip_accumulated = True
        if self.should_update():
            if not self._skip_accumulated:
                self.step(**(step_kwargs or {}))
            self.zero_grad(**(zero_kwargs or {}))
            self._skip_accumulated = False

    @staticmethod
    def _finite_on_all_ranks(loss: torch.Tensor) -> bool:
        finite = torch.isfinite(loss.detach()).all().to(torch.int32)
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            dist.all_reduce(finite, op=dist.ReduceOp.MIN)
        return bool(finite)

    def _handle_non_finite(self, loss: torch.Tensor) -> None:
        hub = MessageHub.get_current_instance()
        iteration = hub.get_info('iter', 0) + 1  # numbered as in the log
        value = loss.detach().float().cpu()
        if torch.isfinite(value).all():
            what = f'The loss is not finite on another rank at iteration {iteration}'
        else:
            shown = value.item() if value.numel() == 1 else value.tolist()
            what = f'The loss is {shown} at iteration {iteration}'
        if self.non_finite == 'stop':
            raise NonFiniteError(
                f'{what}: training stopped before the step, the weights are still finite. '
                f'{last_checkpoint_note()} To skip such steps instead, set '
                "optim_wrapper.non_finite='skip'.")
        skipped = 1
        if SKIPPED_KEY in hub.log_scalars:  # the count goes on after a resume
            skipped += int(hub.log_scalars[SKIPPED_KEY].current())
        hub.update_scalar(SKIPPED_KEY, skipped)
        print_log(f'{what}: step skipped ({skipped} so far).', logger='current',
                  level=logging.WARNING)
