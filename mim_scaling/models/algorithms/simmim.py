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
    ``predict`` returns each sample's loss (and its reconstruction, for visualisation):
    a validation loop with ``mim_scaling.ReconstructionLoss`` logs it.
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
        """Each sample's masked reconstruction loss, and its reconstruction in input space."""
        pred, target, mask = self._reconstruct(inputs, data_samples)
        if self.with_target_generator and hasattr(self.target_generator, 'denormalize'):
            # The decoder predicts locally normalised pixels: undo that with the statistics of
            # the visible image so that reconstructions can be looked at.
            image = self.target_generator.denormalize(pred, inputs)
        else:
            image = pred
        for i, sample in enumerate(data_samples):
            sample.set_field(self.head.loss(pred[i:i + 1], target[i:i + 1], mask[i:i + 1]),
                             'reconstruction_loss')
            sample.set_field(image[i], 'reconstruction')
        return data_samples

    def forward(self, inputs: torch.Tensor, data_samples: Optional[List[DataSample]] = None,
                mode: str = 'tensor'):
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        return super().forward(inputs, data_samples, mode)
