"""One live client: landmarks (from the browser) or camera frames (run through MediaPipe
here) become a sliding window, classified every few frames and committed by hold-to-commit,
the same rule as `signpose live`."""

from __future__ import annotations

import math
import time
from collections import deque

import numpy as np

from ..data.keypoints import KeypointSequence
from ..data.schema import LEFT_HAND, N_POINTS, PART_BY_NAME, PARTS, RIGHT_HAND
from ..errors import SignposeError
from ..recognise.live import Committer, LiveConfig
from ..recognise.recognizer import Recognizer

MAX_SIDE = 8192  # pixels: a frame size beyond any camera


def landmarks_to_arrays(message: dict) -> tuple[np.ndarray, np.ndarray, int, int]:
    """A browser's landmarks message -> (xyz (543, 3) in pixels, present (543,), width, height).

    The message: {"w": width, "h": height, "parts": {"pose": [x, y, z, ...] | null, "face":
    ..., "left_hand": ..., "right_hand": ...}} with x, y in [0, 1] of the frame (MediaPipe's
    normalised image coordinates) and 3 numbers per point, in the schema's point order.
    Anything else raises SignposeError naming what is wrong.
    """
    w, h = message.get("w"), message.get("h")
    if not all(isinstance(v, int) and not isinstance(v, bool) and 0 < v <= MAX_SIDE for v in (w, h)):
        raise SignposeError(f"'w' and 'h' must be the frame's width and height in pixels (1-{MAX_SIDE})")
    parts = message.get("parts")
    if not isinstance(parts, dict):
        raise SignposeError("'parts' must be an object: pose, face, left_hand, right_hand -> list of numbers or null")
    unknown = set(parts) - set(PART_BY_NAME)
    if unknown:
        raise SignposeError(f"unknown part {sorted(unknown)[0]!r}; parts are {', '.join(PART_BY_NAME)}")
    xyz = np.zeros((N_POINTS, 3), np.float32)
    present = np.zeros(N_POINTS, bool)
    for part in PARTS:
        values = parts.get(part.name)
        if values is None:
            continue
        if not isinstance(values, list) or len(values) != part.size * 3:
            raise SignposeError(f"{part.name}: expected {part.size * 3} numbers ({part.size} points x 3)")
        try:
            array = np.asarray(values, np.float64).reshape(part.size, 3)
        except (TypeError, ValueError):
            raise SignposeError(f"{part.name}: every value must be a number") from None
        if not np.isfinite(array).all() or np.abs(array).max() > 100:
            raise SignposeError(f"{part.name}: values must be finite normalised coordinates")
        xyz[part.slice] = array
        present[part.slice] = True
    xyz[:, 0] *= w
    xyz[:, 1] *= h
    return xyz, present, w, h


def arrays_to_parts(xyz: np.ndarray, present: np.ndarray, w: int, h: int) -> dict:
    """The inverse, for drawing on the page: normalised x, y, z per present part (4 decimals)."""
    parts = {}
    for part in PARTS:
        if present[part.slice].any():
            points = xyz[part.slice] / np.array([w, h, 1], np.float32)
            parts[part.name] = np.round(points, 4).ravel().tolist()
        else:
            parts[part.name] = None
    return parts


class RateLimit:
    """A token bucket: `rate` messages per second on average, bursts up to one second's."""

    def __init__(self, rate: float):
        self.rate, self.tokens, self.last = rate, rate, time.monotonic()

    def allow(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.rate, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class LiveStream:
    """The window, the committer and the counters of one client."""

    def __init__(self, recognizer: Recognizer, config: LiveConfig, top_k: int = 5):
        self.recognizer, self.config, self.top_k = recognizer, config, top_k
        self.window: deque = deque(maxlen=config.window)
        self.committer = Committer(config)
        self.frames = 0
        self.size = (1, 1)

    def set_threshold(self, value: object) -> None:
        if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 1 or math.isnan(value):
            raise SignposeError("threshold must be a number from 0 to 1")
        self.config = self.config.replace(threshold=float(value))
        self.committer.config = self.config

    def reset(self) -> None:
        self.window.clear()
        self.committer = Committer(self.config)

    def push(self, xyz: np.ndarray, present: np.ndarray, w: int, h: int) -> list[dict]:
        """One frame's points; returns the messages for the client (a prediction every
        `stride` frames once the window is full, and a commit when a sign is held)."""
        self.window.append((xyz, present))
        self.size = (w, h)
        self.frames += 1
        n = len(self.window)
        if n < self.config.window or (self.frames - self.config.window) % self.config.stride:
            return []
        seq = KeypointSequence(np.stack([f[0] for f in self.window]), np.stack([f[1] for f in self.window]), 30.0, w, h)
        pred = self.recognizer.predict_sequence(seq, top_k=self.top_k)
        hands = bool(seq.present[:, LEFT_HAND.slice].any() or seq.present[:, RIGHT_HAND.slice].any())
        top = [{"sign_id": i, "sign": name, "probability": round(p, 4)} for i, name, p in pred.top]
        messages = [{"type": "prediction", "frame": self.frames, "hands": hands, "top": top, "status": pred.status}]
        event = self.committer.update(self.frames, 30.0, pred.top[0] if pred.status == "ok" else None)
        if event is not None:
            messages.append({"type": "commit", **event, "probability": round(event["probability"], 4)})
        return messages
