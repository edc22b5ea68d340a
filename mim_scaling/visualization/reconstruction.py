"""Figure of SimMIM reconstructions: original, masked input, the zero prediction, and the
reconstructions of one or several models for the same masks."""
from pathlib import Path
from typing import Optional, Sequence, Tuple, Union

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402


def display_batch(model, inputs: torch.Tensor, data_samples: Sequence
                  ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(images, masks, zero predictions, reconstructions) to draw, RGB in [0, 1] on the CPU.

    ``inputs`` are the images as the data loader gives them to the model (0-255, in the
    channel order that its data preprocessor converts from); ``data_samples`` are the
    predictions of ``mim_scaling.SimMIM`` for them (``mask``, ``reconstruction`` and
    ``zero_prediction_reconstruction`` each).
    """
    pre = model.data_preprocessor
    images = inputs.float().cpu()
    if getattr(pre, '_channel_conversion', False):
        images = images[:, [2, 1, 0]]
    mean = pre.mean.detach().float().cpu().view(1, -1, 1, 1)
    std = pre.std.detach().float().cpu().view(1, -1, 1, 1)

    def to_display(field):
        normalised = torch.stack([getattr(s, field).detach().float().cpu() for s in data_samples])
        return (normalised * std + mean) / 255.

    masks = torch.stack([s.mask.detach().cpu() for s in data_samples])
    return (images / 255., masks, to_display('zero_prediction_reconstruction'),
            to_display('reconstruction'))


def reconstruction_panels(images: torch.Tensor, masks: torch.Tensor,
                          *reconstructions: torch.Tensor):
    """RGB panels in [0, 1] of shape (B, 3, H, W) each: original, masked, and one
    reconstruction per tensor of ``reconstructions`` (e.g. the zero prediction and those of
    several checkpoints).

    ``images`` and ``reconstructions`` are RGB in [0, 1]; ``masks`` is the (B, h, w) patch mask
    (1 = masked). A reconstruction keeps the visible pixels and shows the prediction where
    the model had to fill in, as in the study's figures.
    """
    H, W = images.shape[-2:]
    pixel_mask = F.interpolate(masks[:, None].float(), size=(H, W), mode='nearest')
    masked = images * (1 - pixel_mask) + 0.5 * pixel_mask
    filled = [images * (1 - pixel_mask) + r.clamp(0, 1) * pixel_mask for r in reconstructions]
    return (images, masked, *filled)


def save_reconstruction_figure(images: torch.Tensor, masks: torch.Tensor,
                               zero_prediction: torch.Tensor,
                               reconstructions: Union[torch.Tensor, Sequence[torch.Tensor]],
                               out_file: Union[str, Path],
                               titles: Optional[Sequence[str]] = None) -> Path:
    """One row per image; columns: original, masked, the zero prediction and the
    reconstructions (:func:`reconstruction_panels`).

    ``reconstructions`` is one (B, 3, H, W) tensor or a sequence of them, one per model, all
    for the same masks; ``titles`` names their columns. The zero prediction (each window's
    mean over the visible pixels, what predicting zero for the normalised target draws) is
    the baseline beside them: what a model shows beyond it, it predicted.
    """
    if isinstance(reconstructions, torch.Tensor):
        reconstructions = [reconstructions]
    if titles is None:
        titles = (['reconstruction'] if len(reconstructions) == 1 else
                  [f'reconstruction {i + 1}' for i in range(len(reconstructions))])
    if len(titles) != len(reconstructions):
        raise ValueError(f'{len(titles)} titles for {len(reconstructions)} reconstructions')
    titles = ['original', 'masked', 'zero prediction\n(visible local mean)', *titles]
    panels = reconstruction_panels(images.float().cpu(), masks.cpu(),
                                   zero_prediction.float().cpu(),
                                   *[r.float().cpu() for r in reconstructions])
    rows, cols = images.shape[0], len(panels)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 2.2, rows * 2.2), dpi=110,
                             squeeze=False)
    for r in range(rows):
        for c, panel in enumerate(panels):
            ax = axes[r][c]
            ax.imshow(np.ascontiguousarray(panel[r].permute(1, 2, 0).numpy()))
            ax.set_axis_off()
            if r == 0:
                ax.set_title(titles[c], fontsize=9)
    fig.tight_layout()
    out_file = Path(out_file)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_file)
    plt.close(fig)
    return out_file
