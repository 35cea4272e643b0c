"""Augmentation settings, as a run's config records them: `AugmentConfig` and its named
presets. The transforms themselves are the trainer's (`learn.augmentation`)."""

from __future__ import annotations

from pydantic import Field, model_validator

from ..settings import Preset


def _p(default: float, what: str):
    return Field(default, ge=0, le=1, description=f"probability of {what} per sample")


class AugmentConfig(Preset):
    """On-the-fly augmentation: each transform has a probability and a range. Named
    presets: `light` (the default), `full`, `off`, `seed` (the notebook's transforms, for
    comparison only). A section without a preset name starts from `light`."""

    KIND = "augmentation preset"
    name: str = Field("light", description="the preset these values started from")
    rotate_p: float = _p(1.0, "a rotation about the body centre")
    rotate_deg: float = Field(15.0, ge=0, le=180, description="largest rotation, degrees")
    scale_p: float = _p(1.0, "scaling")
    scale_range: tuple[float, float] = Field((0.8, 1.2), description="scale factor range")
    shear_p: float = _p(0.0, "a shear")
    shear: float = Field(0.15, ge=0, le=1, description="largest shear")
    shift_p: float = _p(0.0, "a shift")
    shift: float = Field(0.1, ge=0, le=2, description="largest shift, shoulder widths")
    aspect_p: float = _p(0.0, "a camera change: x and y scaled apart (a camera turned, or another frame shape)")
    aspect_range: tuple[float, float] = Field((0.8, 1.25), description="range of the x:y scale ratio")
    hand_scale_p: float = _p(0.0, "each hand resized about its wrist (another person's hand size)")
    hand_scale: tuple[float, float] = Field((0.8, 1.2), description="hand size factor range, drawn per hand")
    time_warp_p: float = _p(0.0, "a change of speed")
    time_warp: tuple[float, float] = Field((0.7, 1.3), description="speed factor range")
    crop_p: float = _p(0.0, "a crop in time")
    crop_min: float = Field(0.8, gt=0, le=1, description="share of the sign a time crop keeps at least")
    frame_drop_p: float = _p(0.0, "dropping frames")
    frame_drop: float = Field(0.1, ge=0, lt=1, description="share of frames dropped")
    point_drop_p: float = _p(0.0, "dropping points")
    point_drop: float = Field(0.05, ge=0, lt=1, description="share of points dropped")
    hand_drop_p: float = _p(0.0, "one whole hand going missing")
    mirror_p: float = Field(
        0.0,
        ge=0,
        le=1,
        json_schema_extra={"flag": "--mirror"},
        description="probability of a left/right mirror with hand swap (handedness matters in some languages)",
    )
    seed_rotation_p: float = _p(0.0, "the notebook's rotation about the image corner (comparison only)")
    seed_scale_p: float = _p(0.0, "the notebook's [0, 1) scaling (comparison only)")

    @model_validator(mode="after")
    def _ranges(self) -> AugmentConfig:
        for name in ("scale_range", "aspect_range", "hand_scale", "time_warp"):
            low, high = getattr(self, name)
            if not 0 < low <= high:
                raise ValueError(f"{name} must be two numbers 0 < low <= high, not {low} {high}")
        if self.seed_rotation_p + self.seed_scale_p > 1:
            raise ValueError("seed_rotation_p + seed_scale_p must be at most 1 (the seed's copies are exclusive)")
        return self

    @property
    def active(self) -> bool:
        return any(getattr(self, f) > 0 for f in type(self).model_fields if f.endswith("_p"))


_OFF = {f: 0.0 for f in AugmentConfig.model_fields if f.endswith("_p")}
# 0.1's default: every transform, each with its own probability.
_FULL = {"rotate_p": 0.5, "scale_p": 0.5, "shear_p": 0.3, "shift_p": 0.3, "time_warp_p": 0.5, "crop_p": 0.3}
_FULL |= {"frame_drop_p": 0.2, "point_drop_p": 0.2, "hand_drop_p": 0.1}
AugmentConfig.register("full", "affine, time warp and crop, frame/point/hand dropout", **_FULL)
AugmentConfig.register("default", "0.1's default: the same as full", **_FULL)
AugmentConfig.register("off", "no augmentation", **_OFF)
# The default since 0.2 (chosen by benchmarks/bench_accuracy.py, README "Accuracy").
AugmentConfig.register(
    "light", "rotation (up to 15 degrees) and scale (0.8-1.2) of every sample about its centre, nothing else"
)
AugmentConfig.register(
    "seed",
    "the notebook's rotation and [0, 1) scaling, as offline copies would mix them",
    **{**_OFF, "seed_rotation_p": 1 / 3, "seed_scale_p": 1 / 3},
)
