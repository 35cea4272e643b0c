"""All settings, typed, in one place. Each run saves its resolved config as JSON, so a run
can be reproduced from its folder alone (paths in it are relative or given by the user)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from .errors import SignposeError


@dataclass
class ExtractionConfig:
    """MediaPipe Holistic settings; the defaults are the seed notebook's."""

    model_complexity: int = 1  # the model bundled in the mediapipe 0.10.21 wheel
    min_detection_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    fps: float = 30.0  # frame rate assumed for frame-image folders


@dataclass
class FeatureConfig:
    """How a keypoint sequence becomes a (frames x features) array."""

    features: str = "pose_hands"  # a name from signpose.features.FEATURE_SETS
    frames: int = 30  # T: every sample becomes exactly this many frames
    sampling: str = "resample"  # resample (whole sign to T frames) | first (the seed's first T frames)
    normalise: str = "body"  # body (shoulder centre, unit shoulder width) | image ([0,1] frame, the seed's)
    interpolate_gap: int = 5  # hand-tracking gaps up to this many frames are filled linearly
    hand_relative: bool = False  # add each hand's points relative to its wrist, scaled by hand size


@dataclass
class AugmentConfig:
    """On-the-fly augmentation: each transform has a probability and a range."""

    rotate_p: float = 0.5
    rotate_deg: float = 15.0
    scale_p: float = 0.5
    scale_range: tuple[float, float] = (0.8, 1.2)
    shear_p: float = 0.3
    shear: float = 0.15
    shift_p: float = 0.3
    shift: float = 0.1
    time_warp_p: float = 0.5
    time_warp: tuple[float, float] = (0.7, 1.3)  # speed factor range
    crop_p: float = 0.3
    crop_min: float = 0.8  # keep at least this share of the sign when cropping in time
    frame_drop_p: float = 0.2
    frame_drop: float = 0.1  # share of frames dropped
    point_drop_p: float = 0.2
    point_drop: float = 0.05  # share of points dropped
    hand_drop_p: float = 0.1  # one whole hand absent for the sample
    mirror_p: float = 0.0  # left/right mirror with hand swap; off by default (handedness matters in some languages)
    seed_rotation_p: float = 0.0  # the seed notebook's rotation about the image corner (comparison only)
    seed_scale_p: float = 0.0  # the seed notebook's scale by a factor in [0, 1) (comparison only)

    @classmethod
    def off(cls) -> AugmentConfig:
        return cls(**{f.name: 0.0 for f in fields(cls) if f.name.endswith("_p")})

    @classmethod
    def seed(cls) -> AugmentConfig:
        """The notebook's augmentation: its rotation and scaling, nothing else."""
        return dataclasses.replace(cls.off(), seed_rotation_p=1 / 3, seed_scale_p=1 / 3)


@dataclass
class TrainConfig:
    """One training run. Defaults follow the seed notebook where it has a setting."""

    model: str = "islr"
    test_signer: str | None = None
    val_fraction: float = 0.2
    split: str = "signer"  # signer (train on other signers) | mixed (signer-dependent, for comparison)
    seed: int = 42
    epochs: int = 1000
    batch_size: int | None = None  # None: the model's default (32, or 64 for the transformer)
    lr: float | None = None  # None: the model's default (the notebook's 1e-4 / 1e-5)
    weight_decay: float = 0.0
    patience: int | None = None  # None: the model's default (10, or 5 for the transformer)
    monitor: str | None = None  # val_acc | val_loss; None: the model's default (the notebook's val_acc)
    label_smoothing: float = 0.0
    num_workers: int = 0
    accelerator: str = "auto"
    devices: str = "auto"
    strategy: str = "auto"
    max_minutes: float | None = None
    features: FeatureConfig = field(default_factory=FeatureConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    model_options: dict[str, Any] = field(default_factory=dict)


def to_dict(config: Any) -> dict:
    return asdict(config)


def _build(cls, data: dict):
    known = {f.name: f for f in fields(cls)}
    unknown = set(data) - set(known)
    if unknown:
        raise SignposeError(f"unknown {cls.__name__} settings {sorted(unknown)}; known: {sorted(known)}")
    kwargs = {}
    for name, value in data.items():
        sub = {"features": FeatureConfig, "augment": AugmentConfig}.get(name) if cls is TrainConfig else None
        if sub is not None and isinstance(value, dict):
            value = _build(sub, value)
        elif isinstance(value, list):
            value = tuple(value)
        kwargs[name] = value
    return cls(**kwargs)


def from_dict(cls, data: dict):
    """Build a config dataclass from a dict (nested dicts for nested configs)."""
    return _build(cls, data)


def save_json(config: Any, path: Path) -> None:
    from .keypoints import atomic_write_json

    atomic_write_json(Path(path), to_dict(config))


def load_json(cls, path: Path):
    path = Path(path)
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise SignposeError(f"{path}: config file not found") from None
    except json.JSONDecodeError as e:
        raise SignposeError(f"{path}: not valid JSON ({e})") from None
    return from_dict(cls, data)
