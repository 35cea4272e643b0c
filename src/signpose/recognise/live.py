"""`signpose live`: recognition over a camera, file or stream, frame by frame through
MediaPipe into the live window (`recognise.window`), printing each committed sign."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

import numpy as np

from ..data.keypoints import KeypointSequence
from ..data.video import open_frames
from ..extract.holistic import ExtractionConfig, HolisticExtractor
from ..text import draw_caption
from .window import LiveConfig, LiveWindow, Top

__all__ = ["Classifies", "LiveConfig", "LiveSession", "preview_window"]


class Classifies(Protocol):
    """What the session needs of a recogniser (a `Recognizer`), named here so that this
    module does not import the recogniser that imports it."""

    extraction: ExtractionConfig

    def top_sign(self, seq: KeypointSequence) -> Top | None: ...


class LiveSession:
    """Recognition over a stream: iterate for the reported signs; `summary()` afterwards."""

    def __init__(
        self,
        recognizer: Classifies,
        source: str | int,
        config: LiveConfig,
        on_frame: Callable[[np.ndarray, dict | None], None] | None = None,
    ):
        self.recognizer, self.source, self.config, self.on_frame = recognizer, source, config, on_frame
        self.window: LiveWindow | None = None

    @property
    def frames(self) -> int:
        return self.window.frames if self.window else 0

    def __iter__(self) -> Iterator[dict]:
        frames = open_frames(self.source, fps=self.recognizer.extraction.fps)
        self.window = window = LiveWindow(self.config, frames.fps)
        last: dict | None = None
        with HolisticExtractor(self.recognizer.extraction) as extractor:
            for rgb in frames:
                h, w = rgb.shape[:2]
                xyz, present = extractor.frame_arrays(extractor.process_frame(rgb), w, h)[:2]
                seq = window.push(xyz, present, w, h)
                if seq is not None and (event := window.commit(self.recognizer.top_sign(seq))) is not None:
                    last = event
                    yield event
                if self.on_frame is not None:
                    self.on_frame(rgb, last)

    def summary(self) -> str:
        return self.window.summary() if self.window else LiveWindow(self.config, 1.0).summary()


def preview_window(title: str = "signpose live") -> Callable[[np.ndarray, dict | None], None]:
    """An `on_frame` for LiveSession that shows each frame in an OpenCV window with the
    last reported sign drawn on it (shaped right to left); `q` stops the session."""
    import cv2

    def show(rgb: np.ndarray, event: dict | None) -> None:
        if event:
            rgb, _ = draw_caption(rgb, event["sign"], f"{event['probability']:.0%}")
        cv2.imshow(title, rgb[..., ::-1])
        if cv2.waitKey(1) & 0xFF == ord("q"):
            raise KeyboardInterrupt

    return show
