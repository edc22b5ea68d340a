"""SwinV2 backbone for SimMIM pre-training and dense transfer.

The math and the parameter names follow the authors' reference implementation, so that
their released SimMIM checkpoints load after stripping the ``encoder.`` prefix: scaled cosine
attention with a per-head logit scale, q/v biases, a continuous relative position bias (an MLP
over log-spaced offsets), residual post-norm, and patch merging at the *end* of each stage.

What this file adds to the reference: attention through
``torch.nn.functional.scaled_dot_product_attention`` (and, for fp32 training on the CPU, a
hand-written autograd function of the same math in fewer memory passes), inputs of any size
(padded to the window grid, as detection needs), NCHW outputs of any stage with one norm
each, a SimMIM mask token, activation checkpointing, frozen stages and layer ids for
layer-wise lr decay.
"""
import functools
import math
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmengine.logging import MMLogger
from mmengine.model import BaseModule
from mmengine.runner.checkpoint import CheckpointLoader
from timm.layers import DropPath, Mlp

from mim_scaling.registry import MODELS
from .swinv2_convert import pretrained_window_sizes
from .swinv2_key_mapping import mismatch_message, to_backbone_state_dict, unwrap_state_dict

ARCH_SETTINGS = {
    # SwinV2-T is not part of the study; it is the well-known small member of the family.
    'tiny': dict(embed_dims=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24)),
    'small': dict(embed_dims=96, depths=(2, 2, 18, 2), num_heads=(3, 6, 12, 24)),
    'base': dict(embed_dims=128, depths=(2, 2, 18, 2), num_heads=(4, 8, 16, 32)),
    'large': dict(embed_dims=192, depths=(2, 2, 18, 2), num_heads=(6, 12, 24, 48)),
    'huge': dict(embed_dims=352, depths=(2, 2, 18, 2), num_heads=(11, 22, 44, 88)),
    'giant': dict(embed_dims=448, depths=(2, 2, 18, 2), num_heads=(14, 28, 56, 112)),
}

# Parameters that get no weight decay besides the 1-D ones (norms, biases, q/v biases), as in
# the reference implementation: substrings of parameter names.
NO_WEIGHT_DECAY_KEYS = ('mask_token', 'cpb_mlp', 'logit_scale')

_Pair = Tuple[int, int]
_NORM_EPS = 1e-12  # F.normalize's


def _pair(x: Union[int, Sequence[int]]) -> _Pair:
    return (x, x) if isinstance(x, int) else tuple(x)


def stage_window(resolution: Sequence[int], window: Sequence[int]) -> Tuple[_Pair, _Pair]:
    """(window, shift) of a stage whose token map is ``resolution`` (h, w) and whose window
    is ``window`` (h, w): a window that would cover the whole map shrinks to it and stops
    shifting, as in the reference; otherwise the shift is half the window."""
    window = tuple(r if r <= w else w for r, w in zip(resolution, window))
    shift = tuple(0 if r <= w else w // 2 for r, w in zip(resolution, window))
    return window, shift


def window_partition(x: torch.Tensor, window: _Pair) -> torch.Tensor:
    """(B, H, W, C) -> (B, num_windows, wh * ww, C); H and W are multiples of the window."""
    B, H, W, C = x.shape
    x = x.view(B, H // window[0], window[0], W // window[1], window[1], C)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(B, -1, window[0] * window[1], C)


def window_reverse(windows: torch.Tensor, window: _Pair, H: int, W: int) -> torch.Tensor:
    """Inverse of :func:`window_partition`."""
    B, C = windows.shape[0], windows.shape[-1]
    x = windows.view(B, H // window[0], W // window[1], window[0], window[1], C)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(B, H, W, C)


@functools.lru_cache(maxsize=64)
def shift_mask(H: int, W: int, window: _Pair, shift: _Pair, device: torch.device) -> torch.Tensor:
    """(num_windows, N, N) mask, -100 between tokens that the cyclic shift brought together
    from apart. It depends only on the sizes, so every shifted block of a stage shares one
    (cached: the tensor must not be modified in place)."""
    # A plain tensor even when first asked for under inference_mode, as training reuses it.
    with torch.inference_mode(False), torch.no_grad():
        region = torch.zeros(1, H, W, 1, device=device)
        label = 0
        for hs in (slice(0, -window[0]), slice(-window[0], -shift[0]), slice(-shift[0], None)):
            for ws in (slice(0, -window[1]), slice(-window[1], -shift[1]),
                       slice(-shift[1], None)):
                region[:, hs, ws, :] = label
                label += 1
        region = window_partition(region, window).squeeze(-1)[0]  # (nW, N)
        diff = region.unsqueeze(1) - region.unsqueeze(2)
        return diff.masked_fill(diff != 0, -100.0)


class _CosineAttentionCPU(torch.autograd.Function):
    """SwinV2's attention from the qkv projection to the heads' outputs, for fp32 training
    on the CPU: ``softmax(s * q/|q| @ (k/|k|)^T + bias) @ v`` with gradients for qkv, the
    temperature ``s`` and the bias.

    It computes what the generic path computes with ``F.normalize`` and SDPA, in fewer passes
    over memory, which on the CPU bound everything but the matrix products: SDPA takes its
    math fallback there when the bias needs a gradient, normalising through autograd is some
    ten elementwise passes, and splitting qkv costs a concatenation in the backward. Here q
    and k are normalised while being laid out for the matrix products; only the
    probabilities are kept; the score gradient is formed in place with
    ``rowsum(P * dP) = rowsum(dO * O)`` (as flash attention does); and the gradients of q, k
    and v are written straight into that of qkv.
    """

    @staticmethod
    def forward(ctx, qkv, scale, bias, num_heads: int):
        # qkv: (B, nW, N, 3C); scale: (heads, 1, 1); bias: (1, heads or nW * heads, N, N).
        B, nW, N, C3 = qkv.shape
        q, k, v = qkv.view(B, nW, N, 3, num_heads, -1).permute(3, 0, 1, 4, 2, 5)
        # As F.normalize: x / max(|x|, eps); the temperature goes into q.
        norm_q = torch.linalg.vector_norm(q, dim=-1, keepdim=True)
        norm_k = torch.linalg.vector_norm(k, dim=-1, keepdim=True)
        rq = scale / norm_q.clamp_min(_NORM_EPS)
        rk = 1 / norm_k.clamp_min(_NORM_EPS)
        groups = bias.shape[1]  # heads, or windows x heads when windows share a mask
        shape = (-1, groups, N, q.shape[-1])
        q_hat = torch.mul(q, rq, out=q.new_empty(q.shape)).view(shape)
        k_hat = torch.mul(k, rk, out=k.new_empty(k.shape)).view(shape)
        v = v.contiguous().view(shape)
        probs = torch.matmul(q_hat, k_hat.transpose(-2, -1)).add_(bias).softmax(-1)
        heads_out = torch.matmul(probs, v)
        ctx.save_for_backward(q_hat, k_hat, v, probs, heads_out, rq, rk, scale,
                              norm_q < _NORM_EPS, norm_k < _NORM_EPS)
        ctx.bias_shape = bias.shape
        # (B, nW, heads, N, d) -> (B, nW, N, C) for the output projection
        return heads_out.view(B, nW, num_heads, N, -1).transpose(2, 3).reshape(B, nW, N, -1)

    @staticmethod
    def backward(ctx, grad_out):
        q_hat, k_hat, v, probs, heads_out, rq, rk, scale, tiny_q, tiny_k = ctx.saved_tensors
        B, nW, heads, N = rq.shape[:4]
        grad_heads = grad_out.reshape(B, nW, N, heads, -1).transpose(2, 3).reshape(heads_out.shape)
        grad_qkv = q_hat.new_empty(B, nW, N, 3, heads, q_hat.shape[-1])
        grad_q, grad_k, grad_v = grad_qkv.permute(3, 0, 1, 4, 2, 5)  # views, (B, nW, h, N, d)
        grad_v.copy_(torch.matmul(probs.transpose(-2, -1), grad_heads).view(grad_v.shape))
        grad_scores = torch.matmul(grad_heads, v.transpose(-2, -1))
        grad_scores.sub_((grad_heads * heads_out).sum(-1, keepdim=True)).mul_(probs)
        grad_bias = grad_scores.sum_to_size(ctx.bias_shape) if ctx.needs_input_grad[2] else None
        grad_q_hat = torch.matmul(grad_scores, k_hat).view(grad_q.shape)
        grad_k_hat = torch.matmul(grad_scores.transpose(-2, -1), q_hat).view(grad_k.shape)
        q_hat, k_hat = q_hat.view(grad_q.shape), k_hat.view(grad_k.shape)
        # x_hat = r x with r = s / |x|: dx = r (dx_hat - x_hat (x_hat . dx_hat) / s^2), and
        # ds = sum(x_hat . dx_hat) / s; below eps the norm is a constant: dx = r dx_hat.
        dot_q = (q_hat * grad_q_hat).sum(-1, keepdim=True)
        grad_scale = dot_q.sum((0, 1, 3)).view(scale.shape) / scale
        coef_q = (dot_q / scale.square()).masked_fill_(tiny_q, 0)
        torch.mul(grad_q_hat.addcmul_(q_hat, coef_q, value=-1), rq, out=grad_q)
        coef_k = (k_hat * grad_k_hat).sum(-1, keepdim=True).masked_fill_(tiny_k, 0)
        torch.mul(grad_k_hat.addcmul_(k_hat, coef_k, value=-1), rk, out=grad_k)
        return grad_qkv.view(B, nW, N, -1), grad_scale, grad_bias, None


def _use_cpu_attention(qkv: torch.Tensor) -> bool:
    return (qkv.device.type == 'cpu' and qkv.dtype == torch.float32 and qkv.requires_grad
            and torch.is_grad_enabled() and not torch.is_autocast_enabled('cpu')
            and not torch.compiler.is_compiling())


class PatchEmbed(nn.Module):
    """Non-overlapping patch projection with a LayerNorm; returns (B, H, W, C)."""

    def __init__(self, patch_size: int, in_channels: int, embed_dims: int):
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Conv2d(in_channels, embed_dims, patch_size, stride=patch_size)
        self.norm = nn.LayerNorm(embed_dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        H, W = x.shape[-2:]
        p = self.patch_size
        if H % p or W % p:
            x = F.pad(x, (0, -W % p, 0, -H % p))
        return self.norm(self.proj(x).permute(0, 2, 3, 1))


class WindowAttention(nn.Module):
    """Scaled cosine attention in a window with a continuous relative position bias."""

    def __init__(self, dim: int, num_heads: int, window_size: _Pair,
                 pretrained_window_size: _Pair = (0, 0)):
        super().__init__()
        self.num_heads = num_heads
        self.window_size = window_size
        self.pretrained_window_size = pretrained_window_size
        self.logit_scale = nn.Parameter(torch.full((num_heads, 1, 1), math.log(10.)))
        self.cpb_mlp = nn.Sequential(
            nn.Linear(2, 512), nn.ReLU(inplace=True), nn.Linear(512, num_heads, bias=False))
        self.qkv = nn.Linear(dim, dim * 3, bias=False)
        self.q_bias = nn.Parameter(torch.zeros(dim))
        self.v_bias = nn.Parameter(torch.zeros(dim))
        self.proj = nn.Linear(dim, dim)
        # Rebuilt from the window size, so never stored: a checkpoint of another window loads.
        table, index = self._relative_positions()
        self.register_buffer('relative_coords_table', table, persistent=False)
        self.register_buffer('relative_position_index', index, persistent=False)

    def _relative_positions(self) -> Tuple[torch.Tensor, torch.Tensor]:
        wh, ww = self.window_size
        offsets = torch.stack(torch.meshgrid(
            torch.arange(-(wh - 1), wh, dtype=torch.float32),
            torch.arange(-(ww - 1), ww, dtype=torch.float32), indexing='ij'), dim=-1)
        # Offsets are normalised by the pre-training window, so that the MLP sees the
        # same coordinates for the same relative distance after a window change.
        norm = self.pretrained_window_size if self.pretrained_window_size[0] > 0 \
            else self.window_size
        offsets = offsets / offsets.new_tensor([max(norm[0] - 1, 1), max(norm[1] - 1, 1)]) * 8
        table = torch.sign(offsets) * torch.log2(offsets.abs() + 1.0) / math.log2(8)

        coords = torch.stack(torch.meshgrid(
            torch.arange(wh), torch.arange(ww), indexing='ij')).flatten(1)
        rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0)
        index = (rel[..., 0] + wh - 1) * (2 * ww - 1) + (rel[..., 1] + ww - 1)
        return table.view(-1, 2), index

    def position_bias(self) -> torch.Tensor:
        """(heads, N, N) bias of the window, 16 * sigmoid of the MLP output."""
        n = self.window_size[0] * self.window_size[1]
        table = self.cpb_mlp(self.relative_coords_table)  # (offsets, heads)
        # index_select rather than indexing: its backward is an index_add, some ten times
        # faster on the CPU than the accumulating index_put of advanced indexing.
        bias = table.t().index_select(1, self.relative_position_index.view(-1))
        return 16 * torch.sigmoid(bias.view(-1, n, n))

    def forward(self, x: torch.Tensor, shift_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """x: (B, num_windows, N, C); shift_mask: (num_windows, N, N) additive, or None."""
        B, nW, N, C = x.shape
        bias = torch.cat((self.q_bias, torch.zeros_like(self.v_bias), self.v_bias))
        qkv = F.linear(x, self.qkv.weight, bias)
        scale = torch.clamp(self.logit_scale, max=math.log(100.)).exp()
        mask = self.position_bias().unsqueeze(0)  # (1, heads, N, N)
        if shift_mask is not None:
            # Fold windows into the head dimension so that one (1, nW*heads, N, N) mask
            # broadcasts over the batch instead of being copied for every image.
            mask = (mask + shift_mask.unsqueeze(1)).reshape(1, nW * self.num_heads, N, N)
        if _use_cpu_attention(qkv):
            out = _CosineAttentionCPU.apply(qkv, scale, mask, self.num_heads)
        else:
            out = self._sdpa_attention(qkv, scale, mask)
        return self.proj(out)

    def _sdpa_attention(self, qkv: torch.Tensor, scale: torch.Tensor,
                        mask: torch.Tensor) -> torch.Tensor:
        """(B, nW, N, 3C) -> (B, nW, N, C) through SDPA (fused kernels on GPUs, bf16)."""
        B, nW, N, _ = qkv.shape
        q, k, v = qkv.view(B, nW, N, 3, self.num_heads, -1).permute(3, 0, 1, 4, 2, 5).unbind(0)
        # Cosine attention: the temperature goes into q so that SDPA runs with scale 1.
        q = F.normalize(q, dim=-1, eps=_NORM_EPS) * scale
        k = F.normalize(k, dim=-1, eps=_NORM_EPS)
        shape = (-1, mask.shape[1], N, q.shape[-1])  # windows folded into heads if shifted
        out = F.scaled_dot_product_attention(q.reshape(shape), k.reshape(shape),
                                             v.reshape(shape), attn_mask=mask.to(q.dtype),
                                             scale=1.0)
        return out.view(B, nW, self.num_heads, N, -1).transpose(2, 3).reshape(B, nW, N, -1)


class SwinV2Block(nn.Module):
    """(Shifted) window attention and MLP, each with a residual post-norm."""

    def __init__(self, dim: int, num_heads: int, window_size: _Pair, shift_size: _Pair,
                 pretrained_window_size: _Pair, mlp_ratio: float, drop_path: float):
        super().__init__()
        self.window_size = window_size
        self.shift_size = shift_size
        self.attn = WindowAttention(dim, num_heads, window_size, pretrained_window_size)
        self.norm1 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.norm2 = nn.LayerNorm(dim)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def _attention(self, x: torch.Tensor) -> torch.Tensor:
        B, H, W, C = x.shape
        wh, ww = self.window_size
        if H % wh or W % ww:  # F.pad copies even when it pads nothing
            x = F.pad(x, (0, 0, 0, -W % ww, 0, -H % wh))
        Hp, Wp = x.shape[1:3]
        shifted = any(self.shift_size)
        if shifted:
            x = torch.roll(x, (-self.shift_size[0], -self.shift_size[1]), dims=(1, 2))
        mask = shift_mask(Hp, Wp, self.window_size, self.shift_size, x.device) if shifted else None
        x = self.attn(window_partition(x, self.window_size), mask)
        x = window_reverse(x, self.window_size, Hp, Wp)
        if shifted:
            x = torch.roll(x, self.shift_size, dims=(1, 2))
        return x[:, :H, :W].contiguous()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.norm1(self._attention(x)))
        return x + self.drop_path(self.norm2(self.mlp(x)))


class PatchMerging(nn.Module):
    """2x2 neighbourhood concatenation, Linear(4C -> 2C) and LayerNorm (post-norm)."""

    def __init__(self, dim: int):
        super().__init__()
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = nn.LayerNorm(2 * dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        H, W = x.shape[1:3]
        if H % 2 or W % 2:
            x = F.pad(x, (0, 0, 0, W % 2, 0, H % 2))
        # Channel order of the reference: (0, 0), (1, 0), (0, 1), (1, 1) as (row, col).
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], -1)
        return self.norm(self.reduction(x))


class SwinV2Stage(nn.Module):
    """A stage of blocks followed by patch merging (``downsample``, absent in the last stage).

    The merging sits at the end of the stage, as in the reference implementation and its
    checkpoints (timm puts it at the start of the next stage instead).
    """

    def __init__(self, dim: int, depth: int, num_heads: int, window_size: _Pair,
                 shift_size: _Pair, pretrained_window_size: _Pair, mlp_ratio: float,
                 drop_path: Sequence[float], downsample: bool):
        super().__init__()
        self.blocks = nn.ModuleList([
            SwinV2Block(dim, num_heads, window_size, (0, 0) if j % 2 == 0 else shift_size,
                        pretrained_window_size, mlp_ratio, drop_path[j]) for j in range(depth)])
        self.downsample = PatchMerging(dim) if downsample else None


@MODELS.register_module()
class SwinV2(BaseModule):
    """SwinV2 backbone (`arXiv:2111.09883 <https://arxiv.org/abs/2111.09883>`_) for SimMIM.

    Args:
        arch: One of ``ARCH_SETTINGS`` or a dict with ``embed_dims``, ``depths``, ``num_heads``.
        img_size: Input size the windows are planned for: a stage whose resolution is not
            larger than the window uses its whole resolution as window and does not shift.
            Other input sizes work too: feature maps are padded to the window grid.
        window_size: Window size, one for all stages or one per stage.
        pretrained_window_sizes: Per-stage windows of the pre-training the position-bias MLP
            was trained with (0: none), e.g. ``[12, 12, 12, 6]`` after 192-px window-12 SimMIM.
        out_indices: Stages whose outputs are returned, as NCHW maps at stride 4 * 2**i.
            The last stage goes through the final ``norm``; other stages through an extra
            LayerNorm each (``out_norms``).
        use_mask_token: Learn a SimMIM mask token; ``forward(x, mask)`` then replaces the
            embeddings of masked patches by it.
        with_cp: Activation checkpointing of every block while training.
        frozen_stages: Freeze the patch embedding (0) and stages ``0 .. frozen_stages - 1``.
    """

    def __init__(self,
                 arch: Union[str, Dict] = 'base',
                 img_size: Union[int, Sequence[int]] = 224,
                 patch_size: int = 4,
                 in_channels: int = 3,
                 window_size: Union[int, Sequence[int]] = 12,
                 pretrained_window_sizes: Sequence[int] = (0, 0, 0, 0),
                 mlp_ratio: float = 4.0,
                 drop_path_rate: float = 0.1,
                 out_indices: Sequence[int] = (3, ),
                 use_mask_token: bool = False,
                 with_cp: bool = False,
                 frozen_stages: int = -1,
                 init_cfg: Optional[Dict] = None):
        super().__init__(init_cfg=init_cfg)
        arch = self._arch_settings(arch)
        self.embed_dims = arch['embed_dims']
        self.depths = tuple(arch['depths'])
        num_stages = len(self.depths)
        window_sizes = [window_size] * num_stages if isinstance(window_size, int) \
            else list(window_size)
        if len(window_sizes) != num_stages or len(pretrained_window_sizes) != num_stages:
            raise ValueError(f'window_size and pretrained_window_sizes need one value per stage '
                             f'({num_stages}), got {window_size} and {pretrained_window_sizes}')
        self.out_indices = tuple(out_indices)
        if not self.out_indices or any(not 0 <= i < num_stages for i in self.out_indices):
            raise ValueError(f'out_indices must be stages in [0, {num_stages}), got {out_indices}')
        self.patch_size = patch_size
        self.with_cp = with_cp
        self.frozen_stages = frozen_stages
        self.num_layers = sum(self.depths) + 2  # layer ids for lr decay, see get_layer_depth

        self.patch_embed = PatchEmbed(patch_size, in_channels, self.embed_dims)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, 1, self.embed_dims)) \
            if use_mask_token else None

        img_size = _pair(img_size)
        # Stochastic depth grows linearly over all blocks (no tensor ops: meta-device safe).
        n_blocks = sum(self.depths)
        dpr = [drop_path_rate * j / max(n_blocks - 1, 1) for j in range(n_blocks)]
        self.layers = nn.ModuleList()
        self.num_features = []
        for i, depth in enumerate(self.depths):
            dim = self.embed_dims * 2**i
            resolution = [s // patch_size // 2**i for s in img_size]
            window, shift = stage_window(resolution, _pair(window_sizes[i]))
            self.layers.append(SwinV2Stage(
                dim, depth, arch['num_heads'][i], window, shift,
                _pair(pretrained_window_sizes[i]), mlp_ratio,
                dpr[sum(self.depths[:i]):sum(self.depths[:i + 1])],
                downsample=i < num_stages - 1))
            self.num_features.append(dim)
        self.norm = nn.LayerNorm(self.num_features[-1])
        self.out_norms = nn.ModuleDict({
            str(i): nn.LayerNorm(self.num_features[i])
            for i in self.out_indices if i != num_stages - 1})
        self._freeze_stages()

    @staticmethod
    def _arch_settings(arch: Union[str, Dict]) -> Dict:
        if isinstance(arch, str):
            if arch not in ARCH_SETTINGS:
                raise KeyError(f'Unknown SwinV2 arch {arch!r}; choose one of '
                               f'{sorted(ARCH_SETTINGS)} or pass a dict')
            return ARCH_SETTINGS[arch]
        arch = dict(arch)
        missing = {'embed_dims', 'depths', 'num_heads'} - set(arch)
        if missing:
            raise KeyError(f'A custom SwinV2 arch needs {sorted(missing)}')
        if len(arch['depths']) != len(arch['num_heads']):
            raise ValueError('depths and num_heads need one value per stage')
        for i, heads in enumerate(arch['num_heads']):
            if (arch['embed_dims'] * 2**i) % heads:
                raise ValueError(f'stage {i}: width {arch["embed_dims"] * 2**i} is not '
                                 f'divisible by {heads} heads')
        return arch

    def init_weights(self):
        if self.init_cfg is not None and self.init_cfg.get('type') == 'Pretrained':
            self._load_pretrained(self.init_cfg['checkpoint'])
            return
        super().init_weights()

        def init(m):
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

        self.apply(init)
        # The reference's _init_respostnorm: every block starts as the identity. With the
        # residual post-norms at 1, a small model under SimMIM collapses within tens of
        # iterations to one output for every token (docs/learning.md).
        for module in self.modules():
            if isinstance(module, SwinV2Block):
                for norm in (module.norm1, module.norm2):
                    nn.init.zeros_(norm.weight)
                    nn.init.zeros_(norm.bias)
        if self.mask_token is not None:
            nn.init.trunc_normal_(self.mask_token, std=.02)

    def _load_pretrained(self, filename: str):
        """Load backbone weights, checking that nothing but what a transfer changes differs.

        Window-dependent tables are buffers rebuilt at construction, so the position-bias
        MLP transfers to any window. New output norms (dense tasks) and a mask token absent
        from a fine-tuned checkpoint are expected to be missing; any other missing key or a
        shape mismatch means the checkpoint does not fit this architecture and is an error
        that says which architecture the checkpoint holds. A checkpoint whose recorded
        pre-training windows differ from this backbone's gets a warning with the values.
        """
        logger = MMLogger.get_current_instance()
        checkpoint = CheckpointLoader.load_checkpoint(filename, map_location='cpu')
        state = to_backbone_state_dict(checkpoint)
        own = self.state_dict()
        wrong_shape = [f'{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}'
                       for k, v in state.items() if k in own and v.shape != own[k].shape]
        missing = [k for k in own if k not in state]
        # A pre-training checkpoint has no output norms; a fine-tuned one no mask token.
        bad_missing = [k for k in missing if not k.startswith('out_norms.') and k != 'mask_token']
        ignored = sorted(k for k in state if k not in own)
        bad_extra = [k for k in ignored if k != 'mask_token' and not k.startswith('out_norms.')]
        if wrong_shape or bad_missing or bad_extra:
            raise ValueError(mismatch_message(
                f'Checkpoint {filename} does not fit this SwinV2', state, own,
                wrong_shape, bad_missing, bad_extra, known_archs=ARCH_SETTINGS))
        self._check_pretrained_windows(filename, checkpoint, logger)
        self.load_state_dict({k: v for k, v in state.items() if k in own}, strict=False)
        # What the checkpoint lacks still needs its default initialisation.
        for i, norm in self.out_norms.items():
            if f'out_norms.{i}.weight' in missing:
                nn.init.ones_(norm.weight)
                nn.init.zeros_(norm.bias)
        if self.mask_token is not None and 'mask_token' in missing:
            nn.init.trunc_normal_(self.mask_token, std=.02)
        logger.info(f'SwinV2: loaded {len(own) - len(missing)} tensors from {filename}; '
                    f'newly initialised: {missing or "none"}; ignored: {ignored or "none"}')
        self._is_init = True

    def position_bias_windows(self) -> List[int]:
        """Per stage, the window the position-bias MLP normalises offsets by: the stage's
        ``pretrained_window_sizes`` entry, else its own window. Checkpoints record it as
        ``meta['pretrained_window_sizes']``: what a later user of the weights must set."""
        attns = [stage.blocks[0].attn for stage in self.layers]
        return [a.pretrained_window_size[0] or a.window_size[0] for a in attns]

    def _check_pretrained_windows(self, filename: str, checkpoint, logger) -> None:
        meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
        recorded = meta.get('pretrained_window_sizes') if isinstance(meta, dict) else None
        if recorded is None:  # checkpoints that store their coordinate tables tell it too
            recorded = pretrained_window_sizes(unwrap_state_dict(checkpoint))
        own = self.position_bias_windows()
        if recorded is None or [int(w) for w in recorded] == own:
            return
        given = [stage.blocks[0].attn.pretrained_window_size[0] for stage in self.layers]
        logger.warning(
            f'{filename} was pre-trained with windows {list(recorded)}, but this SwinV2 '
            f'normalises relative positions by windows {own} (pretrained_window_sizes='
            f'{given}), so its position bias would be read at other coordinates than it was '
            f'trained on. Set model.backbone.pretrained_window_sizes={list(recorded)}.')

    def _freeze_stages(self):
        if self.frozen_stages < 0:
            return
        frozen = [self.patch_embed]
        if self.mask_token is not None:
            self.mask_token.requires_grad = False
        for i in range(min(self.frozen_stages, len(self.layers))):
            frozen.append(self.layers[i])
            if str(i) in self.out_norms:
                frozen.append(self.out_norms[str(i)])
        for module in frozen:
            module.eval()
            for p in module.parameters():
                p.requires_grad = False

    def train(self, mode: bool = True):
        super().train(mode)
        self._freeze_stages()
        return self

    def get_layer_depth(self, param_name: str, prefix: str = '') -> Tuple[int, int]:
        """Layer id of a parameter for layer-wise lr decay, and the number of layers.

        Id 0: patch embedding and mask token; block j of stage i: sum(depths[:i]) + j + 1;
        a stage's patch merging: the id of that stage's last block; everything else
        (final and output norms, and anything outside the backbone): sum(depths) + 1.
        """
        last = self.num_layers - 1
        if not param_name.startswith(prefix):
            return last, self.num_layers
        name = param_name[len(prefix):]
        if name.startswith(('patch_embed.', 'mask_token')):
            return 0, self.num_layers
        if name.startswith('layers.'):
            parts = name.split('.')
            stage = int(parts[1])
            if parts[2] == 'blocks':
                return sum(self.depths[:stage]) + int(parts[3]) + 1, self.num_layers
            return sum(self.depths[:stage + 1]), self.num_layers
        return last, self.num_layers

    def forward(self, x: torch.Tensor,
                mask: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, ...]:
        """x: (B, C, H, W); mask: (B, H/4, W/4) with 1 for masked patches, or None."""
        x = self.patch_embed(x)
        if mask is not None:
            if self.mask_token is None:
                raise ValueError('SwinV2 got a mask but was built with use_mask_token=False')
            if mask.shape != x.shape[:3]:
                raise ValueError(f'mask of shape {tuple(mask.shape)} does not match the patch '
                                 f'grid {tuple(x.shape[:3])}')
            w = mask.unsqueeze(-1).to(x.dtype)
            x = x * (1 - w) + self.mask_token.to(x.dtype) * w

        outs = []
        for i, stage in enumerate(self.layers):
            for block in stage.blocks:
                if self.with_cp and self.training and x.requires_grad:
                    x = cp.checkpoint(block, x, use_reentrant=False)
                else:
                    x = block(x)
            if i in self.out_indices:
                norm = self.norm if i == len(self.layers) - 1 else self.out_norms[str(i)]
                outs.append(norm(x).permute(0, 3, 1, 2).contiguous())
            if stage.downsample is not None:
                x = stage.downsample(x)
        return tuple(outs)
