"""Live recognition: a sliding window over a camera, file or stream, classified every few
frames."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
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
    threshold: float = Field(
        0.6, ge=0, le=1, description="report a sign whose probability passes this"
    )

    @model_validator(mode="after")
    def _stride_fits(self) -> LiveConfig:
        if self.stride > self.window:
            raise ValueError(
                f"stride ({self.stride}) must not be larger than window ({self.window})"
            )
        return self


def live_events(
    recognizer: Recognizer,
    source: str | int,
    config: LiveConfig,
    on_frame: Callable[[np.ndarray, dict | None], None] | None = None,
) -> Iterator[dict]:
    """Yield an event whenever the top sign of a window passes the threshold."""
    frames = open_frames(source, fps=recognizer.extraction.fps)
    window, stride = config.window, config.stride
    buf: deque = deque(maxlen=window)
    last: dict | None = None
    with HolisticExtractor(recognizer.extraction) as extractor:
        for i, rgb in enumerate(frames):
            h, w = rgb.shape[:2]
            buf.append(extractor.frame_arrays(extractor.process_frame(rgb), w, h)[:2])
            if len(buf) == window and (i + 1 - window) % stride == 0:
                seq = KeypointSequence(
                    np.stack([b[0] for b in buf]), np.stack([b[1] for b in buf]), frames.fps, w, h
                )
                pred = recognizer.predict_sequence(seq, top_k=1)
                if pred.status == "ok" and pred.top[0][2] >= config.threshold:
                    sign_id, name, p = pred.top[0]
                    last = {
                        "time": i / frames.fps,
                        "frame": i,
                        "sign_id": sign_id,
                        "sign": name,
                        "probability": p,
                    }
                    yield last
            if on_frame is not None:
                on_frame(rgb, last)
