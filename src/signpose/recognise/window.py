"""The live window, written once: frames in, a classification every `stride` frames once
`window` frames are in, and hold-to-commit, so that one sign is reported once, not every
stride. `signpose live` (a camera, file or stream) and the web app's streams (a
browser's landmarks or camera frames) both use it: they number frames (from 0, the frame
a window ends at), time commits (by the source's frame rate) and commit alike.

`Committer` holds the decision rule apart from frames, so any source of window
classifications commits signs the same way.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
from pydantic import Field, model_validator

from ..data.keypoints import KeypointSequence
from ..settings import Settings


class LiveConfig(Settings):
    """How `live` turns a stream into signs."""

    window: int = Field(30, ge=2, le=1024, description="frames in the sliding window")
    stride: int = Field(5, ge=1, le=1024, description="classify every N frames")
    threshold: float = Field(0.5, ge=0, le=1, description="a sign must reach this probability (mean while held)")
    hold: int = Field(3, ge=1, le=100, description="classifications in a row a sign must win to be reported")
    cooldown: int = Field(15, ge=0, description="frames after a report before the next one")

    @model_validator(mode="after")
    def _stride_fits(self) -> LiveConfig:
        if self.stride > self.window:
            raise ValueError(f"stride ({self.stride}) must not be larger than window ({self.window})")
        return self


Top = tuple[str, str, float]  # (sign_id, name, probability)


@dataclass
class Committer:
    """Hold-to-commit: a sign is reported when it has won `hold` classifications in a row
    with a mean probability of at least `threshold`, not within `cooldown` frames of the
    last report, and not again until something else (or nothing) has won in between."""

    config: LiveConfig
    windows: int = 0
    best: Top | None = None  # the most probable top sign of any window
    commits: list[dict] = field(default_factory=list)
    _streak: list[float] = field(default_factory=list)
    _sign: str | None = None
    _last: str | None = None
    _released: bool = True
    _quiet_until: int = -1

    def update(self, frame: int, fps: float, top: Top | None) -> dict | None:
        """One window's top sign (None: no hands, nothing to classify); returns a report or None."""
        self.windows += 1
        if top is not None and (self.best is None or top[2] > self.best[2]):
            self.best = top
        if top is None or top[0] != self._sign:
            self._sign, self._streak = (top[0] if top else None), []
            self._released = self._released or top is None or top[0] != self._last
        if top is None:
            return None
        self._streak.append(top[2])
        held = self._streak[-self.config.hold :]
        mean = float(np.mean(held))
        if len(held) < self.config.hold or mean < self.config.threshold or frame < self._quiet_until:
            return None
        if top[0] == self._last and not self._released:
            return None
        event = {
            "time": frame / fps,
            "frame": frame,
            "sign_id": top[0],
            "sign": top[1],
            "probability": mean,
        }
        self.commits.append(event)
        self._last, self._released, self._quiet_until = top[0], False, frame + self.config.cooldown
        return event

    def summary(self, frames: int) -> str:
        """One line for the end of a stream: what was seen, and why nothing was when nothing was."""
        head = f"{frames} frames, {self.windows} windows classified"
        if self.commits:
            return f"{head}, {len(self.commits)} signs: " + ", ".join(e["sign"] for e in self.commits)
        if self.windows == 0:
            return f"{head}: the stream was shorter than one window ({self.config.window} frames)"
        if self.best is None:
            return f"{head}: no sign recognised (no hands detected)"
        return (
            f"{head}: no sign passed the threshold {self.config.threshold:g} for {self.config.hold} windows; "
            f"best was {self.best[1]} at {self.best[2]:.2f}"
        )


class LiveWindow:
    """The last `window` frames of one stream and its committer. `push` a frame; when a
    classification is due it returns the window as a sequence, whose top sign goes to
    `commit`."""

    def __init__(self, config: LiveConfig, fps: float):
        if not fps > 0:
            raise ValueError(f"a live stream needs a frame rate above 0, not {fps}")
        self.config, self.fps = config, fps
        self._frames: deque = deque(maxlen=config.window)
        self.committer = Committer(config)
        self.frames = 0  # frames pushed
        self.size = (1, 1)

    @property
    def frame(self) -> int:
        """The number of the last frame pushed, from 0."""
        return self.frames - 1

    def push(self, xyz: np.ndarray, present: np.ndarray, width: int, height: int) -> KeypointSequence | None:
        """One frame's (543, 3) points and (543,) mask; the window when it is due."""
        self._frames.append((xyz, present))
        self.size = (width, height)
        self.frames += 1
        full = len(self._frames) == self.config.window
        if not full or (self.frames - self.config.window) % self.config.stride:
            return None
        xyz_t = np.stack([f[0] for f in self._frames])
        present_t = np.stack([f[1] for f in self._frames])
        return KeypointSequence(xyz_t, present_t, self.fps, width, height)

    def commit(self, top: Top | None) -> dict | None:
        """The due window's top sign (None: nothing to classify) -> a report, or None."""
        return self.committer.update(self.frame, self.fps, top)

    def set_threshold(self, value: float) -> None:
        self.config = self.config.replace(threshold=float(value))
        self.committer.config = self.config

    def reset(self) -> None:
        """Forget the frames and what was held (a new sentence), keeping the count."""
        self._frames.clear()
        self.committer = Committer(self.config)

    def summary(self) -> str:
        return self.committer.summary(self.frames)
