"""One live client: landmarks (from the browser) or camera frames (run through MediaPipe
here) go into the stream decoder of `recognise.decoder`, the same decoder, frame
numbering and commits as `signpose live` and `signpose transcribe`."""

from __future__ import annotations

import math
import time

import numpy as np

from ..data.keypoints import KeypointSequence
from ..data.schema import N_POINTS, PART_BY_NAME, PARTS
from ..errors import SignposeError
from ..recognise.decoder import LiveConfig
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
        except (TypeError, ValueError, OverflowError):  # OverflowError: a JSON integer of 400 digits
            raise SignposeError(f"{part.name}: every value must be a finite number") from None
        if not np.isfinite(array).all() or np.abs(array).max() > 100:
            raise SignposeError(f"{part.name}: values must be finite normalised coordinates")
        xyz[part.slice] = array
        present[part.slice] = True
    xyz[:, 0] *= w
    xyz[:, 1] *= h
    return xyz, present, w, h


def arrays_to_parts(xyz: np.ndarray, present: np.ndarray, w: int, h: int, decimals: int = 4) -> dict:
    """The inverse: normalised x, y, z per present part (4 decimals: enough to draw)."""
    parts = {}
    for part in PARTS:
        if present[part.slice].any():
            points = xyz[part.slice].astype(np.float64) / np.array([w, h, 1])
            parts[part.name] = np.round(points, decimals).ravel().tolist()
        else:
            parts[part.name] = None
    return parts


def landmark_messages(seq: KeypointSequence) -> list[dict]:
    """A recorded sequence as the page sends it in landmarks mode: one message a frame
    (for clients, tests and the load benchmark)."""
    return [
        {"type": "landmarks", "w": seq.width, "h": seq.height, "parts": arrays_to_parts(x, p, seq.width, seq.height, 5)}
        for x, p in zip(seq.xyz, seq.present, strict=True)
    ]


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


# The live WebSocket's messages, for client authors (GET /api/protocol; docs/guide.md).
PROTOCOL = {
    "url": "/ws/live?mode=landmarks|frames",
    "modes": {
        "landmarks": "the client runs MediaPipe Holistic and sends each frame's points; the video stays on the device",
        "frames": "the client sends camera frames as binary JPEG messages; the server runs MediaPipe",
    },
    "client": {
        "landmarks": {
            "type": "landmarks",
            "w": "frame width in pixels",
            "h": "frame height in pixels",
            "parts": {
                part.name: f"{part.size * 3} numbers ({part.size} points x, y, z; x, y in [0, 1] of the frame) or null"
                for part in PARTS
            },
        },
        "frame": "a binary message: one JPEG frame (frames mode)",
        "config": {
            "type": "config",
            "threshold": "0 to 1 (optional)",
            "fps": "the client's frames per second, 1 to 1000 (optional)",
        },
        "reset": {"type": "reset", "meaning": "forget the open sign and the frames so far (a new sentence)"},
        "end": {"type": "end", "meaning": "the stream has ended: the open sign is decided now (answered by end)"},
    },
    "server": {
        "hello": {
            "type": "hello",
            "mode": "landmarks | frames",
            "live": "the decoder's settings (mode segment: signs one after another; hold: hold-to-commit)",
            "top_k": "signs listed",
        },
        "landmarks": {"type": "landmarks", "sent": "the frame's send time", "parts": "the points found (frames mode)"},
        "prediction": {
            "type": "prediction",
            "frame": "the window's last frame, numbered from 0",
            "hands": "whether a hand was seen in the window",
            "top": "[{sign_id, sign, probability}]",
            "status": "ok | no_sign",
            "hold": "hold mode: {sign, held, need, repeat}: the sign held, windows held of those needed, and "
            "whether it is the sign just committed (not committed again until the hands drop or another wins)",
        },
        "commit": {
            "type": "commit",
            "frame": "the frame it was decided at",
            "time": "seconds from the stream's start when it was decided (frame / fps)",
            "sign_id": "id",
            "sign": "name",
            "probability": "at the sign's peak (segment mode) or the mean while held (hold mode)",
            "start": "seconds: where the sign began",
            "end": "seconds: where it ended",
            "start_frame": "its first frame",
            "end_frame": "its last frame",
        },
        "no_sign": {
            "type": "no_sign",
            "frame": "the frame the segment closed at",
            "start": "seconds: hands came up",
            "end": "seconds: hands went down",
            "best": "{sign, probability}: the best reading, below the threshold (null without one)",
        },
        "end": {"type": "end", "frames": "frames in the stream; sent after the last commit of an end"},
        "config": {"type": "config", "threshold": "now", "fps": "now"},
        "error": {"type": "error", "message": "what was wrong; 20 invalid messages close the connection"},
        "counts": "every answer also carries received, processed, dropped and invalid",
    },
}

# The rates the page sends at (static/app.js): the camera's in landmarks mode, ~15 JPEG
# frames a second in frames mode. A client may tell its own: {"type": "config", "fps": N}.
CLIENT_FPS = {"landmarks": 30.0, "frames": 15.0}


class LiveStream:
    """One client's stream decoder (`recognise.decoder`, the same as `signpose live`) and
    the messages it answers with."""

    def __init__(self, recognizer: Recognizer, config: LiveConfig, top_k: int = 5, fps: float = 30.0):
        self.recognizer, self.top_k = recognizer, top_k
        self.decoder = recognizer.decoder(config, fps, top_k)

    @property
    def config(self) -> LiveConfig:
        return self.decoder.config

    @property
    def frames(self) -> int:
        return self.decoder.frames

    def configure(self, message: dict) -> dict:
        """A config message: a new threshold and/or the client's frame rate; returns what holds now."""
        if "threshold" in message:
            value = message["threshold"]
            if not _number(value) or not 0 <= value <= 1:
                raise SignposeError("threshold must be a number from 0 to 1")
            self.decoder.set_threshold(value)
        if "fps" in message:
            value = message["fps"]
            # at least 1: a rate near 0 made frame times overflow to Infinity, which is not JSON
            if not _number(value) or not 1 <= value <= 1000:
                raise SignposeError("fps must be the client's frames per second, from 1 to 1000")
            self.decoder.set_fps(value)
        return {"threshold": self.config.threshold, "fps": self.decoder.fps}

    def reset(self) -> None:
        self.decoder.reset()

    def push(self, xyz: np.ndarray, present: np.ndarray, w: int, h: int) -> list[dict]:
        """One frame's points; returns the messages for the client: a prediction whenever a
        window is classified, a commit when a sign is decided, no_sign for a segment that
        held none."""
        return [_message(e) for e in self.decoder.push(xyz, present, w, h)]

    def finish(self) -> list[dict]:
        """The client has ended its stream (or a recording has): the open sign is decided."""
        return [_message(e) for e in self.decoder.finish()]


def _message(event: dict) -> dict:
    """A decoder event as sent: probabilities to 4 decimals."""
    if event["type"] == "prediction":
        return {**event, "top": [{**t, "probability": round(t["probability"], 4)} for t in event["top"]]}
    if event["type"] == "commit":
        return {**event, "probability": round(event["probability"], 4)}
    return event


def _number(value: object) -> bool:
    """A finite JSON number (not a boolean; an integer too large for a float is none)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False
