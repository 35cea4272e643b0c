"""`gcn`: a skeleton graph network after SL-GCN, the model of SAM-SLR (Jiang et al., "Skeleton
Aware Multi-modal Sign Language Recognition", CVPR Workshops 2021), which won the AUTSL
challenge, whose test signers are unseen.

As there: the 27-point graph (`data.graph.SAM_SLR_27`), spatial graph convolutions over
ST-GCN's three partitions (self, inward, outward) *decoupled* (each group of channels
learns its own adjacency, initialised from the graph), attention over the joints, a
temporal convolution (kernel 9) per block with residuals, global average pooling, and one
stream (joint, bone, joint motion or bone motion) per model, fused by averaging scores.

Where it differs, and why: four blocks of 32-32-64-64 channels (SL-GCN: ten, up to 256)
with separable temporal convolutions (EfficientGCN, Song et al. 2022) and AdamW for a
fixed 80 epochs (SL-GCN: SGD for 250 on a GPU), for data of a few thousand sequences
trained on CPU cores (at SL-GCN's widths a step costs 3.5x more here); `model_options`
gives the widths back (`{"channels": [64, 64, 128, 128]}`); DropGraph is left out; each joint carries x, y and whether
it was seen (SL-GCN: a confidence), so an absent hand is absent, not a hand at the origin;
and pooling counts only the frames where something was seen.
"""

from __future__ import annotations

import torch
from torch import nn

from ...data.graph import GRAPHS
from ...errors import SignposeError
from .layers import attend_mask, check_rates, check_sizes
from .registry import register_model

CHANNELS = 3  # x, y, seen: what the graph feature head gives per joint


class DecoupledGraphConv(nn.Module):
    """x (N, C, T, V) -> (N, C', T, V): per partition k, a 1x1 convolution, then joints
    mixed by an adjacency learned per group of output channels."""

    def __init__(self, cin: int, cout: int, adjacency: torch.Tensor, groups: int = 8):
        super().__init__()
        if cout % groups:
            raise ValueError(f"channels ({cout}) must divide into {groups} groups")
        k = adjacency.shape[0]
        self.k, self.groups, self.cout = k, groups, cout
        self.adjacency = nn.Parameter(adjacency[:, None].repeat(1, groups, 1, 1).clone())  # (K, G, V, V)
        self.linear = nn.Conv2d(cin, cout * k, 1)
        self.bn = nn.BatchNorm2d(cout)
        self.down = nn.Identity() if cin == cout else nn.Sequential(nn.Conv2d(cin, cout, 1), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, t, v = x.shape
        y = self.linear(x).view(n, self.k, self.groups, self.cout // self.groups, t, v)
        y = torch.einsum("nkgctv,kgvw->ngctw", y, self.adjacency).reshape(n, self.cout, t, v)
        return torch.relu(self.bn(y) + self.down(x))


class JointAttention(nn.Module):
    """SAM-SLR's spatial attention: a convolution along the joints of the features averaged
    over the seen frames weighs each joint (x (1 + a), so nothing is switched off)."""

    def __init__(self, channels: int, joints: int):
        super().__init__()
        kernel = joints if joints % 2 else joints - 1
        self.conv = nn.Conv1d(channels, 1, kernel, padding=kernel // 2)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:  # w (N, 1, T, 1) frame weights
        pooled = (x * w).sum(2) / w.sum(2).clamp_min(1.0)  # (N, C, V)
        return x * (1 + torch.sigmoid(self.conv(pooled)).unsqueeze(2))


class GraphBlock(nn.Module):
    def __init__(self, cin: int, cout: int, adjacency: torch.Tensor, stride: int, groups: int, dropout: float):
        super().__init__()
        self.gcn = DecoupledGraphConv(cin, cout, adjacency, groups)
        self.attention = JointAttention(cout, adjacency.shape[-1])
        self.tcn = nn.Sequential(  # separable: depthwise over time, then across channels (EfficientGCN)
            nn.Conv2d(cout, cout, (9, 1), padding=(4, 0), stride=(stride, 1), groups=cout),
            nn.Conv2d(cout, cout, 1),
            nn.BatchNorm2d(cout),
            nn.Dropout(dropout),
        )
        same = cin == cout and stride == 1
        self.residual = (
            nn.Identity() if same else nn.Sequential(nn.Conv2d(cin, cout, 1, stride=(stride, 1)), nn.BatchNorm2d(cout))
        )
        self.stride = stride

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = self.tcn(self.attention(self.gcn(x), w))
        w = w[:, :, :: self.stride]
        return torch.relu(y + self.residual(x)), w


class SLGCN(nn.Module):
    """Graph features (B, T, V * 3) -> logits."""

    def __init__(
        self,
        in_features: int,
        n_classes: int,
        frames: int = 30,
        graph: str = "sam-slr-27",
        channels: tuple[int, ...] = (32, 32, 64, 64),
        groups: int = 8,
        dropout: float = 0.1,
        head_dropout: float = 0.2,
    ):
        super().__init__()
        if graph not in GRAPHS:
            raise SignposeError(f"gcn: no graph {graph!r}; graphs: {', '.join(GRAPHS)}")
        check_sizes(groups=groups)
        check_rates(dropout=dropout, head_dropout=head_dropout)
        if not channels or not all(
            isinstance(c, int) and not isinstance(c, bool) and c > 0 and c % groups == 0 for c in channels
        ):
            raise ValueError(f"channels must be one or more whole numbers, each a multiple of groups ({groups})")
        skeleton = GRAPHS[graph]
        if in_features != skeleton.size * CHANNELS:
            raise SignposeError(
                f"gcn reads {CHANNELS} values for each of the {skeleton.size} joints of {graph} "
                f"({skeleton.size * CHANNELS} a frame), not {in_features}; train it with --features graph27"
            )
        self.joints = skeleton.size
        adjacency = torch.tensor(skeleton.adjacency())
        self.data_bn = nn.BatchNorm1d(in_features)
        blocks, cin = [], CHANNELS
        for i, cout in enumerate(channels):
            stride = 2 if i > 0 and cout != channels[i - 1] else 1  # halve time where the width grows
            blocks.append(GraphBlock(cin, cout, adjacency, stride, groups, dropout))
            cin = cout
        self.blocks = nn.ModuleList(blocks)
        self.head_dropout = nn.Dropout(head_dropout)
        self.head = nn.Linear(cin, n_classes)

    def forward(self, x: torch.Tensor, frame_mask: torch.Tensor | None = None) -> torch.Tensor:
        b, t, _ = x.shape
        x = self.data_bn(x.transpose(1, 2)).transpose(1, 2)  # normalised per joint and channel
        x = x.reshape(b, t, self.joints, CHANNELS).permute(0, 3, 1, 2)  # (B, C, T, V)
        seen = attend_mask(frame_mask) if frame_mask is not None else torch.ones(b, t, dtype=torch.bool)
        w = seen.to(x.dtype)[:, None, :, None]  # (B, 1, T, 1)
        for block in self.blocks:
            x, w = block(x, w)
        pooled = (x * w).sum((2, 3)) / (w.sum((2, 3)) * self.joints).clamp_min(1.0)
        return self.head(self.head_dropout(pooled))


@register_model(
    "gcn",
    "gcn",
    "skeleton graph network after SL-GCN (SAM-SLR): decoupled graph convolutions on 27 joints",
    features="graph27",
    origin=(
        "skeleton graph network after SL-GCN (SAM-SLR, winner of the signer-independent AUTSL challenge): "
        "decoupled spatial graph convolutions with a learned adjacency per channel group on the 27-joint "
        "graph, attention over joints, separable temporal convolutions (kernel 9), four blocks of 32-32-64-64"
        ' channels (SL-GCN: ten, to 256; `{"channels": [64, 64, 128, 128]}` widens it)'
    ),
)
def build_gcn(in_features: int, n_classes: int, frames: int = 30, **options) -> nn.Module:
    if isinstance(options.get("channels"), list):  # JSON has lists, the model takes a tuple
        options["channels"] = tuple(options["channels"])
    return SLGCN(in_features, n_classes, frames, **options)
