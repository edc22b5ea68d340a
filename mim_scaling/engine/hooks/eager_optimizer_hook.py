"""Lets mmengine's ``compile=True`` compile the model's training step but not the update."""
import torch
from mmengine.hooks import Hook

from mim_scaling.registry import HOOKS


def keep_update_eager(optim_wrapper) -> None:
    """Makes ``optim_wrapper.update_params`` (backward, clipping, optimizer step) run
    outside ``torch.compile``.

    mmengine's ``compile=True`` compiles ``model.train_step``, optimizer update included.
    Dynamo fails on that update: the optimizer constructor hands the optimizer mmengine
    ``ConfigDict`` parameter groups, which it cannot trace ("'UserDefinedDictVariable' object
    has no attribute 'items'", at the first iteration). Compiling the update would gain
    nothing over the fused AdamW step anyway. With the update left eager, the preprocessor,
    model and loss compile into one graph, and ``loss.backward()`` runs its compiled backward.
    """
    if not getattr(optim_wrapper.update_params, '_eager_update', False):
        update = torch.compiler.disable(optim_wrapper.update_params)
        update._eager_update = True
        optim_wrapper.update_params = update


@HOOKS.register_module()
class EagerOptimizerUpdateHook(Hook):
    """Applies :func:`keep_update_eager` before training when the config sets ``compile``.

    :class:`mim_scaling.engine.Runner` adds it to any config with ``compile=True`` (or a dict of
    ``torch.compile`` options); the Runner compiles the step lazily, at the first iteration,
    so the update is made eager before that.
    """

    def before_train(self, runner) -> None:
        if runner.cfg.get('compile'):
            keep_update_eager(runner.optim_wrapper)
