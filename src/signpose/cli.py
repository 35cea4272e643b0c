"""The `signpose` command: parses, calls the library, prints. Nothing else lives here.

Results go to stdout, progress and logs to stderr. Each command's settings flags are
generated from the settings' declarations (`signpose.settings`); a command's modules are
imported only when it runs, so `signpose --help` and argument errors answer at once.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import ERROR_PREFIX, SignposeError, environment_error, is_environment_error
from .settings import add_flags, build, deep_merge, given, load_json, parser_class


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


# ---------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------


def cmd_extract(args) -> int:
    from .extract.holistic import ExtractionConfig
    from .extract.pipeline import extract_dataset

    report = extract_dataset(
        args.videos,
        args.out,
        layout=args.layout,
        labels=args.labels,
        workers=args.workers,
        config=build(ExtractionConfig, given(args)),
        signer=args.signer,
        retry_failed=args.retry_failed,
        limit=args.limit,
        backend=args.backend,
        address=args.address,
        append=args.append,
    )
    print(report.summary())
    # as `import` does: a script can tell that nothing usable came out (every sample failed)
    return 0 if report.extracted or report.done_before else 1


def cmd_record(args) -> int:
    from .extract.holistic import ExtractionConfig
    from .extract.record import RecordConfig, preview_window, record_signs

    config = build(RecordConfig, _given(args, RecordConfig))
    extraction = build(ExtractionConfig, _given(args, ExtractionConfig))
    show = preview_window() if not args.headless and os.environ.get("DISPLAY") else None
    source = int(args.camera) if str(args.camera).isdigit() else args.camera
    signs = args.signs.split(",")
    report = record_signs(source, args.out, args.signer, signs, config, extraction, preview=show)
    print(report.summary())
    return 0 if not report.missing else 1


def cmd_info(args) -> int:
    from .data.dataset import Dataset

    info = Dataset(args.dataset).info()
    if args.json:
        print(json.dumps(info.as_dict(), ensure_ascii=False, indent=2))
        return 0
    print(f"{info.samples} samples ({info.failed} failed), {len(info.signers)} signers, {len(info.signs)} signs")
    if info.samples:
        counts = info.counts.copy()
        counts.insert(0, "sign", [info.signs.get(i, i) for i in counts.index])
        print(counts.to_string())
        frames = info.frames
        print(f"frames per video: min {frames.min()}, mean {frames.mean():.1f}, max {frames.max()}")
        if info.padding:
            print(f"padding: {info.padding}")
        print("frames with each part detected: " + ", ".join(f"{k} {v:.1%}" for k, v in info.detected.items()))
    for p in info.problems:
        print(f"warning: {p.problem}", file=sys.stderr)
    return 0


def cmd_synth(args) -> int:
    from .data.synth import synth_dataset

    out = synth_dataset(
        args.out,
        signers=args.signers,
        signs=args.signs,
        reps=args.reps,
        seed=args.seed,
        append=args.append,
    )
    print(f"synthetic dataset: {out} ({args.signers} signers x {args.signs} signs x {args.reps} repetitions)")
    return 0


def cmd_import(args) -> int:
    from .data import importers

    common = {"append": args.append}
    readers: dict[str, Callable] = {
        "mpdata": lambda: importers.import_mpdata(
            args.source, args.out, signer=args.signer, labels=args.labels, **common
        ),
        "npz": lambda: importers.import_npz(args.source, args.out, labels=args.labels, **common),
        "kaggle": lambda: importers.import_kaggle(args.source, args.out, **common),
        "pose": lambda: importers.import_pose(args.source, args.out, args.mapping, **common),
    }
    if args.labels and args.format not in ("mpdata", "npz"):  # accepted and ignored would lose the names
        raise SignposeError(
            f"--labels applies to import mpdata and npz; import {args.format} takes its names from its source"
        )
    if args.format == "pose" and not args.mapping:
        raise SignposeError("import pose needs --mapping CSV (columns file,signer,sign)")
    report = readers[args.format]()
    print(report.summary())
    return 0 if report.imported else 1


def cmd_export_arrays(args) -> int:
    from .learn.arrays import export_arrays
    from .model.features import FeatureConfig

    result = export_arrays(args.dataset, args.out, build(FeatureConfig, given(args)))
    print(f"X.npy {result['X']}, {result['classes']} classes -> {result['out']}")
    return 0


def cmd_models(args) -> int:
    from .model.architectures import describe_models
    from .model.features import FEATURE_SETS, FeatureConfig

    features = build(FeatureConfig, given(args))
    rows = describe_models(features, n_classes=args.classes)
    print(f"{'model':<12} {'parameters':>12}  {'input':<10} {'recipe':<17} description")
    for r in rows:
        print(f"{r['model']:<12} {r['parameters']:>12,}  {r['input']:<10} {r['recipe']:<17} {r['description']}")
    print("\nfeature sets:")
    for name, fs in FEATURE_SETS.items():
        print(f"  {name:<12} {fs.description}")
    return 0


def cmd_layouts(args) -> int:
    from .data.layouts import LAYOUTS

    for layout in LAYOUTS.values():
        print(f"{layout.name}: {layout.description}")
        print(f"    structure: {layout.structure}")
        print(f"    signer: {layout.signer}")
        if layout.protocol:
            print(f"    protocol: {layout.protocol}")
    return 0


def cmd_recipes(args) -> int:
    from .model.recipes import Recipe

    for name, description in Recipe.DESCRIPTIONS.items():
        values = Recipe.preset(name).model_dump(exclude={"name"})
        print(f"{name}: {description}")
        print("    " + ", ".join(f"{k}={v}" for k, v in values.items()))
    return 0


def cmd_settings(args) -> int:
    from .reference import settings_markdown

    print(settings_markdown())
    return 0


def _train_settings(args, **fixed):
    """TrainConfig from --config (if any) with the flags over it, and the runtime settings."""
    from .learn.runtime import RuntimeConfig
    from .model.config import TrainConfig

    values = given(args)
    runtime = {k: values.pop(k) for k in list(values) if k in RuntimeConfig.model_fields}
    base = load_json(args.config) if args.config else {}
    return build(TrainConfig, deep_merge(deep_merge(base, values), fixed)), build(RuntimeConfig, runtime)


def _split_words(run) -> str:
    from .model.runs import load_run_info

    split = load_run_info(run).split
    return "official test split" if split == "official" else "mixed split (signer-dependent)"


def _print_result(result, run) -> None:
    low, high = result.accuracy_ci95
    who = f"test signer {result.signer}" if result.signer else _split_words(run)
    print(
        f"{who}: accuracy {result.accuracy:.3f} (95% CI {low:.3f}-{high:.3f}, "
        f"{result.samples} samples), top-5 {result.top5_accuracy:.3f}, macro-F1 {result.macro_f1:.3f}"
    )
    if result.signs_not_in_training:
        print(f"not evaluated (no training signer performed them): {', '.join(result.signs_not_in_training)}")
    if result.out:
        print(f"written: {Path(result.out) / 'metrics.json'}, per_class.csv, confusion.png", file=sys.stderr)


def cmd_train(args) -> int:
    config, runtime = _train_settings(args)  # checked before the trainer (Lightning) is loaded

    from .learn.evaluation import evaluate, evaluate_members
    from .learn.training import train

    info = train(args.dataset, args.out, config, runtime)
    if info is None:  # another process of a multi-device run: rank 0 reports
        return 0
    result = evaluate(args.out)
    if info.members:
        alone = [r.accuracy for r in evaluate_members(args.out)]
        fitted = info.fusion_weights
        weighted = f", weighted {', '.join(f'{w:.2f}' for w in fitted)} (fitted on validation people)" if fitted else ""
        print(
            f"trained {len(alone)} {config.model} models on {', '.join(info.train_signers)} "
            f"({', '.join(info.members)}); each alone: {', '.join(f'{a:.3f}' for a in alone)}; "
            f"their average{weighted}:"
        )
    else:
        score = f"{info.best_score:.3f}" if info.best_score is not None else "n/a"
        chosen = (
            f"best {info.monitor} {score} at epoch {min(info.best_epoch, info.epochs_run - 1) + 1} of {info.epochs_run}"
            if info.monitor
            else f"{info.epochs_run} epochs, no validation data (the last weights kept)"
        )
        print(f"trained {config.model} on {', '.join(info.train_signers)}: {chosen}")
        if info.stopped_by == "time limit":
            print(
                f"the time limit stopped training after {info.epochs_run} of {config.recipe.epochs} epochs; "
                "rerun the same command to continue it"
            )
    _print_result(result, args.out)
    return 0


def cmd_evaluate(args) -> int:

    from .learn.evaluation import EvaluationConfig, evaluate

    rc = _recognition(args)
    ec = build(EvaluationConfig, _given(args, EvaluationConfig))
    result = evaluate(
        args.run, args.dataset, args.signer, tta=rc.tta, ensemble=rc.ensemble, out=args.out, adapt=ec.adapt
    )
    if args.json:
        print(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
        return 0
    _print_result(result, args.run)
    print(result.per_class.sort_values("f1").head(10).to_string(index=False))
    return 0


def cmd_cv(args) -> int:
    config, runtime = _train_settings(args, split="signer")  # checked before Lightning is loaded

    from .learn.training import cross_validate

    table, results = cross_validate(args.dataset, args.out, config, runtime, folds=args.folds)
    print(table.to_string(index=False))
    unseen = sorted({s for r in results for s in r.signs_not_in_training})
    if unseen:
        print(f"not evaluated in some folds (no training signer performed them): {', '.join(unseen)}")
    print(f"written: {Path(args.out) / 'cv.csv'}", file=sys.stderr)
    return 0


def _print_prediction(p) -> None:
    if p.status != "ok":
        print(f"{p.source}: {p.message}", flush=True)
        return
    print(f"{p.source}:")
    for sign_id, name, prob in p.top:
        print(f"  {prob:6.1%}  {name}  (id {sign_id})")
    sys.stdout.flush()


def cmd_predict(args) -> int:
    from .data.video import find_samples

    videos = find_samples(args.videos)
    if args.annotate and len(videos) != 1:
        raise SignposeError("--annotate writes one video: pass a single input video")
    rc = _recognition(args)
    rec = rc.recognizer(args.run)
    if args.annotate:
        preds = [rec.predict(videos[0], rc.top_k, annotate=args.annotate, force=args.force)]
    else:
        preds = []
        for p in rec.predict_many(videos, rc.top_k, workers=args.workers, progress=not args.json):
            preds.append(p)
            if not args.json:
                _print_prediction(p)
    if args.json:
        print(json.dumps([p.as_dict() for p in preds], ensure_ascii=False, indent=2))
    elif args.annotate:
        _print_prediction(preds[0])
        print(f"annotated video: {args.annotate}")
    return 0 if all(p.status != "error" for p in preds) else 1


def _print_transcript(t) -> None:
    if t.status != "ok":
        print(f"{t.source}: {t.message}", flush=True)
        return
    signs = ", ".join(f"{s['sign']} ({s['start']:.2f}-{s['end']:.2f} s)" for s in t.signs)
    print(f"{t.source}: {signs or 'no sign recognised'}", flush=True)


def cmd_transcribe(args) -> int:
    from .data.video import find_samples
    from .recognise.decoder import LiveConfig
    from .recognise.transcribe import transcribe_many

    config = LiveConfig.from_given(_given(args, LiveConfig))
    sources = find_samples(args.recordings, also=(".pose",))
    rec = _recognition(args).recognizer(args.run)
    done = []
    for t in transcribe_many(rec, sources, args.out, config, args.annotate, args.workers):
        done.append(t)
        _print_transcript(t)
    ok = sum(t.status == "ok" for t in done)
    print(f"signpose: {ok} of {len(done)} transcripts in {args.out}", file=sys.stderr)
    return 0 if ok == len(done) else 1


def cmd_serve(args) -> int:
    try:
        from .serve.app import serve
        from .serve.config import ServeConfig
    except ImportError as e:
        raise SignposeError(f"the web app needs {e.name}: pip install 'signpose[serve]' (make installs it)") from None

    config = build(ServeConfig, given(args))

    def announce(url: str) -> None:
        print(url, flush=True)
        where = (
            "this machine only; --host 0.0.0.0 lets other machines in (anyone who can reach it)"
            if config.host in ("127.0.0.1", "localhost", "::1")
            else f"every machine that can reach {config.host}"
        )
        print(f"signpose: serving {', '.join(args.run)} to {where}; Ctrl+C stops", file=sys.stderr, flush=True)

    serve(args.run, config, announce)
    return 0


def cmd_live(args) -> int:
    from .recognise.decoder import LiveConfig
    from .recognise.live import preview_window

    config = LiveConfig.from_given(_given(args, LiveConfig))
    rec = _recognition(args).recognizer(args.run)
    show = preview_window() if not args.headless and os.environ.get("DISPLAY") else None
    source = int(args.source) if str(args.source).isdigit() else args.source
    session = rec.live(source, config, on_frame=show)
    for event in session:
        minutes, seconds = divmod(event["time"], 60)
        print(
            f"{int(minutes):02d}:{seconds:05.2f}  {event['sign']}  {event['probability']:.2f}",
            flush=True,
        )
    print(session.summary())
    return 0


def cmd_export(args) -> int:
    from .recognise.decoder import LiveConfig

    live = _given(args, LiveConfig)
    if args.web:
        from .serve.site import export_site

        if args.out or args.force:
            raise SignposeError("--web writes a whole site; drop --out and --force (a re-export replaces the site)")
        site = export_site(args.run, args.web, LiveConfig.from_given(live))
        print(
            f"web site: {site['out']} ({site['files']} files, {site['bytes'] / 1e6:.1f} MB, {site['signs']} signs); "
            f"host it with any static file server, e.g. python -m http.server -d {site['out']}"
        )
        return 0
    from .recognise.recognizer import Recognizer

    if live:
        raise SignposeError("live settings are for --web (the site's stream decoder); drop them or add --web DIR")
    path = Recognizer.from_run(args.run).export_onnx(args.out, force=args.force)
    print(f"ONNX model: {path} (feature settings in the .features.json / features.json beside it)")
    return 0


def cmd_demo(args) -> int:
    from .demo import run_demo

    run_demo(args.out, epochs=args.epochs)
    return 0


# ---------------------------------------------------------------------------------------
# The parser: each command's arguments, its settings flags generated from declarations
# ---------------------------------------------------------------------------------------


def _append_arg(p) -> None:
    p.add_argument(
        "--append",
        action="store_true",
        help="add to a dataset made from another source or with other settings (refused otherwise)",
    )


def _extract_args(p) -> None:
    from .data.layouts import layout_names
    from .extract.backends import BACKENDS as EXTRACT_BACKENDS

    p.add_argument("videos", help="folder of sign videos or frame folders")
    p.add_argument("--out", required=True, help="dataset folder to write (a rerun resumes)")
    _append_arg(p)
    p.add_argument(
        "--layout",
        choices=layout_names(),
        default="folders",
        help="how the folder is organised (`signpose layouts`); auto: the layout that recognises it",
    )
    p.add_argument("--labels", help="sign names: KArSL CSV (SignID,Sign) or labels.xlsx")
    p.add_argument("--workers", type=_positive_int, help="processes (default: all cores)")
    p.add_argument("--signer", help="signer name for a one-signer folders layout")
    p.add_argument("--retry-failed", action="store_true", help="retry samples that failed before")
    p.add_argument("--limit", type=_positive_int, help="only the first N samples (a quick look)")
    p.add_argument("--backend", choices=EXTRACT_BACKENDS, default="local", help="process pool here, or Ray")
    p.add_argument(
        "--address",
        help="Ray cluster address (e.g. ray://head:10001 or auto); default: a local Ray",
    )


def _extract_settings(p) -> None:
    from .extract.holistic import ExtractionConfig

    add_flags(p, ExtractionConfig, title="MediaPipe settings")


def _record_args(p) -> None:
    p.add_argument("--camera", default="0", help="camera index, stream URL or a video file (default 0)")
    p.add_argument("--signer", required=True, help="who signs (the dataset's signer)")
    p.add_argument("--signs", required=True, help="the signs' names, separated by commas (any script)")
    p.add_argument("--out", required=True, help="dataset folder (a rerun resumes at the first take missing)")
    p.add_argument("--headless", action="store_true", help="no preview window")


def _record_settings(p) -> None:
    from .extract.holistic import ExtractionConfig
    from .extract.record import RecordConfig

    add_flags(p, RecordConfig, title="recording settings")
    add_flags(p, ExtractionConfig, title="MediaPipe settings")


def _info_args(p) -> None:
    p.add_argument("dataset")
    p.add_argument("--json", action="store_true")


def _synth_args(p) -> None:
    p.add_argument("--out", required=True)
    _append_arg(p)
    p.add_argument("--signers", type=_positive_int, default=3)
    p.add_argument("--signs", type=_positive_int, default=10)
    p.add_argument("--reps", type=_positive_int, default=20)
    p.add_argument("--seed", type=int, default=0)


def _import_args(p) -> None:
    p.add_argument("format", choices=["mpdata", "npz", "kaggle", "pose"])
    p.add_argument("source", help="the folder (or file: npz, kaggle's train.csv) to import")
    p.add_argument("--out", required=True)
    _append_arg(p)
    p.add_argument("--signer", help="mpdata without a signer level: the signer's name")
    p.add_argument("--labels", help="mpdata, npz: sign names (KArSL's labels.xlsx or a CSV SignID,Sign)")
    p.add_argument("--mapping", help="pose: CSV with columns file,signer,sign")


def _features_settings(p) -> None:
    from .model.features import FeatureConfig

    add_flags(p, FeatureConfig, title="feature settings")


def _export_arrays_args(p) -> None:
    p.add_argument("dataset")
    p.add_argument("--out", required=True)


def _models_args(p) -> None:
    p.add_argument("--classes", type=_positive_int, default=100, help="number of signs (default 100)")


def _train_args(p) -> None:
    p.add_argument("dataset", help="dataset folder (from extract, synth or import)")
    p.add_argument("--out", required=True, help="run folder to write (an unfinished run there is resumed)")
    p.add_argument("--config", help="a JSON TrainConfig (e.g. a run's config.json); flags override it")


def _cv_args(p) -> None:
    _train_args(p)
    p.add_argument(
        "--folds",
        type=_positive_int,
        help="group the signers into this many test groups of about equal size, each signer tested once "
        "(default: one fold per signer)",
    )


def _train_settings_flags(p, exclude: tuple[str, ...] = ()) -> None:
    from .learn.runtime import RuntimeConfig
    from .model.config import TrainConfig

    add_flags(p, TrainConfig, defaults=build(TrainConfig), exclude=exclude, title="run settings")
    add_flags(p, RuntimeConfig, title="runtime settings (not part of the run: free to change on resume)")


def _evaluate_args(p) -> None:
    p.add_argument("run")
    p.add_argument("--dataset", help="evaluate on another dataset folder")
    p.add_argument("--signer", help="evaluate on this signer (written into RUN/eval/<signer>/)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--out", help="write the metrics, tables and pictures into this folder instead of the run")


def _recognition_settings(p, exclude: tuple[str, ...] = ()) -> None:
    from .recognise.config import RecognitionConfig

    add_flags(p, RecognitionConfig, exclude=exclude, title="recognition settings")


def _given(args, cls) -> dict:
    """The flags given that belong to settings class `cls` (a command may take two)."""
    return {k: v for k, v in given(args).items() if k in cls.model_fields}


def _evaluate_settings(p) -> None:
    from .learn.evaluation import EvaluationConfig

    _recognition_settings(p, exclude=("backend", "top_k"))
    add_flags(p, EvaluationConfig, title="evaluation settings")


def _recognition(args):
    """The recognition settings given as flags (backend, tta, ensemble, top_k)."""
    from .recognise.config import RecognitionConfig

    return build(RecognitionConfig, _given(args, RecognitionConfig))


def _predict_args(p) -> None:
    p.add_argument("run")
    p.add_argument("videos", nargs="+", help="video files, frame folders, or folders of videos")
    p.add_argument("--json", action="store_true")
    p.add_argument("--annotate", help="write the video with landmarks and the sign to this .mp4")
    p.add_argument("--force", action="store_true", help="let --annotate replace an existing file")
    p.add_argument("--workers", type=_positive_int, help="extraction processes for many videos")


def _transcribe_args(p) -> None:
    p.add_argument("run")
    p.add_argument("recordings", nargs="+", help="videos, frame folders, .pose files, or folders of them")
    p.add_argument("--out", required=True, help="folder for NAME.json and NAME.vtt (and NAME.mp4)")
    p.add_argument("--annotate", action="store_true", help="also write each video with the running transcript")
    p.add_argument("--workers", type=_positive_int, help="extraction processes for many videos")


def _live_args(p) -> None:
    p.add_argument("run")
    p.add_argument("--source", default="0", help="camera index, video file or stream URL")
    p.add_argument("--headless", action="store_true", help="print timestamped predictions, no window")


def _live_settings(p) -> None:
    from .recognise.decoder import LiveConfig

    add_flags(p, LiveConfig, title="live settings")
    _recognition_settings(p, exclude=("top_k",))


def _serve_args(p) -> None:
    p.add_argument("run", nargs="+", help="one or more runs (one MediaPipe extraction); the page offers a choice")


def _serve_settings(p) -> None:
    from .serve.config import ServeConfig

    add_flags(p, ServeConfig, title="server settings")


def _export_args(p) -> None:
    p.add_argument("run")
    p.add_argument("--out", help="the .onnx file to write (default RUN/model.onnx)")
    p.add_argument("--force", action="store_true", help="let --out replace an existing file")
    p.add_argument(
        "--web",
        metavar="DIR",
        help="write a static web site instead: the page, MediaPipe, ONNX Runtime Web and the model, classifying "
        "on the visitor's device with no server (installable, works offline)",
    )


def _export_settings(p) -> None:
    from .recognise.decoder import LiveConfig

    add_flags(p, LiveConfig, title="live settings (--web: the site's stream decoder)")


def _demo_args(p) -> None:
    p.add_argument("--out", default="demo-output")
    p.add_argument("--epochs", type=_positive_int, default=25)


def _nothing(p) -> None:
    pass


@dataclass(frozen=True)
class Command:
    help: str
    run: Callable[[argparse.Namespace], int]
    arguments: Callable[[argparse.ArgumentParser], None] = _nothing  # cheap: no heavy imports
    settings: Callable[[argparse.ArgumentParser], None] = _nothing  # flags generated from declarations


COMMANDS: dict[str, Command] = {
    "extract": Command(
        "MediaPipe Holistic keypoints from sign videos into a dataset folder",
        cmd_extract,
        _extract_args,
        _extract_settings,
    ),
    "record": Command(
        "record your own signs from a camera into a dataset: countdown, takes, resumable",
        cmd_record,
        _record_args,
        _record_settings,
    ),
    "info": Command("signers x signs, frames, detection rates of a dataset", cmd_info, _info_args),
    "layouts": Command("the folder layouts extract reads (KArSL, LSA64, AUTSL, WLASL, ...)", cmd_layouts),
    "synth": Command("generate a synthetic multi-signer dataset", cmd_synth, _synth_args),
    "import": Command(
        "import mpdata (seed .npy per frame), npz, kaggle (asl-signs) or pose files",
        cmd_import,
        _import_args,
    ),
    "export-arrays": Command(
        "write X.npy, y.npy, signer.npy like the notebook's arrays",
        cmd_export_arrays,
        _export_arrays_args,
        _features_settings,
    ),
    "models": Command(
        "the registered models with their parameter counts",
        cmd_models,
        _models_args,
        _features_settings,
    ),
    "recipes": Command("the registered training recipes with their values", cmd_recipes),
    "settings": Command("every setting of every command: flag, allowed values, default (Markdown)", cmd_settings),
    "train": Command(
        "train a model signer-independently, then evaluate it",
        cmd_train,
        _train_args,
        _train_settings_flags,
    ),
    "evaluate": Command(
        "metrics, per-class table and confusion matrix of a run",
        cmd_evaluate,
        _evaluate_args,
        _evaluate_settings,
    ),
    "cv": Command(
        "signer-independent cross-validation: one run per signer (or --folds groups), mean ± std",
        cmd_cv,
        _cv_args,
        lambda p: _train_settings_flags(p, exclude=("split", "test_signer")),
    ),
    "predict": Command("recognise the sign in videos", cmd_predict, _predict_args, _recognition_settings),
    "live": Command(
        "recognise continuously from a camera, video file or stream",
        cmd_live,
        _live_args,
        _live_settings,
    ),
    "transcribe": Command(
        "the signs of recordings, one after another, with times: JSON, WebVTT captions, video",
        cmd_transcribe,
        _transcribe_args,
        _live_settings,
    ),
    "export": Command(
        "export a run's model for deployment: ONNX, or a static web site that runs on the device",
        cmd_export,
        _export_args,
        _export_settings,
    ),
    "serve": Command(
        "the web app: recognise from the camera or an uploaded video in the browser, and an HTTP API",
        cmd_serve,
        _serve_args,
        _serve_settings,
    ),
    "demo": Command("the whole job on synthetic data, in minutes", cmd_demo, _demo_args),
}


def build_parser(only: str | None = None, settings: bool = True) -> argparse.ArgumentParser:
    """The parser; with `only`, just that command gets its arguments, and its settings
    flags (which import the stage that declares them) unless `settings` is False."""
    from . import __version__

    parser = parser_class()(prog="signpose", description="Pose-based isolated sign language recognition.")
    parser.add_argument("--version", action="version", version=f"signpose {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=parser_class())
    for name, command in COMMANDS.items():
        p = sub.add_parser(name, help=command.help, description=command.help)
        if only is None or only == name:
            command.arguments(p)
            if settings:
                command.settings(p)
        p.set_defaults(func=command.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    only = next((a for a in argv if not a.startswith("-")), None)
    only = only if only in COMMANDS else ""
    try:
        if only and not {"-h", "--help"} & set(argv):
            # A missing argument or a bad choice is reported before the settings' stage is
            # imported (which takes seconds); the full parse below checks the rest.
            build_parser(only, settings=False).parse_known_args(argv)
        args = build_parser(only).parse_args(argv)
        code = args.func(args)
        sys.stdout.flush()  # a reader that left (`| head`) is found here, not at exit
        return code
    except SignposeError as e:
        print(f"{ERROR_PREFIX}{e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "signpose: interrupted; finished work is on disk, rerun the same command to resume",
            file=sys.stderr,
        )
        return 130
    except BrokenPipeError:  # `signpose info DATASET | head`: the reader left; not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 0
    except OSError as e:  # after BrokenPipeError, which is one too
        if not is_environment_error(e):
            raise
        print(f"{ERROR_PREFIX}{environment_error(e)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
