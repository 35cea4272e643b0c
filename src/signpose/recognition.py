"""Recognising signs with a trained run: in video files, in annotated output videos, in
live streams, and through an ONNX export.

    rec = Recognizer.from_run("runs/islr")
    rec.predict("clip.mp4").top          # [(sign_id, name, probability), ...]
"""

from __future__ import annotations

import time
import warnings
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .config import ExtractionConfig, FeatureConfig
from .errors import SignposeError
from .features import sequence_points
from .keypoints import KeypointSequence, atomic_write_bytes, atomic_write_json
from .schema import LEFT_HAND, POSE, RIGHT_HAND

NO_SIGN = "no sign recognised"


@dataclass
class Prediction:
    source: str
    top: list[tuple[str, str, float]] = field(default_factory=list)  # (sign_id, name, probability)
    status: str = "ok"  # ok | no_sign | error
    message: str = ""
    frames: int = 0
    timing: dict = field(default_factory=dict)  # seconds: decode, mediapipe, classify

    def as_dict(self) -> dict:
        return {"source": self.source, "status": self.status, "message": self.message, "frames": self.frames,
                "top": [{"sign_id": i, "sign": n, "probability": round(p, 6)} for i, n, p in self.top],
                "timing": {k: round(v, 4) for k, v in self.timing.items()}}  # fmt: skip


class OnnxClassifier:
    """The exported model through ONNX Runtime, callable like the torch classifier."""

    def __init__(self, path: Path, threads: int = 1):
        import onnxruntime as ort

        if not path.is_file():
            raise SignposeError(f"{path}: no ONNX model; create it with `signpose export RUN --format onnx`")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def probabilities(self, points: np.ndarray, mask: np.ndarray) -> np.ndarray:
        (logits,) = self.session.run(None, {"points": points.astype(np.float32), "mask": mask.astype(bool)})
        e = np.exp(logits - logits.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)


class Recognizer:
    """A trained run, ready to recognise signs in keypoint sequences, videos and streams."""

    def __init__(self, run: str | Path, backend: str = "torch"):
        from .training import load_classifier

        self.run = Path(run)
        self.classifier, self.info, self.config = load_classifier(self.run)
        self.features: FeatureConfig = self.config.features
        self.extraction = ExtractionConfig(**(self.info.get("extraction") or {}))
        self.classes: list[str] = self.info["classes"]
        self.names: list[str] = self.info["names"]
        if backend not in ("torch", "onnx"):
            raise SignposeError(f"unknown backend {backend!r}; use 'torch' or 'onnx'")
        self.backend = backend
        self._onnx = OnnxClassifier(self.run / "model.onnx") if backend == "onnx" else None

    @classmethod
    def from_run(cls, run: str | Path, backend: str = "torch") -> Recognizer:
        return cls(run, backend)

    # -- classification ------------------------------------------------------------------

    def probabilities(self, points: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """(B, T, P, 2) points and (B, T, P) mask -> (B, classes) probabilities."""
        if self._onnx is not None:
            return self._onnx.probabilities(points, mask)
        from .evaluation import predict_points

        return predict_points(self.classifier, points, mask)

    def predict_sequence(self, seq: KeypointSequence, top_k: int = 5, source: str = "") -> Prediction:
        hands = seq.present[:, LEFT_HAND.slice].any() or seq.present[:, RIGHT_HAND.slice].any()
        if not seq.present[:, POSE.slice].any() and not hands:
            return Prediction(source, status="no_sign", message=f"{NO_SIGN}: no person detected", frames=seq.frames)
        if not hands:
            return Prediction(source, status="no_sign", message=f"{NO_SIGN}: no hands detected", frames=seq.frames)
        start = time.perf_counter()
        pts, mask = sequence_points(seq, self.features)
        probs = self.probabilities(pts[None], mask[None])[0]
        order = np.argsort(-probs)[: max(1, top_k)]
        top = [(self.classes[i], self.names[i], float(probs[i])) for i in order]
        return Prediction(source, top, frames=seq.frames, timing={"classify": time.perf_counter() - start})

    def predict(self, video: str | Path, top_k: int = 5, annotate: str | Path | None = None) -> Prediction:
        """Recognise the sign in one video file or frame folder."""
        from .extraction import HolisticExtractor
        from .video import open_frames

        try:
            source = open_frames(video, fps=self.extraction.fps)
            with HolisticExtractor(self.extraction) as extractor:
                seq = extractor.extract(source, source.fps, source.width, source.height)
                timing = dict(extractor.last_timing)
        except SignposeError as e:
            return Prediction(str(video), status="error", message=str(e))
        pred = self.predict_sequence(seq, top_k, str(video))
        pred.timing = {**timing, **pred.timing}
        if annotate:
            annotate_video(video, seq, pred, annotate, fps=self.extraction.fps)
        return pred

    def predict_many(self, videos: list[str], top_k: int = 5, workers: int | None = None,
                     progress: bool = True) -> list[Prediction]:  # fmt: skip
        """Many videos, extracted in parallel; results in the order given."""
        from tqdm import tqdm

        from .extraction import extract_many

        results: dict[str, Prediction] = {}
        bar = tqdm(total=len(videos), unit="video", desc="predict", disable=not progress)
        for path, seq, error, timing in extract_many([str(v) for v in videos], self.extraction, workers):
            if seq is None:
                results[path] = Prediction(path, status="error", message=error)
            else:
                results[path] = self.predict_sequence(seq, top_k, path)
                results[path].timing = {**timing, **results[path].timing}
            bar.update(1)
        bar.close()
        return [results[str(v)] for v in videos]

    # -- live ------------------------------------------------------------------------------

    def live(self, source: str | int = 0, window: int = 30, stride: int = 5, threshold: float = 0.6,
             on_frame: Callable[[np.ndarray, dict | None], None] | None = None) -> Iterator[dict]:  # fmt: skip
        """Recognise continuously: a sliding window of `window` frames, classified every
        `stride` frames; yields an event whenever the top sign passes `threshold`."""
        from .extraction import HolisticExtractor
        from .video import open_frames

        frames = open_frames(source, fps=self.extraction.fps)
        buf: deque = deque(maxlen=window)
        last: dict | None = None
        with HolisticExtractor(self.extraction) as extractor:
            for i, rgb in enumerate(frames):
                h, w = rgb.shape[:2]
                buf.append(extractor.frame_arrays(extractor.process_frame(rgb), w, h)[:2])
                if len(buf) == window and (i + 1 - window) % stride == 0:
                    seq = KeypointSequence(np.stack([b[0] for b in buf]), np.stack([b[1] for b in buf]),
                                           frames.fps, w, h)  # fmt: skip
                    pred = self.predict_sequence(seq, top_k=1)
                    if pred.status == "ok" and pred.top[0][2] >= threshold:
                        sign_id, name, p = pred.top[0]
                        last = {"time": i / frames.fps, "frame": i, "sign_id": sign_id, "sign": name, "probability": p}
                        yield last
                if on_frame is not None:
                    on_frame(rgb, last)

    # -- export ----------------------------------------------------------------------------

    def export_onnx(self, path: str | Path | None = None) -> Path:
        """Write RUN/model.onnx (inputs: points (B,T,P,2), mask (B,T,P)) and features.json."""
        from .features import feature_set

        path = export_onnx(self.classifier, self.features, Path(path) if path else self.run / "model.onnx")
        fs = feature_set(self.features.features)
        sidecar = {"features": self.features.__dict__, "points": [int(i) for i in fs.points], "classes": self.classes,
                   "names": self.names, "extraction": self.extraction.__dict__,
                   "inputs": {"points": ["batch", self.features.frames, fs.n_points, 2],
                              "mask": ["batch", self.features.frames, fs.n_points]}}  # fmt: skip
        atomic_write_json(path.with_name("features.json"), sidecar)
        return path


def export_onnx(classifier, features: FeatureConfig, path: Path) -> Path:
    """Any SignClassifier as ONNX, with a dynamic batch axis (the legacy exporter, which
    works beside MediaPipe's protobuf < 5)."""
    import io

    import torch

    from .features import feature_set

    fs = feature_set(features.features)
    pts = torch.zeros(1, features.frames, fs.n_points, 2)
    mask = torch.ones(1, features.frames, fs.n_points, dtype=torch.bool)
    buffer = io.BytesIO()
    with warnings.catch_warnings():  # the exporter's constant-folding notes are not for users
        warnings.simplefilter("ignore")
        torch.onnx.export(classifier.eval(), (pts, mask), buffer, input_names=["points", "mask"],
                          output_names=["logits"], opset_version=17, dynamo=False,
                          dynamic_axes={"points": {0: "batch"}, "mask": {0: "batch"}, "logits": {0: "batch"}})
    atomic_write_bytes(path, buffer.getvalue())
    return path


# ---------------------------------------------------------------------------------------
# Drawing
# ---------------------------------------------------------------------------------------


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


def caption(text: str, width: int, size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A caption rendered once (shaped, right-to-left where needed): RGB patch and alpha."""
    from .text import draw_text

    size = size or max(14, width // 24)
    canvas = np.zeros((size * 2 + 12, width, 3), np.uint8)
    rgb = draw_text(canvas, text, (12, 6), size=size, box=None)
    alpha = np.full(canvas.shape[:2], 0.55, np.float32)
    alpha[rgb.max(axis=2) > 0] = 1.0
    return rgb, alpha


def annotate_video(video: str | Path, seq: KeypointSequence, pred: Prediction, out: str | Path, fps: float = 30.0) -> Path:
    """The input video with landmarks drawn and the recognised sign written on it."""
    import cv2

    from .video import open_frames

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    source = open_frames(video, fps=fps)
    label = (f"{pred.top[0][1]}  {pred.top[0][2]:.0%}" if pred.status == "ok" and pred.top else pred.message or NO_SIGN)
    patch, alpha = caption(label, seq.width)
    patch_bgr = patch[..., ::-1].astype(np.float32)
    tmp = out.with_name(f".{out.stem}.tmp{out.suffix}")
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), source.fps, (seq.width, seq.height))
    if not writer.isOpened():
        raise SignposeError(f"{out}: cannot write a video here (check the folder and the .mp4 extension)")
    try:
        for i, rgb in enumerate(source):
            bgr = np.ascontiguousarray(rgb[..., ::-1])
            if i < seq.frames:
                draw_landmarks(bgr, seq.xyz[i], seq.present[i])
            h = min(patch.shape[0], bgr.shape[0])
            region = bgr[:h].astype(np.float32)
            a = alpha[:h, : bgr.shape[1], None]
            bgr[:h] = (patch_bgr[:h, : bgr.shape[1]] * a + region * (1 - a)).astype(np.uint8)
            writer.write(bgr)
    finally:
        writer.release()
    tmp.replace(out)
    return out
