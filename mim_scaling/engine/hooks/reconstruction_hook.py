"""Saves a figure of SimMIM reconstructions of validation images after each validation."""
import shutil

from mmengine.dist import master_only
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mim_scaling.registry import HOOKS
from mim_scaling.visualization import display_batch, save_reconstruction_figure


@HOOKS.register_module()
class ReconstructionVisualizationHook(Hook):
    """Writes ``<work_dir>/reconstructions/iter_<n>.png`` (original, masked input, zero
    prediction and reconstruction of ``num_images`` validation images, evenly spaced through
    the first batch) and a copy of the latest as ``<work_dir>/reconstruction.png``.

    Both predictions are drawn with the statistics of the visible pixels alone
    (:meth:`mim_scaling.SlidingWindowNormTarget.denormalize`): the zero prediction is the
    local mean of what the model saw, and the reconstruction shows nothing beyond it that
    the model did not predict.

    The validation images and masks are the same every time (the validation mask generator
    is seeded per sample), so the figures show how one reconstruction evolves.
    """

    priority = 'LOW'

    def __init__(self, num_images: int = 4):
        self.num_images = num_images
        self._batch = None

    @master_only
    def after_val_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if batch_idx != 0 or outputs is None:
            return
        # Evenly spaced, not the first few: a data set stored class by class (the patterns
        # of make demo) shows several classes, not one.
        n = min(self.num_images, len(outputs))
        picked = [round(i * (len(outputs) - 1) / max(n - 1, 1)) for i in range(n)]
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        self._batch = display_batch(model, data_batch['inputs'][picked],
                                    [outputs[i] for i in picked])

    @master_only
    def after_val_epoch(self, runner, metrics=None) -> None:
        if self._batch is None:
            return
        out = save_reconstruction_figure(
            *self._batch, f'{runner.work_dir}/reconstructions/iter_{runner.iter}.png')
        latest = f'{runner.work_dir}/reconstruction.png'
        shutil.copyfile(out, latest)
        self._batch = None
        runner.logger.info(f'Reconstructions written to {latest}')
