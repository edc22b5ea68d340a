"""SimMIM's reconstruction target: pixels normalised by their local mean and spread."""
import numbers

import torch
import torch.nn.functional as F
from torch import nn

from mim_scaling.registry import MODELS


def _box_sum(x: torch.Tensor, dim: int, radius: int) -> torch.Tensor:
    """Sum over a centred window of ``2 * radius + 1`` along ``dim`` (< 0), cut at the borders.

    With ``radius + 1`` zeros before and ``radius`` after, the window of output ``i`` is the
    difference of the padded cumulative sum at ``i + 2 * radius + 1`` and at ``i``: two
    shifted slices, so the cost does not depend on the window size.
    """
    size = x.shape[dim]
    padding = [0, 0] * (-dim - 1) + [radius + 1, radius]
    csum = F.pad(x, padding).cumsum(dim)
    return csum.narrow(dim, 2 * radius + 1, size) - csum.narrow(dim, 0, size)


def _window_count(size: int, radius: int, device) -> torch.Tensor:
    """Number of positions of each centred window that fall inside ``range(size)``."""
    idx = torch.arange(size, device=device)
    return (idx + radius + 1).clamp(max=size) - (idx - radius).clamp(min=0)


@MODELS.register_module()
class SlidingWindowNormTarget(nn.Module):
    """Normalises each pixel of each channel by the mean and spread of its neighbourhood.

    For a ``window_size`` x ``window_size`` window centred on the pixel, cut at the image
    borders (only the ``n`` pixels inside the image count):
    ``target = (x - mean) / sqrt(var + eps)`` with ``mean`` the window average and ``var``
    the unbiased window variance ``(mean(x^2) - mean^2) * n / (n - 1)``, clamped at 0 (and 0
    where ``n == 1``). This equals SimMIM's formula with ``avg_pool2d(kernel=window_size,
    stride=1, padding=window_size // 2, count_include_pad=False)`` but runs as a separable
    cumulative-sum box filter, in O(1) per pixel whatever the window.

    Sums are accumulated in float64: in flat regions the variance is a tiny difference of
    two large terms, and float32 cancellation error there would be blown up by the division.
    The result has the input's dtype and carries no gradient.

    Args:
        window_size (int): Odd side of the window in pixels. Defaults to 47.
        eps (float): Added to the variance before the square root. Defaults to 1e-6.
    """

    def __init__(self, window_size: int = 47, eps: float = 1e-6) -> None:
        super().__init__()
        if (not isinstance(window_size, numbers.Integral) or isinstance(window_size, bool)
                or window_size <= 0 or window_size % 2 == 0):
            raise ValueError(f'window_size must be a positive odd integer, got {window_size!r}')
        if not eps >= 0:
            raise ValueError(f'eps must be non-negative, got {eps!r}')
        self.window_size = int(window_size)
        self.eps = eps

    @torch.no_grad()
    def local_statistics(self, images: torch.Tensor):
        """(mean, std) of each pixel's window, in float64, each of the shape of ``images``."""
        if images.dim() != 4:
            raise ValueError(f'expected images of shape (N, C, H, W), got {tuple(images.shape)}')
        if not images.is_floating_point():
            raise ValueError(f'expected floating-point images, got {images.dtype}')
        radius = self.window_size // 2
        height, width = images.shape[-2:]
        count = (_window_count(height, radius, images.device)[:, None]
                 * _window_count(width, radius, images.device)[None, :]).double()
        x = images.double()
        # One pass of the filter for x and x^2 together, then fused in-place steps: fewer
        # passes over memory and fewer allocations, which matters more than the arithmetic.
        means = _box_sum(_box_sum(torch.stack([x, x * x]), -1, radius), -2, radius).div_(count)
        mean, mean_sq = means.unbind(0)
        # A single-pixel window has no spread, hence the clamp of n - 1.
        var = mean_sq.addcmul_(mean, mean, value=-1).mul_(count / (count - 1).clamp(min=1))
        return mean, var.clamp_(min=0).add_(self.eps).sqrt_()

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Return the normalised target of ``images`` (N, C, H, W), same shape and dtype."""
        mean, std = self.local_statistics(images)
        return (images.double() - mean).div_(std).to(images.dtype)

    @torch.no_grad()
    def denormalize(self, target: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        """Map a target-space prediction back to image space with the statistics of
        ``images`` (for looking at reconstructions: inverse of :meth:`forward`)."""
        mean, std = self.local_statistics(images)
        return (target.double() * std + mean).to(target.dtype)

    def extra_repr(self) -> str:
        return f'window_size={self.window_size}, eps={self.eps}'
