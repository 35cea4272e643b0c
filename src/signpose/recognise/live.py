"""Live recognition: a sliding window over a camera, file or stream, classified every few
frames, with hold-to-commit so that one sign is reported once, not every stride.

`Committer` holds the decision rule apart from video, so any source of window
classifications (a camera here, a browser's landmarks elsewhere) commits signs the same way.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from pydantic import Field, model_validator

from ..data.keypoints import KeypointSequence
from ..data.video import open_frames
from ..extract.holistic import HolisticExtractor
from ..settings import Settings

if TYPE_CHECKING:
    from .recognizer import Recognizer


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


class LiveSession:
    """Recognition over a stream: iterate for the reported signs; `summary()` afterwards."""

    def __init__(
        self,
        recognizer: Recognizer,
        source: str | int,
        config: LiveConfig,
        on_frame: Callable[[np.ndarray, dict | None], None] | None = None,
    ):
        self.recognizer, self.source, self.config, self.on_frame = (
            recognizer,
            source,
            config,
            on_frame,
        )
        self.committer = Committer(config)
        self.frames = 0

    def __iter__(self) -> Iterator[dict]:
        rec, config = self.recognizer, self.config
        frames = open_frames(self.source, fps=rec.extraction.fps)
        buf: deque = deque(maxlen=config.window)
        last: dict | None = None
        with HolisticExtractor(rec.extraction) as extractor:
            for i, rgb in enumerate(frames):
                self.frames = i + 1
                h, w = rgb.shape[:2]
                buf.append(extractor.frame_arrays(extractor.process_frame(rgb), w, h)[:2])
                if len(buf) == config.window and (i + 1 - config.window) % config.stride == 0:
                    xyz, present = np.stack([b[0] for b in buf]), np.stack([b[1] for b in buf])
                    pred = rec.predict_sequence(KeypointSequence(xyz, present, frames.fps, w, h), top_k=1)
                    event = self.committer.update(i, frames.fps, pred.top[0] if pred.status == "ok" else None)
                    if event is not None:
                        last = event
                        yield event
                if self.on_frame is not None:
                    self.on_frame(rgb, last)

    def summary(self) -> str:
        return self.committer.summary(self.frames)
