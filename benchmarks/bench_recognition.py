"""Recognition speed, in one run (issue: recognition in use).

1. The classifier alone, each model, 100 signs: latency per sequence (batch 1, one
   core) and throughput (batch 64), torch against ONNX Runtime. Target: < 5 ms for the
   default model.
2. `predict` end to end on real videos, split into decoding, MediaPipe, classification.
3. `live` frames per second on a real video against MediaPipe alone on the same frames.
   Target: >= 0.9x (recognition adds under 10%).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import report, require_shared  # noqa: E402

from signpose.data.synth import synth_dataset  # noqa: E402
from signpose.data.video import open_frames  # noqa: E402
from signpose.extract.holistic import HolisticExtractor  # noqa: E402
from signpose.learn.training import train  # noqa: E402
from signpose.model.architectures import MODELS, SignClassifier, count_parameters  # noqa: E402
from signpose.model.config import TrainConfig  # noqa: E402
from signpose.model.features import STREAMS, FeatureConfig, FeaturePipeline  # noqa: E402
from signpose.recognise.decoder import LiveConfig  # noqa: E402
from signpose.recognise.onnx import OnnxClassifier, export_onnx  # noqa: E402
from signpose.recognise.recognizer import Recognizer  # noqa: E402


def _median_ms(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


def _candidates() -> list[tuple[str, FeaturePipeline, list[SignClassifier]]]:
    """Each model with one set of weights; the notebook's on its 150 values, the newer ones
    on their own features; and the gcn's four streams fused into one graph."""
    out = []
    for name, spec in MODELS.items():
        own = FeatureConfig(features=spec.features) if spec.features else FeatureConfig()
        pipeline = FeaturePipeline(FeatureConfig(features="pose_hands") if spec.recipe.startswith("seed") else own)
        out.append((name, pipeline, [SignClassifier(name, pipeline, 100).eval()]))
    graph = FeatureConfig(features="graph27")
    streams = [FeaturePipeline(graph.replace(stream=s)) for s in STREAMS]
    out.append(("gcn, 4 streams fused", streams[0], [SignClassifier("gcn", p, 100).eval() for p in streams]))
    return out


def classifiers(tmp: Path) -> None:
    torch.set_num_threads(1)
    rows = []
    for i, (name, pipeline, members) in enumerate(_candidates()):
        p = pipeline.n_points
        one = (torch.randn(1, 30, p, 2), torch.ones(1, 30, p, dtype=torch.bool))
        batch = (torch.randn(64, 30, p, 2), torch.ones(64, 30, p, dtype=torch.bool))
        onnx = OnnxClassifier(export_onnx(members, pipeline, tmp / f"model{i}.onnx"), threads=1)
        np_one = tuple(x.numpy() for x in one)
        np_batch = tuple(x.numpy() for x in batch)

        def classify(inputs, members=members):
            return torch.stack([torch.softmax(m(*inputs), -1) for m in members]).mean(0)

        with torch.no_grad():
            t1 = _median_ms(lambda: classify(one), 30)
            t64 = _median_ms(lambda: classify(batch), 5)
        o1 = _median_ms(lambda: onnx.probabilities(*np_one), 30)
        o64 = _median_ms(lambda: onnx.probabilities(*np_batch), 5)
        rows.append(
            {
                "model": name,
                "features": pipeline.config.features,
                "parameters": sum(count_parameters(m) for m in members),
                "torch ms/seq (batch 1)": t1,
                "onnx ms/seq (batch 1)": o1,
                "torch seq/s (batch 64)": 64e3 / t64,
                "onnx seq/s (batch 64)": 64e3 / o64,
            }
        )
    report("classifier_latency", rows, {"threads": 1})
    torch.set_num_threads(2)


def tiny_run(tmp: Path) -> Path:
    data = synth_dataset(tmp / "synth", signers=2, signs=5, reps=6, progress=False)
    run = tmp / "run"
    train(
        data,
        run,
        TrainConfig(model="islr", test_signer="signer2", recipe={"epochs": 1}),  # the default features
        progress=False,
    )
    return run


def end_to_end(run: Path) -> None:
    rec = Recognizer.from_run(run)
    videos = sorted(require_shared("videos", "wlasl_mini").rglob("*.mp4"))
    rows = []
    for video in videos:
        pred = rec.predict(video)
        t = pred.timing
        rows.append(
            {
                "video": f"{video.parent.name}/{video.name}",
                "frames": pred.frames,
                "decode s": t["decode"],
                "mediapipe s": t["mediapipe"],
                "classify s": t["classify"],
                "classify share": t["classify"] / sum(t.values()),
            }
        )
    report(
        "predict_breakdown",
        rows,
        {"cold start: the first classification, paid once when the run is loaded (s)": rec.cold_start_seconds},
    )


def live(run: Path) -> None:
    import cv2

    video = require_shared("videos", "fingerspelling_az", "Z.mp4")
    rec = Recognizer.from_run(run)
    rows = []
    for repeat in range(2):
        source = open_frames(video)
        t = time.perf_counter()
        n = 0
        with HolisticExtractor() as ex:
            for rgb in source:
                ex.process_frame(rgb)
                n += 1
        alone = n / (time.perf_counter() - t)
        frames = []
        t = time.perf_counter()
        events = list(
            rec.live(
                str(video),
                LiveConfig(window=30, stride=5, threshold=0.0),
                on_frame=lambda f, e: frames.append(1),
            )
        )
        with_rec = len(frames) / (time.perf_counter() - t)
        rows.append(
            {
                "repeat": repeat + 1,
                "frames": n,
                "mediapipe alone fps": alone,
                "live fps": with_rec,
                "ratio": with_rec / alone,
                "predictions": len(events),
            }
        )
    del cv2
    report("live", rows)


def main(parts: list[str]) -> None:
    """`python benchmarks/bench_recognition.py [classifiers] [predict] [live]` (default: all)."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if "classifiers" in parts:
            classifiers(tmp)
        if "predict" in parts or "live" in parts:
            run = tiny_run(tmp)
            if "predict" in parts:
                end_to_end(run)
            if "live" in parts:
                live(run)


PARTS = ["classifiers", "predict", "live"]

if __name__ == "__main__":
    main([a for a in sys.argv[1:] if a in PARTS] or PARTS)
