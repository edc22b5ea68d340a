"""Mean masked reconstruction loss over a held-out set, against the trivial baseline."""
from typing import Dict, List, Sequence, Tuple

import torch
from mmengine.evaluator import BaseMetric

from mim_scaling.registry import METRICS

# What the metric is logged as (``<default_prefix>/<name>``), for readers of the logs.
LOSS_KEY = 'reconstruction/loss'
ZERO_PREDICTION_LOSS_KEY = 'reconstruction/zero_prediction_loss'
GAIN_KEY = 'reconstruction/gain'


def _value(loss) -> float:
    return float(loss.item() if isinstance(loss, torch.Tensor) else loss)


@METRICS.register_module()
class ReconstructionLoss(BaseMetric):
    """Averages the ``reconstruction_loss`` and ``zero_prediction_loss`` that
    :class:`mim_scaling.SimMIM` predicts per sample.

    ``reconstruction/loss`` is the validation loss of the study's training-dynamics figures
    (SimMIM loss on ImageNet-1K val). ``reconstruction/zero_prediction_loss`` is the loss of
    predicting zero for the normalised target on the same images and masks, i.e. each
    window's local mean: the trivial solution. ``reconstruction/gain`` is
    ``1 - loss / zero_prediction_loss`` computed from the two means, not a mean of per-sample
    gains (which images with little to predict, hence a small zero-prediction loss, would
    swing): 0 for a model that predicts about the local mean, 1 for a perfect one, negative
    for one that does worse than predicting zero.
    """

    default_prefix = 'reconstruction'

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            self.results.append((_value(sample['reconstruction_loss']),
                                 _value(sample['zero_prediction_loss'])))

    def compute_metrics(self, results: List[Tuple[float, float]]) -> Dict[str, float]:
        losses, zero_losses = zip(*results)
        loss = sum(losses) / len(losses)
        zero_prediction_loss = sum(zero_losses) / len(zero_losses)
        # A target of zeros (flat images only) leaves nothing to gain: no gain to report.
        gain = 1 - loss / zero_prediction_loss if zero_prediction_loss > 0 else float('nan')
        return dict(loss=loss, zero_prediction_loss=zero_prediction_loss, gain=gain)
