"""Stage 2 of the features: torch, batched, inside the model (so ONNX exports include it).
Prepared points (B, T, P, 2) and mask (B, T, P) become model inputs (B, T, F) and a frame
mask (B, T); absent points give 0, never NaN."""

from __future__ import annotations

import numpy as np
import torch

from ..errors import SignposeError
from .feature_sets import FeatureSet


def check_points(pts: torch.Tensor, expected: int, what: str) -> None:
    """Other points would give features of another meaning (or size) without an error."""
    if not torch.jit.is_tracing() and pts.shape[-2] != expected:
        raise SignposeError(
            f"the model reads {expected} {what} per frame, not {pts.shape[-2]}; "
            "prepare them with the run's own feature pipeline"
        )


class FeatureHead(torch.nn.Module):
    """Points (B, T, P, 2) and mask (B, T, P) -> features (B, T, F), frame mask (B, T).

    Body-frame points, then (by the feature set) each hand in its own frame, then frame
    differences of those, then fingertip distances. Anything computed from an absent point
    is 0 and never NaN."""

    TIPS = (4, 8, 12, 16, 20)  # thumb to little finger, within a hand's 21 points

    def __init__(self, fs: FeatureSet, hand_relative: bool = False):
        super().__init__()
        self.motion = fs.motion
        self.hand_local = fs.hand_local or hand_relative
        self.geometry = fs.hand_geometry
        groups = fs.hand_groups() if (self.hand_local or self.geometry) else []
        self.register_buffer(
            "hands",
            torch.tensor(np.stack(groups) if groups else np.zeros((0, 21)), dtype=torch.long),
        )
        pairs = [(a, b) for i, a in enumerate(self.TIPS) for b in self.TIPS[i + 1 :]]
        self.register_buffer("pairs", torch.tensor(pairs, dtype=torch.long).reshape(-1, 2))
        self.n_points = len(fs.points)

    def forward(self, pts, mask):
        check_points(pts, self.n_points, "points")
        m = mask.to(pts.dtype).unsqueeze(-1)  # (B, T, P, 1)
        xs, ms = [pts * m], [m]
        hands = self.hands.shape[0] > 0
        if hands:
            hand, hm = xs[0][:, :, self.hands], m[:, :, self.hands]  # (B, T, H, 21, 2|1)
            wrist, valid = hand[..., :1, :], hm * hm[..., :1, :]
            size = (hand[..., 9:10, :] - wrist).norm(dim=-1, keepdim=True).clamp_min(1e-3)  # wrist to middle MCP
        if self.hand_local and hands:
            xs.append(((hand - wrist) / size * valid).flatten(2, 3))
            ms.append(valid.flatten(2, 3))
        x, m = torch.cat(xs, dim=2), torch.cat(ms, dim=2)
        feats = [x.flatten(2)]
        d, dm = x, m
        for _ in range(self.motion):  # a difference exists only where both frames saw the point
            d, dm = (d[:, 1:] - d[:, :-1]) * (dm[:, 1:] * dm[:, :-1]), dm[:, 1:] * dm[:, :-1]
            d, dm = (
                torch.cat([torch.zeros_like(d[:, :1]), d], 1),
                torch.cat([torch.zeros_like(dm[:, :1]), dm], 1),
            )
            feats.append(d.flatten(2))
        if self.geometry and hands:
            a, b = hand[..., self.pairs[:, 0], :], hand[..., self.pairs[:, 1], :]
            tips = (a - b).norm(dim=-1) / size[..., 0] * hm[..., 0][..., :1]  # (B, T, H, 10)
            feats.append(tips.flatten(2))
            if self.hands.shape[0] == 2:
                both = hm[:, :, 0, 0] * hm[:, :, 1, 0]
                feats.append(((wrist[:, :, 0, 0] - wrist[:, :, 1, 0]).norm(dim=-1) * both[..., 0]).unsqueeze(-1))
        return torch.cat(feats, dim=2), mask.any(dim=-1)


class GraphHead(torch.nn.Module):
    """Points (B, T, V, 2) and mask (B, T, V) of a graph's joints -> (B, T, V * 3): per joint
    x, y and seen (1/0) in the configured stream. A bone is its joint minus its parent (the
    root's is 0), present where both are; motion is the difference to the frame before,
    present where both frames have it (the first frame: 0). Absent gives 0, never NaN."""

    def __init__(self, fs: FeatureSet, stream: str = "joint"):
        super().__init__()
        assert fs.graph is not None
        self.register_buffer("parent", torch.tensor(fs.graph.parent_index, dtype=torch.long))
        self.bone = stream.startswith("bone")
        self.motion = stream.endswith("motion")
        self.n_points = fs.graph.size

    def forward(self, pts, mask):
        check_points(pts, self.n_points, "joints")
        m = mask.to(pts.dtype).unsqueeze(-1)  # (B, T, V, 1)
        x = pts * m
        if self.bone:
            pm = m[:, :, self.parent]
            x, m = (x - x[:, :, self.parent]) * m * pm, m * pm
        if self.motion:
            dm = m[:, 1:] * m[:, :-1]
            d = (x[:, 1:] - x[:, :-1]) * dm
            x, m = torch.cat([torch.zeros_like(x[:, :1]), d], 1), torch.cat([torch.zeros_like(m[:, :1]), dm], 1)
        return torch.cat([x, m], dim=-1).flatten(2), mask.any(dim=-1)
