"""From keypoint sequences to model inputs.

Two stages, so augmentation can work on geometry in between:

1. `prepare_points` (numpy, per sample, cached): fill short tracking gaps, normalise to
   the body (origin between the shoulders, unit shoulder width), bring the whole sign to
   T frames, keep the feature set's points: `points (N, T, P, 2)` and `mask (N, T, P)`.
   Absent points stay absent: the mask travels with them, their values are 0.
2. `heads` (torch, inside the model, so ONNX exports include it): flatten the points and
   add derived features (frame differences, hand shapes relative to the wrist), or a
   graph's stream. Absent points give 0, never NaN.

Which points and which derived features: the named feature sets of `feature_sets`.
`FeaturePipeline` resolves a `FeatureConfig` into both stages once.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import torch
from pydantic import Field, field_validator, model_validator

from ..data.dataset import Dataset
from ..data.keypoints import KeypointSequence
from ..data.schema import (
    FACE,
    FACE_CHEEKS,
    FACE_TOP_CHIN,
    LEFT_HAND,
    LEFT_SHOULDER,
    RIGHT_HAND,
    RIGHT_SHOULDER,
    mirror_permutation,
)
from ..settings import Settings, unknown
from ..util import atomic_write_bytes
from .feature_sets import FEATURE_SETS, STREAMS, FeatureSet, feature_set, register_feature_set
from .heads import FeatureHead, GraphHead

__all__ = [  # the feature sets and the heads are re-exported: `features` is where to look first
    "FEATURE_SETS",
    "STREAMS",
    "FeatureConfig",
    "FeatureHead",
    "FeaturePipeline",
    "FeatureSet",
    "GraphHead",
    "PointData",
    "feature_set",
    "register_feature_set",
]


class FeatureConfig(Settings):
    """How a keypoint sequence becomes a (frames x features) array."""

    features: str = Field(
        "hand_centred",
        description=f"feature set (`signpose models` lists them): {', '.join(FEATURE_SETS)}",
    )
    stream: Literal[STREAMS] = Field(
        "joint",
        description="view of a graph feature set (graph27): joint positions, bones (each joint minus its "
        "parent along the graph), or the frame differences of either",
    )
    frames: int = Field(30, ge=2, le=1024, description="T: every sample becomes exactly this many frames")
    sampling: Literal["resample", "first"] = Field(
        "resample",
        description="resample: the whole sign to T frames; first: the seed's first T frames",
    )
    normalise: Literal["body", "image"] = Field(
        "body",
        description="body: origin between the shoulders, unit shoulder width; image: the seed's [0, 1] units",
    )
    interpolate_gap: int = Field(
        5,
        ge=0,
        le=1000,
        description="hand-tracking gaps up to this many frames are filled linearly",
    )
    dominant_hand: Literal["as-recorded", "right", "per-signer"] = Field(
        "right",
        description="right: mirror a sample whose left hand leads, so the leading hand is always the right one; "
        "per-signer: mirror all of a signer's samples when their left hand leads over all of them (a single "
        "video with no signer, as in predict and live, is decided on its own)",
    )
    hand_relative: bool = Field(False, description="add each hand's points relative to its wrist, scaled by hand size")
    signer_norm: bool = Field(
        False,
        description="standardise each signer's points by their own mean and spread over all their samples, as "
        "speaker normalisation does in speech (the tested person's from their own recordings, no labels); "
        "for training and evaluation only: recognition has no signer's statistics (measured, not the default)",
    )
    aspect: Literal["as-recorded", "face"] = Field(
        "as-recorded",
        description="sources without a frame size (MP_Data, .npz, asl-signs: x in frame widths, y in heights): "
        "as-recorded leaves x and y as stored; face recovers the frame's width:height from the face's "
        "proportions so that shapes are not stretched by the camera's frame (measured, not the default)",
    )

    @field_validator("features")
    @classmethod
    def _known_set(cls, name: str) -> str:
        if name not in FEATURE_SETS:
            raise ValueError(unknown("feature set", name, FEATURE_SETS))
        return name

    @model_validator(mode="after")
    def _stream_needs_a_graph(self) -> FeatureConfig:
        if self.stream != "joint" and FEATURE_SETS[self.features].graph is None:
            graphs = [n for n, fs in FEATURE_SETS.items() if fs.graph is not None]
            raise ValueError(f"stream {self.stream!r} needs a graph feature set ({', '.join(graphs)})")
        return self

    def points_config(self) -> dict:
        """What stage 1 depends on: the settings less those of stage 2 (inside the model)."""
        return self.model_dump(exclude={"hand_relative", "stream"})


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


# A face's width over its height (cheek to cheek, forehead to chin) in square pixels:
# 0.74-0.82 in the real clips whose frame size is known (KArSL signer 01 0.74, the
# fingerspelling signer 0.79, six WLASL signers 0.82); their middle, 0.78.
FACE_WIDTH_TO_HEIGHT = 0.78


def frame_aspect(xyz: np.ndarray, present: np.ndarray) -> float:
    """The width:height of the frame that image-normalised points (x in frame widths, y in
    frame heights) came from, read from the face: its shape in these units is a face's
    shape squeezed by the frame's (the 5th-place Google ASL Fingerspelling solution reads
    it from the hands). Within 8% of the truth on every real clip whose size is
    known (16:9, 4:3 and 1:1); 1.0 (no change) where no face was seen."""
    idx = FACE.start + np.array([*FACE_CHEEKS, *FACE_TOP_CHIN])
    seen = present[:, idx].all(axis=1)
    f = xyz[:, idx, :2][seen]  # the four points first: no copy of the whole frame
    width, height = np.abs(f[:, 1, 0] - f[:, 0, 0]), np.abs(f[:, 3, 1] - f[:, 2, 1])
    ok = (width > 1e-6) & (height > 1e-6)
    if not ok.any():
        return 1.0
    # the median over frames: a turned or tilted head in a few frames does not move it
    return float(np.clip(FACE_WIDTH_TO_HEIGHT / np.median(width[ok] / height[ok]), 0.25, 4.0))


def time_positions(frames: int, target: int, sampling: str) -> np.ndarray:
    """Fractional source frame positions for each of the `target` output frames."""
    if sampling == "resample":
        return np.linspace(0, frames - 1, target) if frames > 1 else np.zeros(target)
    # the seed: the first T frames; a short video repeats its last frame
    return np.minimum(np.arange(target), frames - 1).astype(np.float64)


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


def normalised_xy(seq: KeypointSequence, config: FeatureConfig) -> tuple[np.ndarray, np.ndarray]:
    """Gaps filled, then all 543 points in the configured units: xy (T, 543, 2), present (T, 543)."""
    xyz, present = interpolate_gaps(seq.xyz, seq.present, config.interpolate_gap)
    if config.normalise == "body":
        if config.aspect == "face" and seq.width == seq.height == 1:  # no frame size: x in widths, y in heights
            xyz = xyz * np.array([frame_aspect(xyz, present), 1.0, 1.0], np.float32)
        origin, scale = body_frame(xyz, present)
        xy = (xyz[..., :2] - origin) / scale
    else:  # image
        xy = xyz[..., :2] / np.array([seq.width or 1, seq.height or 1], np.float32)
    return xy, present


def sequence_points(
    seq: KeypointSequence, config: FeatureConfig, fs: FeatureSet, mirror: bool | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """One sequence -> points (T, P, 2) and mask (T, P) for the feature set. `mirror`
    (left/right, hands swapped) is decided by the dominant-hand rule unless given."""
    xy, present = normalised_xy(seq, config)
    if mirror is None:
        mirror = config.dominant_hand != "as-recorded" and left_hand_leads(xy, present)
    if mirror:
        centre = 0.0 if config.normalise == "body" else 1.0  # x -> -x between the shoulders, 1 - x in image units
        xy = xy[:, MIRROR_543] * np.array([-1.0, 1.0], np.float32) + np.array([centre, 0.0], np.float32)
        present = present[:, MIRROR_543]
    idx = list(fs.points)
    pts, mask = resample(xy[:, idx], present[:, idx], time_positions(seq.frames, config.frames, config.sampling))
    return np.where(mask[..., None], pts, 0).astype(np.float32), mask


MIRROR_543 = mirror_permutation()


def hand_use(xy: np.ndarray, present: np.ndarray) -> np.ndarray:
    """How much each hand does in a sequence: [[frames seen, wrist path length] for the
    left hand, the same for the right], (2, 2)."""
    use = np.zeros((2, 2))
    for i, hand in enumerate((LEFT_HAND, RIGHT_HAND)):
        wrist, here = xy[:, hand.start], present[:, hand.start]
        both = here[1:] & here[:-1]
        use[i] = here.sum(), np.linalg.norm(np.diff(wrist, axis=0), axis=1)[both].sum()
    return use


def left_hand_leads(xy: np.ndarray, present: np.ndarray) -> bool:
    """Whether the signer's left hand does more of this sign than the right: it is seen
    in more frames or, as often, travels further (wrist path length)."""
    use = hand_use(xy, present)
    return tuple(use[0]) > tuple(use[1])


def signer_mirrors(seqs: list[KeypointSequence], signers: list[str], config: FeatureConfig) -> list[bool]:
    """The per-signer rule: a signer's samples are all mirrored when, summed over all of
    them, the left hand is seen more often (or, as often, travels further) than the right.
    Handedness belongs to the person, so every repetition of a sign stays on one side."""
    use = [hand_use(*normalised_xy(s, config)) for s in seqs]
    total: dict[str, np.ndarray] = {}
    for who, u in zip(signers, use, strict=True):
        total[who] = total.get(who, 0) + u
    leads = {who: tuple(u[0]) > tuple(u[1]) for who, u in total.items()}
    return [leads[who] for who in signers]


def signer_standardised(points: np.ndarray, mask: np.ndarray, signers: list) -> np.ndarray:
    """Points (N, T, P, 2) with each signer's own statistics taken out: every point's x and
    y less that signer's mean over all their present frames, over their spread (at least
    0.01 shoulder widths, so a point that never moves is not blown up). Absent points stay 0."""
    out = np.zeros_like(points)
    who = np.asarray(signers, dtype=object)
    for signer in dict.fromkeys(signers):
        rows = np.flatnonzero(who == signer)
        m = mask[rows][..., None]
        count = np.maximum(m.sum((0, 1)), 1)
        mean = (points[rows] * m).sum((0, 1)) / count
        spread = np.sqrt((((points[rows] - mean) ** 2) * m).sum((0, 1)) / count)
        out[rows] = np.where(m, (points[rows] - mean) / np.maximum(spread, 0.01), 0.0)
    return out.astype(np.float32)


# ---------------------------------------------------------------------------------------
# Both stages, resolved once from a config
# ---------------------------------------------------------------------------------------


@dataclass
class PointData:
    """A dataset's samples ready for training: points, masks and their manifest rows."""

    points: np.ndarray  # (N, T, P, 2)
    mask: np.ndarray  # (N, T, P)
    rows: pd.DataFrame  # the manifest rows, aligned with points

    def __len__(self) -> int:
        return len(self.points)


class FeaturePipeline:
    """A FeatureConfig resolved once into what training, evaluation, export and
    recognition share: the feature set, stage 1 (numpy, cached per dataset) and
    stage 2 (the torch `FeatureHead` inside every model)."""

    def __init__(self, config: FeatureConfig):
        self.config = config
        self.set = feature_set(config.features)

    @property
    def n_points(self) -> int:
        return self.set.n_points

    @functools.cached_property
    def size(self) -> int:
        """Features per frame that stage 2 gives the model (counted on a blank input)."""
        with torch.no_grad():
            x, _ = self.head()(
                torch.zeros(1, 3, self.n_points, 2),
                torch.ones(1, 3, self.n_points, dtype=torch.bool),
            )
        return int(x.shape[-1])

    def points(self, seq: KeypointSequence) -> tuple[np.ndarray, np.ndarray]:
        """Stage 1 for one sequence: points (T, P, 2), mask (T, P)."""
        return sequence_points(seq, self.config, self.set)

    def prepare(self, seqs: list[KeypointSequence], signers: list[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Stage 1 for many: points (N, T, P, 2) float32 and mask (N, T, P) bool. With
        `signers` (one per sequence), the per-signer dominant-hand rule sees them together."""
        t, p = self.config.frames, self.set.n_points
        if not seqs:
            return np.zeros((0, t, p, 2), np.float32), np.zeros((0, t, p), bool)
        mirrors: list[bool | None] = [None] * len(seqs)
        if self.config.dominant_hand == "per-signer" and signers is not None:
            mirrors = signer_mirrors(seqs, signers, self.config)
        out = [sequence_points(s, self.config, self.set, m) for s, m in zip(seqs, mirrors, strict=True)]
        points, mask = np.stack([a for a, _ in out]), np.stack([m for _, m in out])
        if self.config.signer_norm:
            points = signer_standardised(points, mask, signers if signers is not None else list(range(len(seqs))))
        return points, mask

    def head(self) -> torch.nn.Module:
        if self.set.graph is not None:
            return GraphHead(self.set, self.config.stream)
        return FeatureHead(self.set, self.config.hand_relative)

    def same_points(self, other: FeaturePipeline) -> bool:
        """Whether the two prepare the same points (they may still differ inside the model)."""
        return self.config.points_config() == other.config.points_config()

    def cache_key(self) -> str:
        """Identifies what stage 1 depends on (not hand_relative or stream: those are stage 2)."""
        relevant = self.config.points_config()
        return hashlib.sha1(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:12]

    def load(self, dataset: Dataset, workers: int = 4) -> PointData:
        """Stage 1 for a whole dataset, cached in DATASET/cache/ (keyed by config and files)."""
        rows = dataset.rows
        cache = Path(dataset.root) / "cache" / f"points-{self.cache_key()}-{dataset.fingerprint(rows)}.npz"
        if cache.is_file():
            try:
                with np.load(cache, allow_pickle=False) as z:
                    if list(z["samples"]) == list(rows["sample"]):
                        return PointData(z["points"], z["mask"], rows)
            except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError):
                pass  # a damaged cache is rebuilt
        seqs, loaded, problems = dataset.load(rows, workers=workers)
        for p in problems:
            print(f"signpose: warning: skipping {p.sample}: {p.problem}", file=sys.stderr)
        pts, mask = self.prepare(seqs, list(loaded["signer"]))
        if not problems:
            buf = io.BytesIO()
            np.savez(buf, points=pts, mask=mask, samples=np.array(loaded["sample"], dtype=str))
            with contextlib.suppress(OSError):  # a read-only dataset still trains, just without the cache
                atomic_write_bytes(cache, buf.getvalue())
        return PointData(pts, mask, pd.DataFrame(loaded).reset_index(drop=True))
