"""The finite-loss optimizer wrapper with the forward pass autocast to bfloat16."""
from contextlib import contextmanager

import torch
from mmengine.runner.amp import autocast

from mim_scaling.registry import OPTIM_WRAPPERS
from .finite_loss_optim_wrapper import FiniteLossOptimWrapper

__all__ = ['BF16FiniteLossOptimWrapper']


@OPTIM_WRAPPERS.register_module()
class BF16FiniteLossOptimWrapper(FiniteLossOptimWrapper):
    """:class:`FiniteLossOptimWrapper` whose forward pass runs under bf16 autocast.

    bf16 keeps fp32's exponent range, so it needs none of the loss scaling that mmengine's
    ``AmpOptimWrapper`` brings for fp16; a non-finite loss is handled as in
    :class:`FiniteLossOptimWrapper` (stop or skip). Weights, gradients and optimizer states
    stay fp32. Works on GPUs and, slowly, on CPUs.
    """

    @contextmanager
    def optim_context(self, model: torch.nn.Module):
        # cache_enabled=False as in mmengine's AmpOptimWrapper: autocast's cache of cast
        # weights does not survive activation checkpointing's recomputation.
        with super().optim_context(model), autocast(dtype=torch.bfloat16, cache_enabled=False):
            yield
