"""Saves the untrained weights as ``iter_0.pth``."""
from mmengine.hooks import Hook

from mim_scaling.registry import HOOKS


@HOOKS.register_module()
class InitialCheckpointHook(Hook):
    """Writes ``iter_0.pth`` (weights only) into the work dir before the first iteration.

    The random initialisation of a run's seed then goes through the same loading path as its
    trained checkpoints (e.g. ``tools/analysis/knn_probe.py``): a control whose difference to
    a trained checkpoint can only come from training.
    """

    priority = 'LOW'  # after every hook that initialises or loads weights before training

    def before_train(self, runner) -> None:
        if runner.iter == 0:  # not again when a run resumes
            runner.save_checkpoint(runner.work_dir, 'iter_0.pth', save_optimizer=False,
                                   save_param_scheduler=False)
