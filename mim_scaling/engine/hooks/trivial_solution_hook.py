"""Warns when a validation finds the model predicting no more than each window's mean."""
from mmengine.hooks import Hook
from mmengine.optim import LinearLR

from mim_scaling.evaluation.reconstruction_loss import GAIN_KEY
from mim_scaling.registry import HOOKS


def _warmups(runner) -> list:
    """The run's built lr warm-ups: LinearLR schedulers with a rising factor."""
    schedulers = runner.param_schedulers or []
    if isinstance(schedulers, dict):  # one list per optimizer
        schedulers = [s for group in schedulers.values() for s in group]
    return [s for s in schedulers
            if isinstance(s, LinearLR) and s.start_factor < s.end_factor]


@HOOKS.register_module()
class TrivialSolutionHook(Hook):
    """Logs a warning after each validation, from the end of the lr warm-up on, whose gain
    over the zero prediction is below ``threshold`` in magnitude.

    The gain is ``reconstruction/gain`` of :class:`mim_scaling.ReconstructionLoss`,
    ``1 - loss / zero_prediction_loss``. Predicting zero for the normalised target means
    predicting each pixel's local mean: a SimMIM model can settle there within tens of
    iterations, its training loss falling and then staying flat, which a loss curve alone
    does not tell apart from learning. Validations during the warm-up (a LinearLR
    scheduler with a rising factor) are not judged: the model has barely started.

    Args:
        threshold (float): ``|gain|`` below which the model counts as predicting about the
            local mean. Defaults to 0.01: within 1% of the zero prediction's loss.
    """

    priority = 'LOW'

    def __init__(self, threshold: float = 0.01):
        if not threshold > 0:
            raise ValueError(f'threshold must be positive, got {threshold!r}')
        self.threshold = threshold

    def after_val_epoch(self, runner, metrics=None) -> None:
        gain = (metrics or {}).get(GAIN_KEY)
        if gain is None or not abs(gain) < self.threshold:
            return
        if any((runner.epoch if s.by_epoch else runner.iter) < s.end for s in _warmups(runner)):
            return
        runner.logger.warning(
            f'TrivialSolutionHook: at iteration {runner.iter} the validation loss is the loss '
            f'of predicting zero for the normalised target to within {100 * self.threshold:g}% '
            f'({GAIN_KEY} = {gain:.4f}): the model predicts about the local mean of each '
            'window (the trivial solution) and has learnt little beyond it.')
