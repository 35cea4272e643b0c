"""Frames from a video file, a folder of frame images, a camera or a stream (OpenCV)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import SignposeError
from ..util import natural_key

# OpenCV's and FFmpeg's own log lines on a broken file say less than our one-line error.
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

VIDEO_EXTENSIONS = {
    ".mp4",
    ".avi",
    ".mov",
    ".mkv",
    ".webm",
    ".m4v",
    ".mpg",
    ".mpeg",
    ".wmv",
    ".flv",
}
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


def is_video(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in VIDEO_EXTENSIONS and not path.name.startswith(".")


def frame_images(folder: Path) -> list[Path]:
    """Image files of a frame folder, ordered by the numbers in their names."""
    images = [
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")
    ]
    return sorted(images, key=lambda p: natural_key(p.name))


_LAST_NUMBER = re.compile(r"(\d+)(?!.*\d)")


def frame_numbers(images: list[Path]) -> np.ndarray | None:
    """The frames' positions in the original clip, from the last number in each name,
    where they leave gaps (KArSL keeps frames 1, 5, 6, 8...): None when the names carry no
    increasing numbers or none are missing (times then follow the count)."""
    found = [_LAST_NUMBER.search(p.stem) for p in images]
    if not images or not all(found):
        return None
    numbers = np.array([int(m.group(1)) for m in found], dtype=np.int64)
    span = int(numbers[-1] - numbers[0]) + 1
    increasing = bool((np.diff(numbers) > 0).all())
    # a span far beyond the count is not frame numbering (timestamps, or ids)
    if not increasing or span == len(numbers) or span > 10 * len(numbers):
        return None
    return numbers


def is_frame_folder(path: Path) -> bool:
    return path.is_dir() and any(
        p.suffix.lower() in IMAGE_EXTENSIONS for p in path.iterdir() if not p.name.startswith(".")
    )


def find_samples(paths: list[str | Path], also: tuple[str, ...] = ()) -> list[str]:
    """Video files and frame folders: each path given, or every one found inside a folder
    (in natural order), with files of the suffixes in `also` (".pose") found there too.
    Anything else is passed through, to be reported by whoever reads it."""
    out: list[str] = []
    for p in map(Path, paths):
        if p.is_dir() and not is_frame_folder(p):
            found = [
                c
                for c in p.rglob("*")
                if is_video(c) or is_frame_folder(c) or (c.is_file() and c.suffix.lower() in also)
            ]
            out += [str(c) for c in sorted(found, key=lambda c: natural_key(str(c)))]
        else:
            out.append(str(p))
    if not out:
        raise SignposeError(
            f"no videos or frame folders found in {', '.join(map(str, paths))} "
            f"(videos: {', '.join(sorted(VIDEO_EXTENSIONS))}; frames: {', '.join(sorted(IMAGE_EXTENSIONS))}"
            + "".join(f"; {s}" for s in also)
            + ")"
        )
    return out


@dataclass
class FrameSource:
    """Decoded RGB frames of one sample, read once, lazily."""

    path: str
    fps: float
    width: int
    height: int
    frame_count: int  # as the container reports it (0 when unknown)
    _iter: Iterator[np.ndarray]

    def __iter__(self) -> Iterator[np.ndarray]:
        return self._iter


def _video_frames(cap) -> Iterator[np.ndarray]:
    import cv2

    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    finally:
        cap.release()


def _image_frames(images: list[Path]) -> Iterator[np.ndarray]:
    import cv2

    size = None
    for image in images:
        frame = cv2.imread(str(image), cv2.IMREAD_COLOR)
        if frame is None:
            raise SignposeError(f"{image}: cannot decode this frame image")
        size = size or frame.shape[:2]
        if frame.shape[:2] != size:  # pixels of two sizes in one sequence would not line up
            raise SignposeError(
                f"{image}: is {frame.shape[1]}x{frame.shape[0]}, the sample's first frame "
                f"{size[1]}x{size[0]}; a sample's frames must all have one size"
            )
        yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


def open_frames(source: str | Path | int, fps: float = 30.0) -> FrameSource:
    """Open a video file, a frame folder, a camera index or a stream URL.

    `fps` is used for frame folders and for streams that do not report a rate.
    """
    import cv2

    if isinstance(source, int) or (isinstance(source, str) and source.isdigit()):
        level = cv2.getLogLevel()
        cv2.setLogLevel(0)  # silent: OpenCV's own lines about a missing camera; the error below says it once
        try:
            cap = cv2.VideoCapture(int(source))
        finally:
            cv2.setLogLevel(level)
        if not cap.isOpened():
            raise SignposeError(f"camera {source}: cannot be opened; check that a camera is connected")
        return _from_capture(str(source), cap, fps)
    if isinstance(source, str) and "://" in source:
        cap = cv2.VideoCapture(source)
        if not cap.isOpened():
            raise SignposeError(f"{source}: cannot open the stream; check the URL")
        return _from_capture(source, cap, fps)
    path = Path(source)
    if not path.exists():
        raise SignposeError(f"{path}: no such file or folder")
    if path.is_dir():
        images = frame_images(path)
        if not images:
            raise SignposeError(f"{path}: folder has no frame images ({', '.join(sorted(IMAGE_EXTENSIONS))})")
        first = cv2.imread(str(images[0]), cv2.IMREAD_COLOR)
        if first is None:
            raise SignposeError(f"{images[0]}: cannot decode this frame image")
        h, w = first.shape[:2]
        return FrameSource(str(path), float(fps), w, h, len(images), _image_frames(images))
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise SignposeError(f"{path}: cannot open as a video (not a video file, or a codec OpenCV lacks)")
    # phones store portrait clips as landscape pixels plus a display rotation: frames as players show them
    cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)
    return _from_capture(str(path), cap, fps)


def _from_capture(name: str, cap, fps: float) -> FrameSource:
    import cv2

    rate = cap.get(cv2.CAP_PROP_FPS)
    rate = float(rate) if rate and 0 < rate < 1000 else float(fps)
    w = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
    h = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    n = max(0, int(cap.get(cv2.CAP_PROP_FRAME_COUNT)))
    return FrameSource(name, rate, w, h, n, _video_frames(cap))
