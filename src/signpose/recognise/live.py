"""`signpose live`: recognition over a camera, file or stream, frame by frame through
MediaPipe into the stream decoder (`recognise.decoder`), printing each committed sign."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

import numpy as np

from ..data.video import open_frames
from ..extract.holistic import ExtractionConfig, HolisticExtractor
from ..text import draw_caption
from .decoder import LiveConfig, StreamDecoder

__all__ = ["Classifies", "LiveConfig", "LiveSession", "preview_window"]


class Classifies(Protocol):
    """What the session needs of a recogniser (a `Recognizer`), named here so that this
    module does not import the recogniser that imports it."""

    extraction: ExtractionConfig

    def decoder(self, config: LiveConfig | None = None, fps: float = 30.0, top_k: int = 5) -> StreamDecoder: ...


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
        self.decoder: StreamDecoder | None = None

    @property
    def frames(self) -> int:
        return self.decoder.frames if self.decoder else 0

    def __iter__(self) -> Iterator[dict]:
        """The committed signs, each as soon as it is decided (the last when the stream ends)."""
        frames = open_frames(self.source, fps=self.recognizer.extraction.fps)
        self.decoder = decoder = self.recognizer.decoder(self.config, frames.fps, top_k=1)
        last: dict | None = None
        with HolisticExtractor(self.recognizer.extraction) as extractor:
            for rgb in frames:
                h, w = rgb.shape[:2]
                xyz, present = extractor.frame_arrays(extractor.process_frame(rgb), w, h)[:2]
                for event in decoder.push(xyz, present, w, h):
                    if event["type"] == "commit":
                        last = event
                        yield event
                if self.on_frame is not None:
                    self.on_frame(rgb, last)
        yield from (e for e in decoder.finish() if e["type"] == "commit")

    def summary(self) -> str:
        if self.decoder is None:
            return f"0 frames, 0 windows classified: the stream had no frames ({self.source})"
        return self.decoder.summary()


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
