"""Recognising signs with a trained run: in keypoint sequences, video files (optionally
annotated) and live streams.

    rec = Recognizer.from_run("runs/islr")
    rec.predict("clip.mp4").top          # [(sign_id, name, probability), ...]
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from ..data.keypoints import KeypointSequence
from ..data.schema import (
    LEFT_HAND,
    LEFT_SHOULDER,
    LEFT_WRIST,
    PARTS,
    RIGHT_HAND,
    RIGHT_SHOULDER,
    RIGHT_WRIST,
    mirror_permutation,
)
from ..errors import SignposeError
from ..extract.holistic import ExtractionConfig, HolisticExtractor
from ..extract.pipeline import extract_many
from ..model.inference import check_tta, ensemble_probabilities, predict_points
from ..model.runs import load_ensemble, load_run_info
from ..progress import bar
from ..settings import build, load_json
from ..util import atomic_write_json, check_output
from . import BACKENDS
from .annotate import annotate_video
from .decoder import LiveConfig, StreamDecoder
from .live import LiveSession
from .onnx import OnnxClassifier, export_onnx, onnx_bytes

NO_SIGN = "no sign recognised"


@dataclass
class Prediction:
    source: str
    top: list[tuple[str, str, float]] = field(default_factory=list)  # (sign_id, name, probability)
    status: str = "ok"  # ok | no_sign | error
    message: str = ""
    frames: int = 0
    timing: dict = field(default_factory=dict)  # seconds: decode, mediapipe, classify

    @property
    def label(self) -> tuple[str, str]:
        """What an annotated video shows: (the sign, its probability), or (why there is none, "")."""
        if self.status == "ok" and self.top:
            return self.top[0][1], f"{self.top[0][2]:.0%}"
        return self.message or NO_SIGN, ""

    def as_dict(self) -> dict:
        return {
            "source": self.source,
            "status": self.status,
            "message": self.message,
            "frames": self.frames,
            "top": [{"sign_id": i, "sign": n, "probability": round(p, 6)} for i, n, p in self.top],
            "timing": {k: round(v, 4) for k, v in self.timing.items()},
        }


class Recognizer:
    """A trained run, ready to recognise signs in keypoint sequences, videos and streams."""

    def __init__(
        self,
        run: str | Path,
        backend: Literal["torch", "onnx"] = "torch",
        ensemble: list[str | Path] = (),
        tta: int = 1,
    ):
        """`ensemble`: other runs of the same signs whose probabilities are averaged with
        this run's; `tta`: views of each sign averaged (1 = the sign as it is)."""
        if backend not in BACKENDS:
            raise SignposeError(f"unknown backend {backend!r}; use 'torch' or 'onnx'")
        if backend == "onnx" and (ensemble or tta > 1):
            raise SignposeError("ensembles and test-time views run on the torch backend; drop --backend onnx")
        check_tta(tta)
        self.run = Path(run)
        self.info = load_run_info(self.run)
        members, self.weights = load_ensemble([self.run, *ensemble])
        self.classifier, _, self.config = members[0]
        self.pipeline = members[0].pipeline
        if any(member.pipeline.config.signer_norm for member in members):
            raise SignposeError(
                f"{self.run}: trained with features.signer_norm (each signer's own statistics), which "
                "recognition cannot give a single video; use it with evaluate, or train without it"
            )
        self.tta = tta
        self.models = [classifier for classifier, _, _ in members]  # all whose probabilities are averaged
        # Exported, a run's own models (--seeds) are one graph that averages them.
        others = members[1:] if backend == "torch" else []
        self._others = [(member.classifier, member.pipeline) for member in others]
        self.extraction = build(ExtractionConfig, self.info.extraction or {})
        self.classes: list[str] = self.info.classes
        self.names: list[str] = self.info.names
        self.backend = backend
        self._onnx = self._exported() if backend == "onnx" else None
        self.cold_start_seconds = self._warm_up()

    def _exported(self) -> OnnxClassifier:
        onnx = OnnxClassifier(self.run / "model.onnx")
        onnx.check(self.run / "model.onnx", self.pipeline.config.frames, self.pipeline.n_points, len(self.classes))
        sidecar = self.run / "features.json"
        exported = load_json(sidecar).get("models", 1) if sidecar.is_file() else 1
        if exported != len(self.models):
            raise SignposeError(
                f"{self.run / 'model.onnx'}: holds {exported} model(s), the run has {len(self.models)}; "
                "export it again with `signpose export RUN`"
            )
        return onnx

    def _warm_up(self) -> float:
        """One classification of nothing, so the first real one runs at full speed (the
        first call pays for allocations and kernel selection); returns its seconds."""
        t, p = self.pipeline.config.frames, self.pipeline.n_points
        start = time.perf_counter()
        self.probabilities(np.zeros((1, t, p, 2), np.float32), np.ones((1, t, p), bool))
        return time.perf_counter() - start

    @classmethod
    def from_run(cls, run: str | Path, backend: Literal["torch", "onnx"] = "torch", **options) -> Recognizer:
        return cls(run, backend, **options)

    # -- classification ------------------------------------------------------------------

    def probabilities(self, points: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """(B, T, P, 2) points and (B, T, P) mask -> (B, classes) probabilities."""
        if self._onnx is not None:
            return self._onnx.probabilities(points, mask)
        return predict_points(self.classifier, points, mask, tta=self.tta)

    def sign_probabilities(self, seq: KeypointSequence) -> np.ndarray | None:
        """(classes,) probabilities of a sequence, or None when there is nothing to read
        (no person, no hands); the stream decoder's classifier."""
        if not seq.hands_seen():
            return None
        pts, mask = self.pipeline.points(seq)
        if self._others:  # the other models (seeds, streams, other runs), each on its own points
            views = [(self.classifier, pts[None], mask[None])] + [
                (c, pts[None], mask[None])
                if pipeline.same_points(self.pipeline)  # streams and seeds: stage 1 is the same
                else (c, *(a[None] for a in pipeline.points(seq)))
                for c, pipeline in self._others
            ]
            return ensemble_probabilities(views, self.tta, self.weights)[0]
        return self.probabilities(pts[None], mask[None])[0]

    def predict_sequence(self, seq: KeypointSequence, top_k: int = 5, source: str = "") -> Prediction:
        if not seq.person_seen():
            return Prediction(
                source,
                status="no_sign",
                message=f"{NO_SIGN}: no person detected",
                frames=seq.frames,
            )
        if not seq.hands_seen():
            return Prediction(source, status="no_sign", message=f"{NO_SIGN}: no hands detected", frames=seq.frames)
        start = time.perf_counter()
        probs = self.sign_probabilities(seq)
        order = np.argsort(-probs)[: max(1, top_k)]
        top = [(self.classes[i], self.names[i], float(probs[i])) for i in order]
        return Prediction(source, top, frames=seq.frames, timing={"classify": time.perf_counter() - start})

    def decoder(self, config: LiveConfig | None = None, fps: float = 30.0, top_k: int = 5) -> StreamDecoder:
        """A stream decoder on this run: push frames, get timed signs (`recognise.decoder`)."""
        return StreamDecoder(build(LiveConfig, config), fps, self.sign_probabilities, self.classes, self.names, top_k)

    def predict(
        self, video: str | Path, top_k: int = 5, annotate: str | Path | None = None, force: bool = False
    ) -> Prediction:
        """Recognise the sign in one video file or frame folder; `annotate` writes the video
        with landmarks and the sign (never over the input, over another file only with `force`)."""
        if annotate:
            check_output(annotate, "--annotate", inputs=(video,), force=force)
        try:
            with HolisticExtractor(self.extraction) as extractor:
                seq = extractor.extract_file(video)
                timing = dict(extractor.last_timing)
        except SignposeError as e:  # the source is named once, by whoever reports it
            return Prediction(str(video), status="error", message=str(e).removeprefix(f"{video}: "))
        pred = self.predict_sequence(seq, top_k, str(video))
        pred.timing = {**timing, **pred.timing}
        if annotate:
            annotate_video(video, seq, pred.label, annotate, fps=self.extraction.fps)
        return pred

    def predict_many(
        self, videos: list[str], top_k: int = 5, workers: int | None = None, progress: bool = True
    ) -> Iterator[Prediction]:
        """Many videos, extracted in parallel; each result as soon as its video is done."""
        progress_bar = bar(total=len(videos), unit="video", desc="predict", enabled=progress)
        try:
            for path, seq, error, timing in extract_many([str(v) for v in videos], self.extraction, workers):
                if seq is None:
                    pred = Prediction(path, status="error", message=error)
                else:
                    pred = self.predict_sequence(seq, top_k, path)
                    pred.timing = {**timing, **pred.timing}
                progress_bar.update(1)
                yield pred
        finally:
            progress_bar.close()

    # -- live ------------------------------------------------------------------------------

    def live(
        self,
        source: str | int = 0,
        config: LiveConfig | None = None,
        on_frame: Callable[[np.ndarray, dict | None], None] | None = None,
    ) -> LiveSession:
        """Recognise continuously from a camera, file or stream: iterate the returned
        session for the signs as they are reported, then ask it for its `summary()`."""
        return LiveSession(self, source, build(LiveConfig, config), on_frame)

    # -- export ----------------------------------------------------------------------------

    def export_onnx(self, path: str | Path | None = None, force: bool = False) -> Path:
        """Write RUN/model.onnx (inputs: points (B,T,P,2), mask (B,T,P)) and features.json,
        or another .onnx file and <name>.features.json (an existing one only with `force`)."""
        own = self.run / "model.onnx"  # derived from the run: re-exporting replaces it
        path = Path(path) if path else own
        if path.resolve() != own.resolve():
            check_output(path, "--out", suffixes=(".onnx",), force=force)
        # features.json beside the run's own model.onnx; <name>.features.json beside any other
        sidecar_path = path.with_name(
            "features.json" if path.resolve() == own.resolve() else f"{path.stem}.features.json"
        )
        self._check_one_pipeline()
        export_onnx(self.models, self.pipeline, path, self.weights)
        atomic_write_json(sidecar_path, self.model_description())
        return path

    def _check_one_pipeline(self) -> None:
        if any(not pipeline.same_points(self.pipeline) for _, pipeline in self._others):
            raise SignposeError(f"{self.run}: the ensemble's models read different points; export them one by one")

    def onnx_bytes(self) -> bytes:
        """The exported graph (this run's models as one), for a page that classifies on the device."""
        self._check_one_pipeline()
        return onnx_bytes(self.models, self.pipeline, self.weights)

    def model_description(self) -> dict:
        """What a client needs to feed the exported graph: the first feature stage's settings
        and points, the signs, and the 543 points' layout (parts, shoulders, hands, the
        left/right mirror) that the page's own stage 1 and stream decoder read."""
        t, p = self.pipeline.config.frames, self.pipeline.n_points
        return {
            "features": self.pipeline.config.model_dump(),
            "points": [int(i) for i in self.pipeline.set.points],
            "classes": self.classes,
            "names": self.names,
            "models": len(self.models),
            "weights": [round(float(w), 6) for w in self.weights],
            "extraction": self.extraction.model_dump(),
            "inputs": {"points": ["batch", t, p, 2], "mask": ["batch", t, p]},
            "layout": {
                "parts": [[part.name, part.start, part.size] for part in PARTS],
                "hands": [[hand.start, hand.size] for hand in (LEFT_HAND, RIGHT_HAND)],
                "shoulders": [LEFT_SHOULDER, RIGHT_SHOULDER],
                "wrists": [LEFT_WRIST, RIGHT_WRIST],
                "mirror": [int(i) for i in mirror_permutation()],
            },
        }
