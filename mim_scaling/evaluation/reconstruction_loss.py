"""Mean masked reconstruction loss over a held-out set."""
from typing import Dict, List, Sequence

import torch
from mmengine.evaluator import BaseMetric

from mim_scaling.registry import METRICS


@METRICS.register_module()
class ReconstructionLoss(BaseMetric):
    """Averages the ``reconstruction_loss`` that :class:`mim_scaling.SimMIM` predicts per sample.

    This is the validation loss of the study's training-dynamics figures (SimMIM loss on
    ImageNet-1K val). It is logged as ``reconstruction/loss``.
    """

    default_prefix = 'reconstruction'

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            loss = sample['reconstruction_loss']
            self.results.append(float(loss.item() if isinstance(loss, torch.Tensor) else loss))

    def compute_metrics(self, results: List[float]) -> Dict[str, float]:
        return dict(loss=sum(results) / len(results))
