"""Keeps a loss-curve PNG of the run up to date in its work dir."""
import os.path as osp

from mmengine.dist import master_only
from mmengine.hooks import Hook

from mim_scaling.registry import HOOKS
from mim_scaling.visualization import plot_loss_curves


@HOOKS.register_module()
class LossCurveHook(Hook):
    """Plots train and validation loss, with the validation loss of predicting zero (the
    trivial baseline), to ``<work_dir>/<filename>`` after every validation and at the end of
    training, from the scalar logs (so resumed runs plot whole).

    Needs ``LocalVisBackend`` among the visualizer's backends, and, for iteration-based
    training, ``LoggerHook(log_metric_by_epoch=False)`` so that validation losses are logged
    at their iteration.
    """

    priority = 'VERY_LOW'  # after LoggerHook has written the scalars of this step

    def __init__(self, filename: str = 'loss_curve.png'):
        self.filename = filename

    @master_only
    def _plot(self, runner) -> None:
        out = f'{runner.work_dir}/{self.filename}'
        try:
            plot_loss_curves({osp.basename(osp.normpath(runner.work_dir)): runner.work_dir}, out)
        except FileNotFoundError as e:
            runner.logger.warning(f'LossCurveHook: {e}')
            return
        runner.logger.info(f'Loss curve written to {out}')

    def after_val_epoch(self, runner, metrics=None) -> None:
        self._plot(runner)

    def after_train(self, runner) -> None:
        self._plot(runner)
