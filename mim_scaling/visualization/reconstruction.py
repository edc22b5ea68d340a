"""Figure of SimMIM reconstructions: original, masked input, reconstruction."""
from pathlib import Path
from typing import Sequence, Union

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402


def reconstruction_panels(images: torch.Tensor, masks: torch.Tensor,
                          reconstructions: torch.Tensor):
    """RGB panels in [0, 1] of shape (B, 3, H, W) each: original, masked, reconstruction.

    ``images`` and ``reconstructions`` are RGB in [0, 1]; ``masks`` is the (B, h, w) patch mask
    (1 = masked). The reconstruction keeps the visible pixels and shows the prediction where
    the model had to fill in, as in the study's figures.
    """
    H, W = images.shape[-2:]
    pixel_mask = F.interpolate(masks[:, None].float(), size=(H, W), mode='nearest')
    masked = images * (1 - pixel_mask) + 0.5 * pixel_mask
    filled = images * (1 - pixel_mask) + reconstructions.clamp(0, 1) * pixel_mask
    return images, masked, filled


def save_reconstruction_figure(images: torch.Tensor, masks: torch.Tensor,
                               reconstructions: torch.Tensor, out_file: Union[str, Path],
                               titles: Sequence[str] = ('original', 'masked', 'reconstruction')
                               ) -> Path:
    """One row per image, one column per panel of :func:`reconstruction_panels`."""
    panels = reconstruction_panels(images.float().cpu(), masks.cpu(),
                                   reconstructions.float().cpu())
    rows = images.shape[0]
    fig, axes = plt.subplots(rows, 3, figsize=(3 * 2.2, rows * 2.2), dpi=110, squeeze=False)
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
