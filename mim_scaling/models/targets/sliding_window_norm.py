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


def _mean_and_variance(sums: torch.Tensor, sums_sq: torch.Tensor, count: torch.Tensor):
    """Mean and unbiased variance of ``count`` values from their sum and sum of squares,
    computed in place over the two sums: the variance is clamped at 0 (cancellation) and is
    0 for a single value (no spread, hence the clamp of n - 1)."""
    mean = sums.div_(count)
    var = sums_sq.div_(count).addcmul_(mean, mean, value=-1)
    return mean, var.mul_(count / (count - 1).clamp(min=1)).clamp_(min=0)


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
        sums = _box_sum(_box_sum(torch.stack([x, x * x]), -1, radius), -2, radius)
        mean, var = _mean_and_variance(*sums, count)
        return mean, var.add_(self.eps).sqrt_()

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Return the normalised target of ``images`` (N, C, H, W), same shape and dtype."""
        mean, std = self.local_statistics(images)
        return (images.double() - mean).div_(std).to(images.dtype)

    @torch.no_grad()
    def visible_statistics(self, images: torch.Tensor, visible: torch.Tensor):
        """(mean, std) of the visible pixels of each pixel's window, in float64.

        ``visible`` (1 = visible, 0 = masked) has the shape of ``images`` or one channel of
        it. The formula is :meth:`local_statistics`' over the visible pixels of the window
        alone, so no masked pixel enters. Where a window holds fewer than two visible
        pixels (a spread needs two), the statistics of all visible pixels of the image and
        channel stand in; at SimMIM's sizes (47-px windows, 32-px mask cells) such windows
        lie inside masked cells whose neighbouring cells are masked too.
        """
        n, c, h, w = images.shape if images.dim() == 4 else (None, ) * 4
        if visible.shape not in ((n, 1, h, w), (n, c, h, w)):
            raise ValueError(f'expected images of shape (N, C, H, W) and visible of shape '
                             f'(N, 1 or C, H, W), got {tuple(images.shape)} and '
                             f'{tuple(visible.shape)}')
        weight = visible.double()
        if not weight.sum((2, 3)).ge(2).all():
            raise ValueError('every image needs at least two visible pixels')
        radius = self.window_size // 2
        x = images.double()
        weighted = torch.stack([x * weight, x * x * weight])
        count = _box_sum(_box_sum(weight, -1, radius), -2, radius)
        mean, var = _mean_and_variance(
            *_box_sum(_box_sum(weighted, -1, radius), -2, radius), count)
        image_mean, image_var = _mean_and_variance(
            *weighted.sum((-2, -1), keepdim=True), weight.sum((-2, -1), keepdim=True))
        too_few = count < 2  # counts of 0/1 weights are exact in float64
        mean = torch.where(too_few, image_mean, mean)
        var = torch.where(too_few, image_var, var)
        return mean, var.add_(self.eps).sqrt_()

    @torch.no_grad()
    def denormalize(self, target: torch.Tensor, images: torch.Tensor,
                    visible: torch.Tensor) -> torch.Tensor:
        """Map a target-space prediction back to image space with the statistics of the
        visible pixels of ``images`` (:meth:`visible_statistics`).

        A reconstruction so drawn shows only what was predicted: a zero prediction becomes
        the local mean of the visible pixels, whatever the masked pixels hold (the
        statistics of the whole image would paint a blurred copy of them). With every pixel
        visible this is the inverse of :meth:`forward`.
        """
        mean, std = self.visible_statistics(images, visible)
        return (target.double() * std + mean).to(target.dtype)

    def extra_repr(self) -> str:
        return f'window_size={self.window_size}, eps={self.eps}'
