"""Landmarks and the recognised sign drawn onto video frames (Arabic shaped, right to left)."""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..data.keypoints import KeypointSequence
from ..data.schema import LEFT_HAND, POSE, RIGHT_HAND
from ..data.video import open_frames
from ..errors import SignposeError
from ..text import draw_caption


def _connections() -> list[tuple[slice, np.ndarray]]:
    from mediapipe.python.solutions import holistic as mp_h

    pose = np.array(sorted(mp_h.POSE_CONNECTIONS), dtype=np.int64)
    hand = np.array(sorted(mp_h.HAND_CONNECTIONS), dtype=np.int64)
    return [(POSE.slice, pose), (LEFT_HAND.slice, hand), (RIGHT_HAND.slice, hand)]


def draw_landmarks(bgr: np.ndarray, xyz: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Pose and hand skeletons of one frame (xyz in pixels) drawn onto a BGR image."""
    import cv2

    colours = {0: (80, 200, 80), 1: (60, 60, 230), 2: (230, 120, 40)}
    for k, (part, pairs) in enumerate(_connections()):
        pts = xyz[part, :2]
        seen = present[part]
        if not seen.any():
            continue
        keep = seen[pairs[:, 0]] & seen[pairs[:, 1]]
        lines = np.round(pts[pairs[keep]]).astype(np.int32)  # (L, 2, 2)
        cv2.polylines(bgr, list(lines), False, colours[k], 2, cv2.LINE_AA)
    h, w = bgr.shape[:2]
    body = np.r_[POSE.slice, LEFT_HAND.start : RIGHT_HAND.start + RIGHT_HAND.size]  # no face mesh dots
    dots = np.round(xyz[body][present[body], :2]).astype(int)
    offs = np.array([(dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)])
    block = (dots[:, None, :] + offs[None]).reshape(-1, 2)
    inside = (block[:, 0] >= 0) & (block[:, 0] < w) & (block[:, 1] >= 0) & (block[:, 1] < h)
    bgr[block[inside, 1], block[inside, 0]] = (255, 255, 255)
    return bgr


def caption(name: str, value: str, width: int, size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A caption rendered once (shaped, right-to-left where needed): RGB patch and alpha."""
    size = size or max(14, width // 24)
    canvas = np.zeros((size * 2 + 12, width, 3), np.uint8)
    rgb, _ = draw_caption(canvas, name, value, (12, 6), size=size, box=None)
    alpha = np.full(canvas.shape[:2], 0.55, np.float32)
    alpha[rgb.max(axis=2) > 0] = 1.0
    return rgb, alpha


def blend(bgr: np.ndarray, patch: np.ndarray, alpha: np.ndarray, bottom: bool = False) -> None:
    """Blend a caption (RGB patch and alpha, from `caption`) onto a BGR frame in place,
    along its top edge or (`bottom`) its bottom edge."""
    h = min(patch.shape[0], bgr.shape[0])
    rows = slice(bgr.shape[0] - h, None) if bottom else slice(0, h)
    region = bgr[rows].astype(np.float32)
    a = alpha[:h, : bgr.shape[1], None]
    bgr[rows] = (patch[:h, : bgr.shape[1], ::-1] * a + region * (1 - a)).astype(np.uint8)


class _CountingWriter:
    """OpenCV's writer, counting the frames given to it."""

    def __init__(self, writer):
        self.writer, self.frames = writer, 0

    def write(self, bgr: np.ndarray) -> None:
        self.writer.write(bgr)
        self.frames += 1


@contextmanager
def video_writer(out: Path, fps: float, size: tuple[int, int]) -> Iterator[_CountingWriter]:
    """An OpenCV writer into a temporary file beside `out`, which becomes `out` only when
    the block finishes and the file plays whole (a stopped run leaves no half video under
    the real name). OpenCV's writer reports no error when the disk fills, so the file is
    read back: a short one is a full disk (one line), never "written"."""
    import cv2

    tmp = out.with_name(f".{out.stem}.tmp{out.suffix}")
    # .webm is VP8, which browsers play; .mp4 is MPEG-4 part 2, which desktop players do
    fourcc = "VP80" if out.suffix.lower() == ".webm" else "mp4v"
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*fourcc), fps, size)
    if not writer.isOpened():
        raise SignposeError(f"{out}: cannot write a video here (check the folder and the .mp4 or .webm extension)")
    counted = _CountingWriter(writer)
    try:
        try:
            yield counted
        finally:
            writer.release()
        _check_whole(tmp, out, counted.frames)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(out)


def _check_whole(tmp: Path, out: Path, frames: int) -> None:
    import cv2

    capture = cv2.VideoCapture(str(tmp))
    readable = 0
    while readable < frames and capture.isOpened() and capture.grab():
        readable += 1
    capture.release()
    if readable < frames:
        if shutil.disk_usage(tmp.parent).free < 4 << 20:  # what OpenCV's writer does not say
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(out))
        raise SignposeError(f"{out}: the video could not be written whole ({readable} of {frames} frames play)")


def annotate_video(
    video: str | Path,
    seq: KeypointSequence,
    label: tuple[str, str],
    out: str | Path,
    fps: float = 30.0,
) -> Path:
    """The input video with landmarks drawn and `label` (the recognised sign and its
    probability, or why there is none) written on it."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    source = open_frames(video, fps=fps)
    patch, alpha = caption(*label, seq.width)
    with video_writer(out, source.fps, (seq.width, seq.height)) as writer:
        for i, rgb in enumerate(source):
            bgr = np.ascontiguousarray(rgb[..., ::-1])
            if i < seq.frames:
                draw_landmarks(bgr, seq.xyz[i], seq.present[i])
            blend(bgr, patch, alpha)
            writer.write(bgr)
    return out
