"""MediaPipe Holistic on the frames of one sample: the engine every backend runs.

Unlike the seed notebook, every frame is kept (with its timestamp), absent parts are
marked absent and nothing is drawn. One graph is reused across videos (tracking state
is dropped between them).
"""

from __future__ import annotations

import itertools
import os
import sys
import time
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

from ..data.keypoints import KeypointSequence
from ..data.schema import FACE, LEFT_HAND, N_POINTS, POSE, RIGHT_HAND
from ..data.video import frame_images, frame_numbers, open_frames
from ..errors import SignposeError
from ..settings import Settings
from . import pose_models

# MediaPipe's C++ logging floods the terminal with INFO/WARNING lines; keep errors only.
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


class ExtractionConfig(Settings):
    """MediaPipe Holistic settings; the defaults are the seed notebook's."""

    model_complexity: Literal[0, 1, 2] = Field(
        1,
        description="pose model: 0 lite, 1 full (the notebook's), 2 heavy; lite and heavy are installed "
        "from the npm package @mediapipe/holistic by `make install` (never downloaded at run time)",
    )
    min_detection_confidence: float = Field(0.5, ge=0, le=1, description="MediaPipe detection threshold")
    min_tracking_confidence: float = Field(0.5, ge=0, le=1, description="MediaPipe tracking threshold")
    fps: float = Field(
        30.0,
        gt=0,
        le=1000,
        description="frame rate of frame-image folders (videos carry their own)",
    )


_BLANK = np.full((256, 256, 3), 255, np.uint8)
_LANDMARK_TAGS = (0x0D, 0x15, 0x1D, 0x25, 0x2D)  # protobuf tags of x, y, z, visibility, presence


def _landmark_array(landmarks, n: int) -> np.ndarray:
    """A MediaPipe landmark list as an (n, k) float array (k = 3, or 5 with visibility).

    The list is decoded from its protobuf bytes in one numpy view: each landmark is a
    fixed-size record when all its fields are set, which MediaPipe does. A Python loop
    over the points is the fallback for anything else.
    """
    buf = landmarks.SerializeToString()
    rec = len(buf) // n if n else 0
    if rec in (17, 27) and len(buf) == n * rec:
        k = (rec - 2) // 5
        raw = np.frombuffer(buf, np.uint8).reshape(n, rec)
        fields = raw[:, 2:].reshape(n, k, 5)
        if (
            (raw[:, 0] == 0x0A).all()
            and (raw[:, 1] == rec - 2).all()
            and (fields[:, :, 0] == np.array(_LANDMARK_TAGS[:k], np.uint8)).all()
        ):
            return np.ascontiguousarray(fields[:, :, 1:]).view("<f4").reshape(n, k).astype(np.float32)
    return np.array([(p.x, p.y, p.z, p.visibility, p.presence) for p in landmarks.landmark], np.float32)


@contextmanager
def _quiet_native_stderr():
    """Silence C++ log lines (TFLite, absl) written straight to file descriptor 2 while
    MediaPipe builds its graph: they would break progress bars and say nothing useful."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class HolisticExtractor:
    """One MediaPipe Holistic graph in video mode, reused across videos (reset between)."""

    def __init__(self, config: ExtractionConfig | None = None):
        import mediapipe as mp_

        self.config = config or ExtractionConfig()
        pose_models.require(self.config.model_complexity)  # MediaPipe would download a missing one
        with _quiet_native_stderr():
            self._holistic = mp_.solutions.holistic.Holistic(
                static_image_mode=False,
                model_complexity=self.config.model_complexity,
                min_detection_confidence=self.config.min_detection_confidence,
                min_tracking_confidence=self.config.min_tracking_confidence,
            )
            self._holistic.process(_BLANK)  # the first frame loads the models (and logs about it)
        self._quiet_next = True  # the first real frame logs once more

    def close(self) -> None:
        self._holistic.close()

    def __enter__(self) -> HolisticExtractor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def forget_tracking(self) -> None:
        """Start the next video fresh. A blank frame makes every tracker lose its target, so
        the next frame is detected from scratch; half the cost of `reset()`, which rebuilds
        the whole graph."""
        self._holistic.process(_BLANK)

    def process_frame(self, rgb: np.ndarray):
        """Raw MediaPipe results of one RGB frame (tracking continues from the last frame)."""
        if self._quiet_next:
            self._quiet_next = False
            with _quiet_native_stderr():
                return self._holistic.process(rgb)
        return self._holistic.process(rgb)

    def frame_arrays(self, results, width: int, height: int):
        """(xyz (543, 3) in pixels, present (543,), visibility (33,), world (33, 3))."""
        xyz = np.zeros((N_POINTS, 3), np.float32)
        present = np.zeros(N_POINTS, bool)
        visibility = np.zeros(POSE.size, np.float32)
        world = np.zeros((POSE.size, 3), np.float32)
        for part, lms in (
            (POSE, results.pose_landmarks),
            (FACE, results.face_landmarks),
            (LEFT_HAND, results.left_hand_landmarks),
            (RIGHT_HAND, results.right_hand_landmarks),
        ):
            if lms is None:
                continue
            values = _landmark_array(lms, part.size)
            if values.shape[0] != part.size:  # e.g. a refined 478-point face: keep the 468
                values = values[: part.size]
            xyz[part.slice] = values[:, :3]
            present[part.slice] = True
            if part is POSE and values.shape[1] > 3:
                visibility = values[:, 3]
        if results.pose_world_landmarks is not None:
            world = _landmark_array(results.pose_world_landmarks, POSE.size)[:, :3]
        xyz[:, 0] *= width
        xyz[:, 1] *= height
        return xyz, present, visibility, world

    def extract(
        self,
        frames: Iterable[np.ndarray],
        fps: float,
        width: int,
        height: int,
        on_frame: Callable[[np.ndarray, np.ndarray, np.ndarray], None] | None = None,
    ) -> KeypointSequence:
        """Keypoints of every frame of one sample. `on_frame(rgb, xyz, present)` sees each
        frame's points as they come (a preview); `last_timing` then holds the seconds spent
        decoding and in MediaPipe."""
        self.forget_tracking()
        xyz, present, vis, world = [], [], [], []
        started = time.perf_counter()
        in_mediapipe = 0.0
        for rgb in frames:
            h, w = rgb.shape[:2]
            t0 = time.perf_counter()
            results = self.process_frame(rgb)
            in_mediapipe += time.perf_counter() - t0
            a, b, c, d = self.frame_arrays(results, w, h)
            xyz.append(a)
            present.append(b)
            vis.append(c)
            world.append(d)
            width, height = w, h
            if on_frame is not None:
                on_frame(rgb, a, b)
        total = time.perf_counter() - started
        self.last_timing = {"decode": total - in_mediapipe, "mediapipe": in_mediapipe}
        if not xyz:
            raise SignposeError("no frames could be decoded")
        return KeypointSequence(
            xyz=np.stack(xyz),
            present=np.stack(present),
            fps=fps,
            width=width,
            height=height,
            visibility=np.stack(vis),
            world=np.stack(world),
        )

    def extract_file(self, path: str | Path, start: int = 0, end: int = 0) -> KeypointSequence:
        """Keypoints of one video file or frame folder; of frames start to end only where
        a sign is a range inside a longer video (WLASL; end 0: to the end)."""
        source = open_frames(path, fps=self.config.fps)
        frames = itertools.islice(source, start, end or None) if start or end else source
        folder = Path(path).is_dir()
        declared = source.frame_count if not folder else 0
        self.last_declared_frames = max(0, min(declared, end or declared) - start) if declared else 0
        seq = self.extract(frames, source.fps, source.width, source.height)
        positions = frame_numbers(frame_images(Path(path))) if folder else None
        return seq.placed_at(positions) if positions is not None and seq.frames == len(positions) else seq


def extract_video(path: str | Path, config: ExtractionConfig | None = None) -> KeypointSequence:
    """Keypoints of one video file or frame folder (a fresh graph; for one-off use)."""
    with HolisticExtractor(config) as extractor:
        return extractor.extract_file(path)
