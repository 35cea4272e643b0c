"""From keypoint sequences to model inputs.

Two stages, so augmentation can work on geometry in between:

1. `prepare_points` (numpy, per sample, cached): fill short tracking gaps, normalise to
   the body (origin between the shoulders, unit shoulder width), bring the whole sign to
   T frames, keep the feature set's points: `points (N, T, P, 2)` and `mask (N, T, P)`.
   Absent points stay absent: the mask travels with them, their values are 0.
2. `FeatureHead` (torch, inside the model, so ONNX exports include it): flatten the
   points and add derived features (frame differences, hand shapes relative to the
   wrist). Absent points give 0, never NaN.
"""

from __future__ import annotations

import hashlib
import io
import json
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from .config import FeatureConfig
from .errors import SignposeError
from .keypoints import KeypointSequence, atomic_write_bytes
from .schema import (
    FACE,
    FACE_LEFT_EYEBROW,
    FACE_LIPS,
    FACE_RIGHT_EYEBROW,
    LEFT_HAND,
    LEFT_SHOULDER,
    RIGHT_HAND,
    RIGHT_SHOULDER,
    UPPER_BODY,
    mirror_permutation,
    points,
)


@dataclass(frozen=True)
class FeatureSet:
    """A named choice of points and the features derived from them."""

    name: str
    points: tuple[int, ...]  # global indices into the 543
    motion: bool = False  # add frame-to-frame differences (lag 1)
    description: str = ""

    @property
    def n_points(self) -> int:
        return len(self.points)

    def local(self, global_indices: np.ndarray) -> np.ndarray:
        """Positions within this set of the given global points (-1 where not in the set)."""
        where = {g: i for i, g in enumerate(self.points)}
        return np.array([where.get(int(g), -1) for g in global_indices])

    def hand_groups(self) -> list[np.ndarray]:
        """Local indices of each hand in this set (wrist first), for hand dropout and shapes."""
        groups = []
        for hand in (LEFT_HAND, RIGHT_HAND):
            idx = self.local(np.arange(hand.start, hand.start + hand.size))
            if (idx >= 0).all():
                groups.append(idx)
        return groups

    def mirror(self) -> np.ndarray:
        """Local permutation that swaps left and right within this set."""
        perm = mirror_permutation()[list(self.points)]
        local = self.local(perm)
        return np.where(local >= 0, local, np.arange(self.n_points))


_HANDS = tuple(points("left_hand")) + tuple(points("right_hand"))
FEATURE_SETS: dict[str, FeatureSet] = {}


def register_feature_set(fs: FeatureSet) -> FeatureSet:
    FEATURE_SETS[fs.name] = fs
    return fs


register_feature_set(FeatureSet("hands", _HANDS, description="both hands, x,y: 84 values (the seed's hands input)"))
register_feature_set(FeatureSet(
    "pose_hands", tuple(points("pose")) + _HANDS,
    description="33 pose + 42 hand points, x,y: 150 values (the seed's pose+hands input, sliced correctly)",
))  # fmt: skip
register_feature_set(FeatureSet(
    "rich",
    tuple(UPPER_BODY) + _HANDS
    + tuple(FACE.start + i for i in FACE_LIPS + FACE_LEFT_EYEBROW + FACE_RIGHT_EYEBROW),
    motion=True,
    description="upper body, hands, lips and eyebrows, x,y, with frame differences: 428 values",
))  # fmt: skip


def feature_set(name: str) -> FeatureSet:
    try:
        return FEATURE_SETS[name]
    except KeyError:
        raise SignposeError(f"unknown feature set {name!r}; choose one of {', '.join(FEATURE_SETS)}") from None


def feature_size(config: FeatureConfig) -> int:
    fs = feature_set(config.features)
    size = fs.n_points * 2
    if config.hand_relative:
        size += sum(len(g) for g in fs.hand_groups()) * 2
    return size * (2 if fs.motion else 1)


# ---------------------------------------------------------------------------------------
# Stage 1: numpy, per sequence
# ---------------------------------------------------------------------------------------


def interpolate_gaps(xyz: np.ndarray, present: np.ndarray, max_gap: int) -> tuple[np.ndarray, np.ndarray]:
    """Fill gaps of up to `max_gap` frames between two detections, linearly, per point.

    Leading and trailing gaps are left absent: there is nothing to interpolate from.
    """
    if max_gap <= 0 or xyz.shape[0] < 3:
        return xyz, present
    t = xyz.shape[0]
    frames = np.arange(t)[:, None]
    prev = np.maximum.accumulate(np.where(present, frames, -1), axis=0)
    nxt = np.minimum.accumulate(np.where(present, frames, t)[::-1], axis=0)[::-1]
    fill = ~present & (prev >= 0) & (nxt < t) & (nxt - prev - 1 <= max_gap)
    if not fill.any():
        return xyz, present
    p = np.clip(prev, 0, t - 1)
    n = np.clip(nxt, 0, t - 1)
    cols = np.arange(xyz.shape[1])[None, :]
    w = ((frames - p) / np.maximum(n - p, 1))[..., None]
    lerp = xyz[p, cols] * (1 - w) + xyz[n, cols] * w
    return np.where(fill[..., None], lerp, xyz).astype(np.float32), present | fill


def body_frame(xyz: np.ndarray, present: np.ndarray) -> tuple[np.ndarray, float]:
    """Origin (between the shoulders) and scale (shoulder width) of one sequence, in x,y.

    Medians over the frames where both shoulders were seen, so a few bad frames or frames
    without a pose do not move it. Without any pose: the centre and spread of whatever was
    seen. Never NaN, never a zero scale.
    """
    both = present[:, LEFT_SHOULDER] & present[:, RIGHT_SHOULDER]
    if both.any():
        left, right = xyz[both, LEFT_SHOULDER, :2], xyz[both, RIGHT_SHOULDER, :2]
        origin = np.median((left + right) / 2, axis=0)
        scale = float(np.median(np.linalg.norm(left - right, axis=1)))
    elif present.any():
        seen = xyz[present][:, :2]
        origin = seen.mean(axis=0)
        scale = float(2 * seen.std(axis=0).max())
    else:
        origin, scale = np.zeros(2, np.float32), 1.0
    if not np.isfinite(scale) or scale < 1e-6:
        scale = 1.0
    return origin.astype(np.float32), scale


def time_positions(frames: int, target: int, sampling: str) -> np.ndarray:
    """Fractional source frame positions for each of the `target` output frames."""
    if sampling == "resample":
        return np.linspace(0, frames - 1, target) if frames > 1 else np.zeros(target)
    if sampling == "first":  # the seed: the first T frames; a short video repeats its last frame
        return np.minimum(np.arange(target), frames - 1).astype(np.float64)
    raise SignposeError(f"unknown sampling {sampling!r}; use 'resample' or 'first'")


def resample(values: np.ndarray, mask: np.ndarray, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Values (T0, ...) and mask at fractional frame positions; a point is present only
    when both neighbouring source frames have it (nothing is invented)."""
    lo = np.floor(positions).astype(int)
    hi = np.minimum(lo + 1, values.shape[0] - 1)
    w = (positions - lo).reshape(-1, *([1] * (values.ndim - 1)))
    out = values[lo] * (1 - w) + values[hi] * w
    exact = (positions == lo).reshape(-1, *([1] * (mask.ndim - 1)))
    m = np.where(exact, mask[lo], mask[lo] & mask[hi])
    return out.astype(np.float32), m


def sequence_points(seq: KeypointSequence, config: FeatureConfig) -> tuple[np.ndarray, np.ndarray]:
    """One sequence -> points (T, P, 2) and mask (T, P) for the config's feature set."""
    fs = feature_set(config.features)
    xyz, present = interpolate_gaps(seq.xyz, seq.present, config.interpolate_gap)
    if config.normalise == "body":
        origin, scale = body_frame(xyz, present)
        xy = (xyz[..., :2] - origin) / scale
    elif config.normalise == "image":
        xy = xyz[..., :2] / np.array([seq.width or 1, seq.height or 1], np.float32)
    else:
        raise SignposeError(f"unknown normalisation {config.normalise!r}; use 'body' or 'image'")
    idx = list(fs.points)
    pts, mask = resample(xy[:, idx], present[:, idx], time_positions(seq.frames, config.frames, config.sampling))
    return np.where(mask[..., None], pts, 0).astype(np.float32), mask


def prepare_points(seqs: list[KeypointSequence], config: FeatureConfig) -> tuple[np.ndarray, np.ndarray]:
    """Many sequences -> points (N, T, P, 2) float32 and mask (N, T, P) bool."""
    fs = feature_set(config.features)
    if not seqs:
        return np.zeros((0, config.frames, fs.n_points, 2), np.float32), np.zeros((0, config.frames, fs.n_points), bool)
    out = [sequence_points(s, config) for s in seqs]
    return np.stack([p for p, _ in out]), np.stack([m for _, m in out])


def config_key(config: FeatureConfig) -> str:
    """Identifies what stage 1 depends on (not hand_relative: that is stage 2)."""
    relevant = {k: v for k, v in asdict(config).items() if k != "hand_relative"}
    return hashlib.sha1(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:12]


@dataclass
class PointData:
    """A dataset's samples ready for training: points, masks, labels and who signed them."""

    points: np.ndarray  # (N, T, P, 2)
    mask: np.ndarray  # (N, T, P)
    rows: object  # pandas DataFrame of the manifest rows, aligned with points

    def __len__(self) -> int:
        return len(self.points)


def load_points(dataset, config: FeatureConfig, workers: int = 4) -> PointData:
    """Stage 1 for a whole dataset, cached in DATASET/cache/ (keyed by config and files)."""
    import pandas as pd

    rows = dataset.rows
    cache = Path(dataset.root) / "cache" / f"points-{config_key(config)}-{dataset.fingerprint(rows)}.npz"
    if cache.is_file():
        try:
            with np.load(cache, allow_pickle=False) as z:
                samples = list(z["samples"])
                if samples == list(rows["sample"]):
                    return PointData(z["points"], z["mask"], rows)
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache is rebuilt
    seqs, loaded, problems = dataset.load(rows, workers=workers)
    for p in problems:
        warnings.warn(f"skipping {p.sample}: {p.problem}", stacklevel=2)
    pts, mask = prepare_points(seqs, config)
    if not problems:
        buf = io.BytesIO()
        np.savez(buf, points=pts, mask=mask, samples=np.array(loaded["sample"], dtype=str))
        atomic_write_bytes(cache, buf.getvalue())
    return PointData(pts, mask, pd.DataFrame(loaded).reset_index(drop=True))


# ---------------------------------------------------------------------------------------
# Stage 2: torch, batched, inside the model
# ---------------------------------------------------------------------------------------


class FeatureHead(torch.nn.Module):
    """Points (B, T, P, 2) and mask (B, T, P) -> features (B, T, F), frame mask (B, T)."""

    def __init__(self, config: FeatureConfig):
        super().__init__()
        fs = feature_set(config.features)
        self.motion = fs.motion
        self.hand_relative = config.hand_relative
        groups = fs.hand_groups() if config.hand_relative else []
        self.register_buffer("hands", torch.tensor(np.stack(groups) if groups else np.zeros((0, 21)), dtype=torch.long))
        self.out_features = feature_size(config)

    def forward(self, pts, mask):
        m = mask.to(pts.dtype).unsqueeze(-1)  # (B, T, P, 1)
        xs, ms = [pts * m], [m]
        if self.hand_relative and self.hands.shape[0]:
            hand, hm = xs[0][:, :, self.hands], m[:, :, self.hands]  # (B, T, H, 21, 2|1)
            wrist, valid = hand[..., :1, :], hm * hm[..., :1, :]
            size = (hand[..., 9:10, :] - wrist).norm(dim=-1, keepdim=True).clamp_min(1e-3)  # wrist to middle MCP
            xs.append(((hand - wrist) / size * valid).flatten(2, 3))
            ms.append(valid.flatten(2, 3))
        x, m = torch.cat(xs, dim=2), torch.cat(ms, dim=2)
        feats = x.flatten(2)
        if self.motion:  # a difference exists only where the point was seen in both frames
            diff = (x[:, 1:] - x[:, :-1]) * (m[:, 1:] * m[:, :-1])
            feats = torch.cat([feats, torch.cat([torch.zeros_like(x[:, :1]), diff], dim=1).flatten(2)], dim=2)
        return feats, mask.any(dim=-1)
