"""The `signpose` command: parses, calls the library, prints. Nothing else lives here."""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import replace
from pathlib import Path

from .errors import SignposeError


def _train_config(args: argparse.Namespace):
    from .config import AugmentConfig, TrainConfig, load_json

    base = load_json(TrainConfig, args.config) if args.config else TrainConfig()
    feats = base.features
    feats = replace(feats, **{k: v for k, v in {
        "features": args.features, "frames": args.frames, "sampling": args.sampling,
        "normalise": args.normalise, "hand_relative": args.hand_relative or None,
    }.items() if v is not None})  # fmt: skip
    augment = {"default": AugmentConfig(), "off": AugmentConfig.off(), "seed": AugmentConfig.seed()}.get(args.augment)
    if args.augment is None:
        augment = base.augment
    if args.mirror is not None:
        augment = replace(augment, mirror_p=args.mirror)
    overrides = {
        "model": args.model, "test_signer": getattr(args, "test_signer", None), "epochs": args.epochs,
        "batch_size": args.batch_size, "lr": args.lr, "patience": args.patience, "seed": args.seed,
        "monitor": args.monitor,
        "split": getattr(args, "split", None), "accelerator": args.accelerator, "devices": args.devices,
        "strategy": args.strategy, "max_minutes": args.max_minutes, "num_workers": args.num_workers,
    }  # fmt: skip
    return replace(base, features=feats, augment=augment, **{k: v for k, v in overrides.items() if v is not None})


def _add_train_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset", help="dataset folder (from extract, synth or import)")
    p.add_argument("--out", required=True, help="run folder to write (an unfinished run there is resumed)")
    p.add_argument("--model", help="lstm | tcn | transformer | islr (default islr; see `signpose models`)")
    p.add_argument("--config", help="a JSON TrainConfig (e.g. a run's config.json); flags override it")
    p.add_argument("--features", help="hands | pose_hands | rich")
    p.add_argument("--frames", type=int, help="frames per sample (default 30)")
    p.add_argument("--sampling", choices=["resample", "first"], help="whole sign to T frames, or the seed's first T")
    p.add_argument("--normalise", choices=["body", "image"], help="body-centred (default) or the seed's image units")
    p.add_argument("--hand-relative", action="store_true", default=None, help="add hand shapes relative to the wrist")
    p.add_argument("--augment", choices=["default", "off", "seed"], help="augmentation preset")
    p.add_argument("--mirror", type=float, help="probability of left/right mirroring")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--patience", type=int, help="early stopping patience")
    p.add_argument("--monitor", choices=["val_acc", "val_loss"], help="what early stopping follows (model default)")
    p.add_argument("--seed", type=int)
    p.add_argument("--max-minutes", type=float, help="stop training after this long")
    p.add_argument("--accelerator", help="passed to Lightning (cpu, gpu, auto)")
    p.add_argument("--devices", help="passed to Lightning (a count or auto)")
    p.add_argument("--strategy", help="passed to Lightning (auto, ddp, ...)")
    p.add_argument("--num-workers", type=int, help="data loader processes")


def cmd_extract(args) -> int:
    from .config import ExtractionConfig
    from .extraction import extract_dataset

    report = extract_dataset(args.videos, args.out, layout=args.layout, labels=args.labels, workers=args.workers,
                             config=ExtractionConfig(fps=args.fps), signer=args.signer,
                             retry_failed=args.retry_failed, limit=args.limit, backend=args.backend,
                             address=args.address)  # fmt: skip
    print(report.summary())
    return 0


def cmd_info(args) -> int:
    from .dataset import Dataset

    info = Dataset(args.dataset).info()
    frames = info["frames"]
    if args.json:
        print(json.dumps({
            "samples": info["samples"], "failed": info["failed"], "signers": info["signers"], "signs": info["signs"],
            "counts": {s: info["counts"][s].to_dict() for s in info["counts"].columns},
            "frames": {"min": int(frames.min()), "mean": float(frames.mean()), "max": int(frames.max())} if len(frames) else {},
            "detected": info["detected"], "problems": [p.problem for p in info["problems"]],
        }, ensure_ascii=False, indent=2))  # fmt: skip
        return 0
    print(f"{info['samples']} samples ({info['failed']} failed), {len(info['signers'])} signers, {len(info['signs'])} signs")
    counts = info["counts"].copy()
    counts.insert(0, "sign", [info["signs"].get(i, i) for i in counts.index])
    print(counts.to_string())
    if len(frames):
        print(f"frames per video: min {frames.min()}, mean {frames.mean():.1f}, max {frames.max()}")
    print("frames with each part detected: " + ", ".join(f"{k} {v:.1%}" for k, v in info["detected"].items()))
    for p in info["problems"]:
        print(f"warning: {p.problem}")
    return 0


def cmd_synth(args) -> int:
    from .synth import synth_dataset

    out = synth_dataset(args.out, signers=args.signers, signs=args.signs, reps=args.reps, seed=args.seed)
    print(f"synthetic dataset: {out} ({args.signers} signers x {args.signs} signs x {args.reps} repetitions)")
    return 0


def cmd_import(args) -> int:
    from . import importers

    if args.format == "mpdata":
        out = importers.import_mpdata(args.source, args.out, signer=args.signer, labels=args.labels)
    elif args.format == "npz":
        out = importers.import_npz(args.source, args.out)
    elif args.format == "kaggle":
        out = importers.import_kaggle(args.source, args.out)
    else:
        if not args.mapping:
            raise SignposeError("import pose needs --mapping CSV (columns file,signer,sign)")
        out = importers.import_pose(args.source, args.out, args.mapping)
    print(f"dataset: {out}")
    return 0


def cmd_export_arrays(args) -> int:
    from .config import FeatureConfig
    from .importers import export_arrays

    result = export_arrays(args.dataset, args.out, FeatureConfig(features=args.features, frames=args.frames,
                                                                 sampling=args.sampling, normalise=args.normalise))  # fmt: skip
    print(f"X.npy {result['X']}, {result['classes']} classes -> {result['out']}")
    return 0


def cmd_models(args) -> int:
    from .config import FeatureConfig
    from .models import describe_models

    rows = describe_models(FeatureConfig(features=args.features, frames=args.frames), n_classes=args.classes)
    print(f"{'model':<12} {'parameters':>12}  {'input':<10} {'lr':>7} {'batch':>5} {'patience':>8}  description")
    for r in rows:
        print(f"{r['model']:<12} {r['parameters']:>12,}  {r['input']:<10} {r['lr']:>7g} {r['batch_size']:>5} "
              f"{r['patience']:>8}  {r['description']}")  # fmt: skip
    return 0


def cmd_train(args) -> int:
    from .evaluation import evaluate
    from .training import train

    config = _train_config(args)
    info = train(args.dataset, args.out, config)
    if not info:  # another process of a multi-device run: rank 0 reports
        return 0
    summary = evaluate(args.out)
    print(f"trained {config.model} on {', '.join(info['train_signers'])}: best {info['monitor']} "
          f"{info['best_score']:.3f} at epoch {info['best_epoch']}")  # fmt: skip
    _print_summary(summary, args.out)
    return 0


def _print_summary(summary: dict, run) -> None:
    print(f"test signer {summary['signer']}: accuracy {summary['accuracy']:.3f}, top-5 {summary['top5_accuracy']:.3f}, "
          f"macro-F1 {summary['macro_f1']:.3f} ({summary['samples']} samples)")  # fmt: skip
    if summary.get("signs_not_in_training"):
        print(f"not evaluated (no training signer has them): {', '.join(summary['signs_not_in_training'])}")
    print(f"written: {Path(run) / 'metrics.json'}, per_class.csv, confusion.png, curves.png")


def cmd_evaluate(args) -> int:
    from .evaluation import evaluate

    summary = evaluate(args.run, args.dataset, args.signer)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        _print_summary(summary, args.run)
        import pandas as pd

        table = pd.read_csv(Path(args.run) / "per_class.csv", dtype={"sign_id": str})
        print(table.sort_values("f1").head(10).to_string(index=False))
    return 0


def cmd_cv(args) -> int:
    from .training import cross_validate

    table, _ = cross_validate(args.dataset, args.out, _train_config(args))
    print(table.to_string(index=False))
    print(f"written: {Path(args.out) / 'cv.csv'}")
    return 0


def _videos(paths: list[str]) -> list[str]:
    from .video import VIDEO_EXTENSIONS, is_frame_folder

    out = []
    for p in map(Path, paths):
        if p.is_dir() and not is_frame_folder(p):
            out += sorted(str(c) for c in p.rglob("*") if c.suffix.lower() in VIDEO_EXTENSIONS)
        else:
            out.append(str(p))
    if not out:
        raise SignposeError(f"no videos found in {', '.join(paths)}")
    return out


def cmd_predict(args) -> int:
    from .recognition import Recognizer

    rec = Recognizer.from_run(args.run, backend=args.backend)
    videos = _videos(args.videos)
    if args.annotate:
        if len(videos) != 1:
            raise SignposeError("--annotate writes one video: pass a single input video")
        preds = [rec.predict(videos[0], args.top_k, annotate=args.annotate)]
    else:
        preds = rec.predict_many(videos, args.top_k, workers=args.workers, progress=not args.json)
    if args.json:
        print(json.dumps([p.as_dict() for p in preds], ensure_ascii=False, indent=2))
    else:
        for p in preds:
            if p.status != "ok":
                print(f"{p.source}: {p.message}")
                continue
            print(f"{p.source}:")
            for sign_id, name, prob in p.top:
                print(f"  {prob:6.1%}  {name}  (id {sign_id})")
        if args.annotate:
            print(f"annotated video: {args.annotate}")
    return 0 if all(p.status != "error" for p in preds) else 1


def cmd_live(args) -> int:
    from .recognition import Recognizer

    rec = Recognizer.from_run(args.run, backend=args.backend)
    show = None
    if not args.headless and os.environ.get("DISPLAY"):
        import cv2

        from .text import draw_text

        def show(rgb, event):
            frame = draw_text(rgb, f"{event['sign']} {event['probability']:.0%}", (10, 10)) if event else rgb
            cv2.imshow("signpose live", frame[..., ::-1])
            if cv2.waitKey(1) & 0xFF == ord("q"):
                raise KeyboardInterrupt

    source = int(args.source) if str(args.source).isdigit() else args.source
    for event in rec.live(source, args.window, args.stride, args.threshold, on_frame=show):
        minutes, seconds = divmod(event["time"], 60)
        print(f"{int(minutes):02d}:{seconds:05.2f}  {event['sign']}  {event['probability']:.2f}", flush=True)
    return 0


def cmd_export(args) -> int:
    from .recognition import Recognizer

    path = Recognizer.from_run(args.run).export_onnx(args.out)
    print(f"ONNX model: {path} (feature settings in {path.with_name('features.json')})")
    return 0


def cmd_demo(args) -> int:
    from .demo import run_demo

    run_demo(args.out, epochs=args.epochs)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="signpose", description="Pose-based isolated sign language recognition.")
    from . import __version__

    parser.add_argument("--version", action="version", version=f"signpose {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("extract", help="MediaPipe Holistic keypoints from sign videos into a dataset folder")
    p.add_argument("videos", help="folder of sign videos or frame folders")
    p.add_argument("--out", required=True, help="dataset folder to write (a rerun resumes)")
    p.add_argument("--layout", choices=["karsl", "folders"], default="folders")
    p.add_argument("--labels", help="sign names: KArSL CSV (SignID,Sign) or labels.xlsx")
    p.add_argument("--workers", type=int, help="processes (default: all cores)")
    p.add_argument("--fps", type=float, default=30.0, help="frame rate of frame-image folders")
    p.add_argument("--signer", help="signer name for a one-signer folders layout")
    p.add_argument("--retry-failed", action="store_true", help="retry samples that failed before")
    p.add_argument("--limit", type=int, help="only the first N samples (a quick look)")
    p.add_argument("--backend", choices=["local", "ray"], default="local", help="process pool here, or Ray")
    p.add_argument("--address", help="Ray cluster address (e.g. ray://head:10001 or auto); default: a local Ray")
    p.set_defaults(func=cmd_extract)

    p = sub.add_parser("info", help="signers x signs, frames, detection rates of a dataset")
    p.add_argument("dataset")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("synth", help="generate a synthetic multi-signer dataset")
    p.add_argument("--out", required=True)
    p.add_argument("--signers", type=int, default=3)
    p.add_argument("--signs", type=int, default=10)
    p.add_argument("--reps", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser("import", help="import mpdata (seed .npy per frame), npz (seed vectors), kaggle (asl-signs) or pose files")
    p.add_argument("format", choices=["mpdata", "npz", "kaggle", "pose"])
    p.add_argument("source")
    p.add_argument("--out", required=True)
    p.add_argument("--signer", help="mpdata without a signer level: the signer's name")
    p.add_argument("--labels", help="mpdata: sign names (CSV SignID,Sign)")
    p.add_argument("--mapping", help="pose: CSV with columns file,signer,sign")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("export-arrays", help="write X.npy, y.npy, signer.npy like the notebook's arrays")
    p.add_argument("dataset")
    p.add_argument("--out", required=True)
    p.add_argument("--features", default="pose_hands")
    p.add_argument("--frames", type=int, default=30)
    p.add_argument("--sampling", choices=["resample", "first"], default="resample")
    p.add_argument("--normalise", choices=["body", "image"], default="body")
    p.set_defaults(func=cmd_export_arrays)

    p = sub.add_parser("models", help="the registered models with their parameter counts")
    p.add_argument("--features", default="pose_hands")
    p.add_argument("--frames", type=int, default=30)
    p.add_argument("--classes", type=int, default=100)
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("train", help="train a model signer-independently, then evaluate it")
    _add_train_options(p)
    p.add_argument("--test-signer", help="the signer held out for testing (default: the last)")
    p.add_argument("--split", choices=["signer", "mixed"], help="signer-independent (default) or mixed")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="metrics, per-class table and confusion matrix of a run")
    p.add_argument("run")
    p.add_argument("--dataset", help="evaluate on another dataset folder")
    p.add_argument("--signer", help="evaluate on this signer")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("cv", help="leave-one-signer-out: one run per signer, mean +- std")
    _add_train_options(p)
    p.set_defaults(func=cmd_cv)

    p = sub.add_parser("predict", help="recognise the sign in videos")
    p.add_argument("run")
    p.add_argument("videos", nargs="+", help="video files, frame folders, or folders of videos")
    p.add_argument("--top-k", type=int, default=5)
    p.add_argument("--json", action="store_true")
    p.add_argument("--annotate", help="write the video with landmarks and the sign to this .mp4")
    p.add_argument("--backend", choices=["torch", "onnx"], default="torch")
    p.add_argument("--workers", type=int, help="extraction processes for many videos")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("live", help="recognise continuously from a camera, video file or stream")
    p.add_argument("run")
    p.add_argument("--source", default="0", help="camera index, video file or stream URL")
    p.add_argument("--window", type=int, default=30, help="frames in the sliding window")
    p.add_argument("--stride", type=int, default=5, help="classify every N frames")
    p.add_argument("--threshold", type=float, default=0.6, help="report a sign above this probability")
    p.add_argument("--headless", action="store_true", help="print timestamped predictions, no window")
    p.add_argument("--backend", choices=["torch", "onnx"], default="torch")
    p.set_defaults(func=cmd_live)

    p = sub.add_parser("export", help="export a run's model for deployment")
    p.add_argument("run")
    p.add_argument("--format", choices=["onnx"], default="onnx")
    p.add_argument("--out", help="output path (default RUN/model.onnx)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("demo", help="the whole job on synthetic data, in minutes")
    p.add_argument("--out", default="demo-output")
    p.add_argument("--epochs", type=int, default=60)
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except SignposeError as e:
        print(f"signpose: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("signpose: interrupted; finished work is on disk, rerun the same command to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
