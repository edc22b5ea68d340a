"""SimMIM with a normalised reconstruction target and a validation loss."""
from typing import Dict, List, Optional

import torch
from mmpretrain.models import SimMIM as MMPretrainSimMIM
from mmpretrain.structures import DataSample

from mim_scaling.registry import MODELS


@MODELS.register_module()
class SimMIM(MMPretrainSimMIM):
    """SimMIM (`arXiv:2111.09886 <https://arxiv.org/abs/2111.09886>`_) as used in the study.

    mmpretrain's SimMIM reconstructs the normalised image itself; the study reconstructs a
    target that each pixel's 47x47 neighbourhood normalises (``target_generator``, e.g.
    ``mim_scaling.SlidingWindowNormTarget``). Only the target is normalised, never the
    prediction. The study also tracks the reconstruction loss on a held-out set, so
    ``predict`` returns each sample's loss, next to the loss of predicting zero (the trivial
    solution that a collapsed model finds), and both reconstructions, for visualisation: a
    validation loop with ``mim_scaling.ReconstructionLoss`` logs the two losses.
    """

    def _reconstruct(self, inputs: torch.Tensor, data_samples: List[DataSample]):
        mask = torch.stack([sample.mask for sample in data_samples]).to(inputs.device)
        latent = self.backbone(inputs, mask)
        pred = self.neck(latent[0])
        if self.with_target_generator:
            with torch.no_grad():
                target = self.target_generator(inputs)
        else:
            target = inputs
        return pred, target, mask

    def loss(self, inputs: torch.Tensor, data_samples: List[DataSample],
             **kwargs) -> Dict[str, torch.Tensor]:
        pred, target, mask = self._reconstruct(inputs, data_samples)
        return dict(loss=self.head.loss(pred, target, mask))

    def predict(self, inputs: torch.Tensor,
                data_samples: List[DataSample]) -> List[DataSample]:
        """Each sample's masked reconstruction loss and the loss of predicting zero, and both
        predictions in input space (``reconstruction``, ``zero_prediction_reconstruction``)."""
        pred, target, mask = self._reconstruct(inputs, data_samples)
        # The trivial baseline: zero for the normalised target is each window's local mean.
        zero = torch.zeros_like(pred)
        if self.with_target_generator and hasattr(self.target_generator, 'denormalize'):
            # With the statistics of the visible pixels alone, so that a figure shows what was
            # predicted and nothing of the masked pixels.
            patch = self.head.patch_size
            visible = mask.repeat_interleave(patch, 1).repeat_interleave(patch, 2)[:, None] == 0
            image = self.target_generator.denormalize(pred, inputs, visible)
            zero_image = self.target_generator.denormalize(zero, inputs, visible)
        else:
            image, zero_image = pred, zero
        for i, sample in enumerate(data_samples):
            sample.set_field(self.head.loss(pred[i:i + 1], target[i:i + 1], mask[i:i + 1]),
                             'reconstruction_loss')
            sample.set_field(self.head.loss(zero[i:i + 1], target[i:i + 1], mask[i:i + 1]),
                             'zero_prediction_loss')
            sample.set_field(image[i], 'reconstruction')
            sample.set_field(zero_image[i], 'zero_prediction_reconstruction')
        return data_samples

    def forward(self, inputs: torch.Tensor, data_samples: Optional[List[DataSample]] = None,
                mode: str = 'tensor'):
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        return super().forward(inputs, data_samples, mode)
