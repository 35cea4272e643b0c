"""Layers that more than one family uses."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def check_sizes(minimum: int = 1, **sizes: object) -> None:
    """Architecture sizes from --model-options must be whole numbers of at least `minimum`:
    `groups: 0` would build a network with no blocks that trains without complaint, and
    JSON's `true` would count as 1."""
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"{name} must be a whole number of at least {minimum}, not {value!r}")


def check_rates(**rates: object) -> None:
    """Dropout-like options: a number from 0 to below 1."""
    for name, value in rates.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
            raise ValueError(f"{name} must be a number from 0 to below 1, not {value!r}")


def attend_mask(frame_mask):
    """Mask all-absent frames as keys, but never a whole sequence (that would give NaN)."""
    if frame_mask is None:
        return None
    return frame_mask | ~frame_mask.any(dim=1, keepdim=True)


class DropPath(nn.Module):
    """Stochastic depth: drop a whole residual branch per sample while training."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        keep = (torch.rand(x.shape[0], *([1] * (x.dim() - 1)), device=x.device) >= self.p).to(x.dtype)
        return x * keep / (1 - self.p)


class ECA(nn.Module):
    """Efficient channel attention: a 1D conv over the pooled channels gates each channel."""

    def __init__(self, kernel: int = 5):
        super().__init__()
        self.conv = nn.Conv1d(1, 1, kernel, padding=kernel // 2, bias=False)

    def forward(self, x, w):  # x (B, T, C); w (B, T, 1) frame weights
        pooled = (x * w).sum(1) / w.sum(1).clamp_min(1.0)
        return x * torch.sigmoid(self.conv(pooled.unsqueeze(1)))  # (B, 1, C) gates broadcast over time


def masked_mean(x: torch.Tensor, frame_mask: torch.Tensor | None) -> torch.Tensor:
    """Average over time (B, T, C) -> (B, C) of the frames that were seen."""
    if frame_mask is None:
        return x.mean(1)
    w = attend_mask(frame_mask).unsqueeze(-1).to(x.dtype)
    return (x * w).sum(1) / w.sum(1).clamp_min(1.0)


class CausalConv1d(nn.Conv1d):
    def __init__(
        self,
        cin: int,
        cout: int,
        kernel: int,
        dilation: int = 1,
        groups: int = 1,
        bias: bool = True,
    ):
        super().__init__(cin, cout, kernel, dilation=dilation, groups=groups, bias=bias)
        self.left = (kernel - 1) * dilation

    def forward(self, x):  # (B, C, T)
        return super().forward(F.pad(x, (self.left, 0)))


class KerasMHA(nn.Module):
    """Keras MultiHeadAttention: per-head key size independent of the model width."""

    def __init__(self, dim: int, heads: int, key_dim: int, dropout: float = 0.0):
        super().__init__()
        self.heads, self.key_dim, self.dropout = heads, key_dim, dropout
        self.q = nn.Linear(dim, heads * key_dim)
        self.k = nn.Linear(dim, heads * key_dim)
        self.v = nn.Linear(dim, heads * key_dim)
        self.out = nn.Linear(heads * key_dim, dim)

    def forward(self, x, key_mask=None):  # key_mask: (B, T) True = attend
        b, t, _ = x.shape

        def split(y):
            return y.view(b, t, self.heads, self.key_dim).transpose(1, 2)

        attn_mask = None if key_mask is None else key_mask[:, None, None, :]
        y = F.scaled_dot_product_attention(
            split(self.q(x)),
            split(self.k(x)),
            split(self.v(x)),
            attn_mask=attn_mask,
            dropout_p=self.dropout if self.training else 0.0,
        )
        return self.out(y.transpose(1, 2).reshape(b, t, -1))
