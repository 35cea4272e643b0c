"""The stream decoder, written once: frames (landmarks) in, timed signs out. `signpose
live`, `signpose transcribe` and the web app's streams all push their frames through it,
so the same landmarks give the same signs wherever they come from.

Two ways to decide when a sign is there (`LiveConfig.mode`):

* `segment` (the default; the design continuous-signing apps converge on): a sign starts
  when a hand comes up into the signing space and ends after `gap` seconds with no hand
  there. Every `stride` frames the window grown since the sign began (at most `max_sign`
  seconds) is classified: the classifier resamples the whole window, so it reads a sign
  of any length, and its confidence peaks where the sign ends. The peak is committed when
  the segment ends, or earlier when someone signs straight on: once a reading no longer
  raises a sure peak, "two signs" (the peak's, then what the frames after the peak read
  as alone) competes with "one sign" (the whole window's reading), and the likelier wins.
  A segment whose best never reaches `threshold` is a "no sign", and one sign is never
  committed twice in a row within a segment (a repeated sign needs a pause).
* `hold`: hold-to-commit over a fixed sliding window: a sign is reported once it has won
  `hold` classifications in a row (0.3's rule, for signs held still one at a time).

Frames are numbered from 0; times are frame / fps of the source.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from ..data.keypoints import KeypointSequence
from ..data.schema import LEFT_HAND, LEFT_SHOULDER, LEFT_WRIST, RIGHT_HAND, RIGHT_SHOULDER, RIGHT_WRIST
from ..errors import SignposeError
from ..settings import Settings, build


class LiveConfig(Settings):
    """How a stream of frames becomes signs (`live`, `transcribe`, the web app)."""

    mode: Literal["segment", "hold"] = Field(
        "segment",
        description="segment: signs one after another, each committed at its confidence peak; "
        "hold: hold-to-commit over a sliding window (one held sign at a time)",
    )
    stride: int = Field(4, ge=1, le=1024, description="classify every N frames")
    threshold: float = Field(0.5, ge=0, le=1, description="a sign must reach this probability to be committed")
    # gap, min_sign and max_sign: the lowest sign error rate pooled over the continuous
    # benchmark's three joinings and three sets of unseen people (benchmarks/README.md),
    # gap 0.4 over 0.5 for a shorter delay at the same error.
    gap: float = Field(
        0.4, ge=0, le=10, description="segment: seconds with no hand in the signing space that end a sign"
    )
    min_sign: float = Field(0.15, gt=0, le=10, description="segment: the shortest sign, in seconds")
    max_sign: float = Field(
        1.0,
        gt=0,
        le=60,
        description="segment: the longest window classified, in seconds (a sign longer than this is over "
        "once its best reading has left the window)",
    )
    rest_line: float = Field(
        1.5,
        ge=0,
        le=10,
        description="segment: a hand more than this many shoulder widths below the shoulders rests "
        "(outside the signing space)",
    )
    # arms: the hand model loses a raised hand in blurred or turned frames while the pose
    # still tracks its arm; on the continuous benchmark it lowered the error on every joining
    # (pooled over people -0.010 [-0.021, -0.001], 15 streams a person and joining).
    arms: bool = Field(
        True,
        description="segment: an arm in the signing space (the pose's wrist) keeps a sign going while the "
        "hand model has lost its hand",
    )
    window: int = Field(30, ge=2, le=1024, description="hold: frames in the sliding window")
    hold: int = Field(3, ge=1, le=100, description="hold: classifications in a row a sign must win")
    cooldown: int = Field(15, ge=0, description="hold: frames after a report before the next one")

    @model_validator(mode="after")
    def _fits(self) -> LiveConfig:
        if self.mode == "hold" and self.stride > self.window:
            raise ValueError(f"stride ({self.stride}) must not be larger than window ({self.window})")
        if self.min_sign > self.max_sign:
            raise ValueError(f"min_sign ({self.min_sign:g} s) must not be longer than max_sign ({self.max_sign:g} s)")
        return self

    @classmethod
    def from_given(cls, values: dict) -> LiveConfig:
        """Settings a person gave (flags, a config file): as `build`, and a setting of the
        other mode is refused rather than silently ignored (0.3's `--window 10` does
        nothing in segment mode)."""
        config = build(cls, values)
        other = MODE_ONLY["hold" if config.mode == "segment" else "segment"]
        if unused := [k for k in other if k in values]:
            flags = ", ".join("--" + k.replace("_", "-") for k in unused)
            raise SignposeError(f"{flags}: only for --mode {'hold' if config.mode == 'segment' else 'segment'}; "
                                f"drop {'it' if len(unused) == 1 else 'them'} or pass that mode")  # fmt: skip
        return config

    def frames(self, seconds: float, fps: float) -> int:
        """A duration in whole frames at this frame rate (at least 1)."""
        return max(1, round(seconds * fps))


MODE_ONLY = {
    "segment": ("gap", "min_sign", "max_sign", "rest_line", "arms"),
    "hold": ("window", "hold", "cooldown"),
}

Top = tuple[str, str, float]  # (sign_id, name, probability)
# What the decoder needs of a classifier: a window -> probabilities over the classes, or
# None when there is nothing to read (no hands).
Classify = Callable[[KeypointSequence], "np.ndarray | None"]

_HANDS = (LEFT_HAND.slice, RIGHT_HAND.slice)
_WRISTS = (LEFT_WRIST, RIGHT_WRIST)


def signing_frames(xyz: np.ndarray, present: np.ndarray, rest_line: float, arms: bool = False) -> np.ndarray:
    """(T, 543, 3) points in pixels and (T, 543) mask -> (T,) bool: a hand is in the
    signing space (seen, and not more than `rest_line` shoulder widths below the
    shoulders; without both shoulders any hand seen counts). With `arms`, the pose's
    wrists instead of the hand model's hands (they need both shoulders)."""
    shoulders = present[:, [LEFT_SHOULDER, RIGHT_SHOULDER]].all(1)
    left, right = xyz[:, LEFT_SHOULDER, :2], xyz[:, RIGHT_SHOULDER, :2]
    line = (left[:, 1] + right[:, 1]) / 2 + rest_line * np.linalg.norm(left - right, axis=1)
    up = np.zeros(len(xyz), bool)
    if arms:
        for wrist in _WRISTS:
            up |= present[:, wrist] & shoulders & (xyz[:, wrist, 1] <= line)
        return up
    for hand in _HANDS:
        seen = present[:, hand].any(1)
        y = xyz[:, hand, 1].mean(1)
        up |= seen & (~shoulders | (y <= line))
    return up


@dataclass
class Committer:
    """Hold-to-commit: a sign is reported when it has won `hold` classifications in a row
    with a mean probability of at least `threshold`, not within `cooldown` frames of the
    last report, and not again until something else (or nothing) has won in between."""

    config: LiveConfig
    windows: int = 0
    best: Top | None = None  # the most probable top sign of any window
    _streak: list[float] = field(default_factory=list)
    _sign: str | None = None
    _name: str = ""
    _last: str | None = None
    _released: bool = True
    _quiet_until: int = -1

    def update(self, frame: int, fps: float, top: Top | None) -> dict | None:
        """One window's top sign (None: no hands, nothing to classify); returns a report or None."""
        self.windows += 1
        if top is not None and (self.best is None or top[2] > self.best[2]):
            self.best = top
        if top is None or top[0] != self._sign:
            self._sign, self._name, self._streak = (top[0] if top else None), (top[1] if top else ""), []
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
        start = max(0, frame - self.config.window + 1)
        event = _commit(top[0], top[1], mean, frame, start, frame, fps)
        self._last, self._released, self._quiet_until = top[0], False, frame + self.config.cooldown
        return event

    def progress(self) -> dict:
        """What is being held, as the page shows it (the server's own count, so the page
        never disagrees with the commits): the sign, windows held of those needed, and
        whether it is the sign just committed, which is not committed again until released."""
        above = [p for p in self._streak[-self.config.hold :] if p >= self.config.threshold]
        return {
            "sign": self._name if self._sign else None,
            "held": len(above),
            "need": self.config.hold,
            "repeat": self._sign is not None and self._sign == self._last and not self._released,
        }


def _commit(sign_id: str, sign: str, p: float, frame: int, start: int, end: int, fps: float) -> dict:
    return {
        "type": "commit",
        "time": frame / fps,  # when it was committed
        "frame": frame,
        "sign_id": sign_id,
        "sign": sign,
        "probability": p,
        "start": start / fps,  # the sign's own span
        "end": (end + 1) / fps,
        "start_frame": start,
        "end_frame": end,
    }


@dataclass
class _Peak:
    index: int  # class
    p: float
    start: int  # the window's first and last frame
    end: int


class StreamDecoder:
    """One stream's decoder: `push` each frame, get its events; `finish` at the end.

    Events (dicts with a "type"): "prediction" (a window was classified: its top signs),
    "commit" (a sign, with its span `start`/`end` in seconds and `time`, when it was
    committed) and "no_sign" (segment mode: hands came up, but no sign passed the
    threshold). `commits` keeps the transcript so far."""

    def __init__(
        self,
        config: LiveConfig,
        fps: float,
        classify: Classify,
        classes: Sequence[str],
        names: Sequence[str],
        top_k: int = 5,
    ):
        if not fps > 0:
            raise ValueError(f"a stream needs a frame rate above 0, not {fps}")
        self.config, self.fps, self.classify = config, fps, classify
        self.classes, self.names, self.top_k = list(classes), list(names), top_k
        self.frames = 0  # frames pushed
        self.size = (1, 1)
        self.reset()

    # -- state -----------------------------------------------------------------------------

    @property
    def frame(self) -> int:
        """The number of the last frame pushed, from 0."""
        return self.frames - 1

    @property
    def commits(self) -> list[dict]:
        return self._commits

    def reset(self) -> None:
        """Forget the frames and what was held (a new sentence), keeping the frame count."""
        keep = max(self.config.window, self._frames_of(self.config.max_sign) + self._frames_of(self.config.gap) + 1)
        self._buffer: deque = deque(maxlen=keep)
        self._commits: list[dict] = []
        self.windows = 0  # classifications made
        self.best: Top | None = None
        self.committer = Committer(self.config)
        self._active = False
        self._start = self._last_up = self._last_arm = 0
        self._peak: _Peak | None = None
        self._last_sign: int | None = None  # the last commit's class in this segment
        self._classified_to = -1

    def set_threshold(self, value: float) -> None:
        self.config = self.config.replace(threshold=float(value))
        self.committer.config = self.config

    def set_fps(self, fps: float) -> None:
        self.fps = float(fps)

    def _frames_of(self, seconds: float) -> int:
        return self.config.frames(seconds, self.fps)

    # -- frames in, events out -------------------------------------------------------------

    def push(
        self, xyz: np.ndarray, present: np.ndarray, width: int, height: int, signing: bool | None = None
    ) -> list[dict]:
        """One frame's (543, 3) points in pixels and (543,) mask -> the events it caused.
        `signing`: whether this frame is signing as decided elsewhere (a frame tagger, say)
        instead of by the hands' height; segment mode only."""
        self._buffer.append((xyz, present))
        self.size = (width, height)
        self.frames += 1
        if self.config.mode == "hold":
            return self._push_hold()
        if signing is not None:
            return self._push_segment(bool(signing))
        up = bool(signing_frames(xyz[None], present[None], self.config.rest_line)[0])
        # the arms only matter while no hand is up (a hand up keeps the sign going anyway)
        arm = (
            not up
            and self.config.arms
            and bool(signing_frames(xyz[None], present[None], self.config.rest_line, True)[0])
        )
        return self._push_segment(up, arm)

    def finish(self) -> list[dict]:
        """The stream has ended: an open sign is decided now."""
        if self.config.mode == "segment" and self._active:
            return self._end_segment()
        return []

    def summary(self) -> str:
        """One line for the end of a stream: what was seen, and why nothing was when nothing was."""
        head = f"{self.frames} frames, {self.windows} windows classified"
        if self._commits:
            return f"{head}, {len(self._commits)} signs: " + ", ".join(e["sign"] for e in self._commits)
        if self.windows == 0:
            if self.config.mode == "hold":
                return f"{head}: the stream was shorter than one window ({self.config.window} frames)"
            return f"{head}: no sign recognised (no hand came into the signing space)"
        if self.best is None:
            return f"{head}: no sign recognised (no hands detected)"
        rule = f" for {self.config.hold} windows" if self.config.mode == "hold" else ""
        return (
            f"{head}: no sign passed the threshold {self.config.threshold:g}{rule}; "
            f"best was {self.best[1]} at {self.best[2]:.2f}"
        )

    # -- classification --------------------------------------------------------------------

    def _window(self, first: int, last: int) -> KeypointSequence:
        """Frames first..last (numbers from the stream's start) as one sequence."""
        offset = self.frames - len(self._buffer)
        frames = list(self._buffer)[first - offset : last - offset + 1]
        return KeypointSequence(
            np.stack([f[0] for f in frames]), np.stack([f[1] for f in frames]), self.fps, *self.size
        )

    def _classify(self, first: int, last: int) -> tuple[list[dict], np.ndarray | None]:
        """Classify frames first..last: the prediction event and the probabilities."""
        seq = self._window(first, last)
        probs = self.classify(seq)
        self.windows += 1
        self._classified_to = last
        top: list[Top] = []
        if probs is not None:
            order = np.argsort(-probs)[: max(1, self.top_k)]
            top = [(self.classes[i], self.names[i], float(probs[i])) for i in order]
            if self.best is None or top[0][2] > self.best[2]:
                self.best = top[0]
        event = {
            "type": "prediction",
            "frame": last,
            "start_frame": first,
            "hands": seq.hands_seen(),
            "top": [{"sign_id": i, "sign": n, "probability": p} for i, n, p in top],
            "status": "ok" if top else "no_sign",
        }
        return [event], probs

    # -- hold-to-commit --------------------------------------------------------------------

    def _push_hold(self) -> list[dict]:
        window = self.config.window
        if len(self._buffer) < window or (self.frames - window) % self.config.stride:
            return []
        events, probs = self._classify(self.frame - window + 1, self.frame)
        top = None
        if probs is not None:
            i = int(np.argmax(probs))
            top = (self.classes[i], self.names[i], float(probs[i]))
        event = self.committer.update(self.frame, self.fps, top)
        events[0]["hold"] = self.committer.progress()
        if event is not None:
            self._commits.append(event)
            events.append(event)
        return events

    # -- segments --------------------------------------------------------------------------

    def _push_segment(self, up: bool, arm: bool = False) -> list[dict]:
        t = self.frame
        if up:
            self._last_up = self._last_arm = t
            if not self._active:
                self._active, self._start, self._peak, self._last_sign = True, t, None, None
        if not self._active:
            return []
        if arm:  # the hand model lost the hand, the arm is still up: the sign goes on
            self._last_arm = t
        if t - self._last_arm >= self._frames_of(self.config.gap):
            return self._end_segment()
        # Windows end at the last frame with a hand up: frames after it only wait for the gap.
        shortest = self._frames_of(self.config.min_sign)
        if self._last_up - self._start + 1 < shortest or self._last_up <= self._classified_to:
            return []
        if (t - self._start + 1 - shortest) % self.config.stride:
            return []
        last = self._last_up
        first = max(self._start, last - self._frames_of(self.config.max_sign) + 1)
        events, probs = self._classify(first, last)
        if probs is not None:
            events += self._update_peak(probs, first, last)
        return events

    def _update_peak(self, probs: np.ndarray, first: int, last: int) -> list[dict]:
        """A new reading of the open sign (frames first..last): a higher peak, or the
        peak's sign committed because another sign has begun after it.

        Once the peak's sign is sure (at least `threshold`) and a reading does not raise
        it, two explanations of the window compete: one sign (this reading, probability
        p) or two (the peak's sign up to its peak, then what the frames after it read as
        alone, q): the likelier wins, peak x q against p. A sign whose peak frames have
        all left the window (`max_sign`) is over."""
        i = int(np.argmax(probs))
        p, peak, threshold = float(probs[i]), self._peak, self.config.threshold
        if peak is None or (i == peak.index and p >= peak.p) or (peak.p < threshold and p > peak.p):
            self._peak = _Peak(i, p, first, last)
            return []
        if peak.p < threshold:
            return []
        if first > peak.end:  # nothing of the peak's sign is left in the window
            return self._split(_Peak(i, p, first, last))
        rest = peak.end + 1
        if last - rest + 1 >= self._frames_of(self.config.min_sign):
            rest_probs = self.classify(self._window(rest, last))
            if rest_probs is not None:
                j = int(np.argmax(rest_probs))
                if peak.p * float(rest_probs[j]) >= p:
                    return self._split(_Peak(j, float(rest_probs[j]), rest, last))
        if i != peak.index and p > peak.p:  # one sign after all, read better now
            self._peak = _Peak(i, p, first, last)
        return []

    def _split(self, following: _Peak) -> list[dict]:
        """Commit the peak's sign; the next sign begins after its peak."""
        events = self._commit_peak()
        self._start = self._peak.end + 1
        self._peak = following
        return events

    def _commit_peak(self, end: int | None = None) -> list[dict]:
        """The peak's sign as a commit (unless unsure, or the same as the segment's last);
        `end`: where the sign ended, when later than its peak (the hands went down)."""
        peak = self._peak
        if peak is None or peak.p < self.config.threshold or peak.index == self._last_sign:
            return []
        self._last_sign = peak.index
        event = _commit(
            self.classes[peak.index],
            self.names[peak.index],
            peak.p,
            self.frame,
            self._start,  # the sign began where its segment (or the sign before it) did, not where its window did
            max(peak.end, end if end is not None else peak.end),
            self.fps,
        )
        self._commits.append(event)
        return [event]

    def _end_segment(self) -> list[dict]:
        """The segment closed (a gap, or the stream's end): its last window is read, and its
        peak committed or the segment reported as no sign."""
        events: list[dict] = []
        end = self._last_up
        shortest = self._frames_of(self.config.min_sign)
        if end > self._classified_to and end - self._start + 1 >= shortest:
            first = max(self._start, end - self._frames_of(self.config.max_sign) + 1)
            more, probs = self._classify(first, end)
            events += more
            if probs is not None:
                events += self._update_peak(probs, first, end)
        committed = self._commit_peak(end)
        if committed:
            events += committed
        elif self._last_sign is None and end - self._start + 1 >= shortest:
            best = None
            if self._peak is not None:
                best = {"sign": self.names[self._peak.index], "probability": self._peak.p}
            events.append(
                {
                    "type": "no_sign",
                    "frame": self.frame,
                    "start": self._start / self.fps,
                    "end": (end + 1) / self.fps,
                    "best": best,
                }
            )
        self._active, self._peak, self._last_sign = False, None, None
        return events
