"""`islr`: 1D-CNN + Transformer after the 1st-place Google Isolated Sign Language
Recognition solution (hoyso48, Kaggle 2023)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers import ECA, CausalConv1d, DropPath, KerasMHA, attend_mask, check_rates, check_sizes
from .registry import register_model

# ---------------------------------------------------------------------------------------
# islr: 1D-CNN + Transformer, the design that won Google's Isolated Sign Language
# Recognition competition on MediaPipe landmarks (1st place, Kaggle 2023, "hoyso48")
# ---------------------------------------------------------------------------------------


class ConvBlock(nn.Module):
    """Expand (x2, swish), depthwise causal conv (kernel 17), batch norm, ECA, project,
    drop path, residual."""

    def __init__(
        self,
        dim: int,
        kernel: int = 17,
        expand: int = 2,
        dropout: float = 0.2,
        drop_path: float = 0.0,
    ):
        super().__init__()
        inner = dim * expand
        self.expand = nn.Linear(dim, inner)
        self.dw = CausalConv1d(inner, inner, kernel, groups=inner, bias=False)
        self.bn = nn.BatchNorm1d(inner, momentum=0.05)
        self.eca = ECA()
        self.project = nn.Linear(inner, dim)
        self.dropout = nn.Dropout(dropout)
        self.drop_path = DropPath(drop_path)

    def forward(self, x, w):
        y = F.silu(self.expand(x)) * w
        y = self.bn(self.dw(y.transpose(1, 2))).transpose(1, 2)
        y = self.eca(y, w)
        return x + self.drop_path(self.dropout(self.project(y)))


class TransformerBlock(nn.Module):
    """Pre-norm multi-head attention and a x2 swish feed-forward, with drop path."""

    def __init__(
        self,
        dim: int,
        heads: int = 4,
        expand: int = 2,
        dropout: float = 0.2,
        drop_path: float = 0.0,
    ):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = KerasMHA(dim, heads, dim // heads, dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.ff = nn.Sequential(
            nn.Linear(dim, dim * expand),
            nn.SiLU(),
            nn.Dropout(dropout),
            nn.Linear(dim * expand, dim),
        )
        self.drop_path = DropPath(drop_path)

    def forward(self, x, key_mask):
        x = x + self.drop_path(self.attn(self.norm1(x), key_mask))
        return x + self.drop_path(self.ff(self.norm2(x)))


class ISLRNet(nn.Module):
    """1D-CNN + Transformer after the 1st-place solution of Google's Isolated Sign Language
    Recognition competition (Kaggle 2023, "hoyso48"): a linear stem with batch norm, then
    `groups` x (3 depthwise-causal-conv blocks with kernel 17 + 1 transformer block),
    masked average pooling over time, heavy dropout before the classifier. Width 192 and
    two groups give about 1.9M parameters on the `rich` features."""

    def __init__(
        self,
        in_features: int,
        n_classes: int,
        frames: int = 30,
        dim: int = 192,
        groups: int = 2,
        conv_blocks: int = 3,
        kernel: int = 17,
        heads: int = 4,
        dropout: float = 0.2,
        drop_path: float = 0.1,
        head_dropout: float = 0.5,
    ):
        super().__init__()
        check_sizes(dim=dim, groups=groups, kernel=kernel, heads=heads)
        check_sizes(0, conv_blocks=conv_blocks)  # transformer blocks only
        check_rates(dropout=dropout, drop_path=drop_path, head_dropout=head_dropout)
        self.stem = nn.Linear(in_features, dim, bias=False)
        self.stem_bn = nn.BatchNorm1d(dim, momentum=0.05)
        layers: list[nn.Module] = []
        for _ in range(groups):
            layers += [ConvBlock(dim, kernel, dropout=dropout, drop_path=drop_path) for _ in range(conv_blocks)]
            layers.append(TransformerBlock(dim, heads, dropout=dropout, drop_path=drop_path))
        self.layers = nn.ModuleList(layers)
        self.top = nn.Linear(dim, dim * 2)
        self.head_dropout = nn.Dropout(head_dropout)
        self.classifier = nn.Linear(dim * 2, n_classes)

    def forward(self, x, frame_mask=None):
        if frame_mask is None:
            frame_mask = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
        key_mask = attend_mask(frame_mask)
        w = key_mask.unsqueeze(-1).to(x.dtype)
        x = self.stem_bn(self.stem(x).transpose(1, 2)).transpose(1, 2) * w
        for layer in self.layers:
            x = layer(x, w) if isinstance(layer, ConvBlock) else layer(x, key_mask)
        x = self.top(x)
        pooled = (x * w).sum(1) / w.sum(1).clamp_min(1.0)
        return self.classifier(self.head_dropout(pooled))


# Width 96 and one group (about a seventh of the published size's parameters): the width
# chosen for data of a few thousand sequences by the accuracy benchmark's rule (README,
# "Accuracy on people never seen"); {"dim": 192, "groups": 2} is the published size.
@register_model(
    "islr",
    "islr",
    "1D-CNN + Transformer (Google ISLR 1st place design), width 96, one group",
    options={"dim": 96, "groups": 1},
    origin=(
        "1D-CNN + Transformer after the 1st-place Google ISLR solution: depthwise causal convolutions (kernel"
        " 17) with ECA, then a Transformer block; drop path, heavy head dropout. Its default width 96 and one"
        " group (the published model: 192, two groups, for 94k training sequences; 1,667,842 parameters here,"
        ' `{"dim": 192, "groups": 2}`) were chosen by the accuracy rule on 28 real people (README)'
    ),
)
def build_islr(in_features: int, n_classes: int, frames: int = 30, **options) -> nn.Module:
    return ISLRNet(in_features, n_classes, frames, **options)
