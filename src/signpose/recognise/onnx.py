"""The classifier for deployment: exported to ONNX (the feature computation inside the
graph) and run through ONNX Runtime."""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from ..errors import SignposeError
from ..model.features import FeaturePipeline
from ..util import atomic_write_bytes


class OnnxClassifier:
    """The exported model through ONNX Runtime, callable like the torch classifier."""

    def __init__(self, path: Path, threads: int = 1):
        import onnxruntime as ort

        if not path.is_file():
            raise SignposeError(f"{path}: no ONNX model; create it with `signpose export RUN`")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own exception types for a bad file
            first = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
            raise SignposeError(
                f"{path}: not a usable ONNX model ({first}); re-create it with `signpose export RUN`"
            ) from None

    def check(self, path: Path, frames: int, points: int, classes: int) -> None:
        """The model must read this run's inputs and name its classes (not another run's)."""
        shape = self.session.get_inputs()[0].shape  # [batch, T, P, 2]
        out = self.session.get_outputs()[0].shape  # [batch, classes]
        if list(shape[1:]) != [frames, points, 2] or (isinstance(out[-1], int) and out[-1] != classes):
            raise SignposeError(
                f"{path}: an ONNX model of another run (inputs {shape[1:]}, {out[-1]} classes; this run: "
                f"[{frames}, {points}, 2], {classes} classes); export this run with `signpose export RUN`"
            )

    def probabilities(self, points: np.ndarray, mask: np.ndarray) -> np.ndarray:
        (logits,) = self.session.run(None, {"points": points.astype(np.float32), "mask": mask.astype(bool)})
        e = np.exp(logits - logits.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)


class Averaged(torch.nn.Module):
    """Several classifiers of the same inputs as one: the log of their (weighted) mean
    probability, so a softmax of its output is that mean (what `Recognizer` computes in torch)."""

    def __init__(self, members: list[torch.nn.Module], weights: Sequence[float]):
        super().__init__()
        self.members = torch.nn.ModuleList(members)
        self.register_buffer("weights", torch.tensor(list(weights), dtype=torch.float32)[:, None, None])

    def forward(self, pts, mask):
        probs = (torch.stack([torch.softmax(m(pts, mask), -1) for m in self.members]) * self.weights).sum(0)
        return torch.log(probs.clamp_min(1e-12))


def onnx_bytes(
    classifiers: list[torch.nn.Module],
    pipeline: FeaturePipeline,
    weights: Sequence[float] | None = None,
) -> bytes:
    """SignClassifiers of one feature pipeline as an ONNX graph (several: their average,
    weighted by `weights` when given), with a dynamic batch axis (the legacy exporter,
    which works beside MediaPipe's protobuf < 5)."""
    n = len(classifiers)
    classifier = classifiers[0] if n == 1 else Averaged(classifiers, [1 / n] * n if weights is None else weights)
    pts = torch.zeros(1, pipeline.config.frames, pipeline.n_points, 2)
    mask = torch.ones(1, pipeline.config.frames, pipeline.n_points, dtype=torch.bool)
    buffer = io.BytesIO()
    with warnings.catch_warnings():  # the exporter's constant-folding notes are not for users
        warnings.simplefilter("ignore")
        torch.onnx.export(
            classifier.eval(),
            (pts, mask),
            buffer,
            input_names=["points", "mask"],
            output_names=["logits"],
            opset_version=17,
            dynamo=False,
            dynamic_axes={"points": {0: "batch"}, "mask": {0: "batch"}, "logits": {0: "batch"}},
        )
    return buffer.getvalue()


def export_onnx(
    classifiers: list[torch.nn.Module],
    pipeline: FeaturePipeline,
    path: Path,
    weights: Sequence[float] | None = None,
) -> Path:
    """`onnx_bytes` written to `path` (whole or not at all)."""
    atomic_write_bytes(path, onnx_bytes(classifiers, pipeline, weights))
    return path
