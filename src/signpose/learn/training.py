"""Training runs: one model (check, then fit, then record), an ensemble of seeds or
streams, and signer-independent cross-validation, each into run folders (the layout is in
`signpose.model.runs`). The recipe (`signpose.model.recipes`) says how; the Lightning
module, callbacks and trainer are in `signpose.learn.lightning`."""

from __future__ import annotations

import io
import logging
import os
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import numpy as np
import torch

from ..data.dataset import Dataset, write_table
from ..data.writer import FolderLock, check_not_being_written
from ..errors import SignposeError
from ..model.architectures import SignClassifier, count_parameters
from ..model.config import TrainConfig
from ..model.features import FeaturePipeline, PointData
from ..model.runs import RunInfo, load_config, load_run_info, load_weights
from ..settings import build, save_json
from ..util import (
    atomic_write_bytes,
    atomic_write_json,
    available_cpus,
    check_output,
    check_output_folder,
)
from .augmentation import Augmenter
from .batches import PointBatches, make_loader
from .evaluation import EvalResult, evaluate, mean_std_table
from .finetune import FreezeBody, head_name, init_from_run
from .fusion import fit_run_weights, validation_people
from .lightning import (
    LitSignClassifier,
    check_recipe,
    early_stopped,
    make_callbacks,
    make_trainer,
    restore_log,
    set_log_aside,
)
from .plots import plot_curves
from .runtime import RuntimeConfig
from .splits import Split, make_split, signer_folds

# Lightning's own use of a deprecated torch API; nothing a user can act on.
warnings.filterwarnings("ignore", message=r".*LeafSpec.*")
# A resumed run writes into its own checkpoint folder: that is the point, not a mistake.
warnings.filterwarnings("ignore", message=r"Checkpoint directory .* exists and is not empty")
# A run that --max-minutes stopped continues without a time limit (its Timer is not needed).
warnings.filterwarnings("ignore", message=r"Be aware that when using `ckpt_path`, callbacks used")
# A moved run folder resumes with its own checkpoints (`make_callbacks`, `_record`).
warnings.filterwarnings("ignore", message=r"The dirpath has changed from")
# A run without validation data skips validation on purpose.
warnings.filterwarnings("ignore", message=r"You defined a `validation_step` but have no `val_dataloader`")


class RunLock:
    """One training process per run folder (the dataset lock's kind); the folder is made
    here, and removed again if nothing was written into it."""

    def __init__(self, out: Path):
        self.out = out
        self.lock = FolderLock(out, "run")

    def __enter__(self) -> RunLock:
        self.created = not self.out.exists()
        self.out.mkdir(parents=True, exist_ok=True)
        if os.environ.get("LOCAL_RANK", "0") == "0":  # the other processes of a multi-device run
            self.lock.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.lock.release()
        if self.created and not any(self.out.iterdir()):
            self.out.rmdir()


def _check_resumable(out: Path, config: TrainConfig, dataset: Dataset) -> bool:
    """True when OUT holds this run finished. Refuses a run made with other settings or on
    another dataset, and a checkpoint that cannot be resumed from (before anything is
    written). A run that its time limit stopped is not finished: it continues."""
    last = out / "checkpoints" / "last.ckpt"
    begun = last.is_file() or (out / "run.json").is_file()
    if not ((out / "config.json").is_file() and begun):
        return False
    record = load_run_info(out) if (out / "run.json").is_file() else None  # read once, used twice
    if record is not None:
        trained_on = record.dataset_path(out)
        if trained_on.resolve() != Path(dataset.root).resolve():
            raise SignposeError(f"{out}: holds a run trained on {trained_on}, not {dataset.root}; choose a new --out")
    # Compared as resolved settings, so a run saved before a setting was added (with a
    # default that changes nothing) is still the same run.
    previous = load_config(out).model_dump(mode="json")
    current = config.model_dump(mode="json")
    if previous != current:
        differ = sorted(k for k in current if previous.get(k) != current[k])
        raise SignposeError(
            f"{out}: holds a run made with other settings (differing: {', '.join(differ)}); "
            "rerun with its config.json to resume it, or choose a new --out"
        )
    if config.seeds > 1 or config.streams:
        return record is not None  # an ensemble's record is written last, once all its models are
    finished = record is not None and (out / "model.pt").is_file()
    if finished and not (record.stopped_by == "time limit" and last.is_file()):
        return True
    if not last.is_file():
        return False
    try:
        load_weights(last)  # checked here: Lightning's own message would advise unpickling it
    except SignposeError:
        raise SignposeError(
            f"{last}: cannot resume from this checkpoint (truncated or damaged); delete it to train "
            "this run again from the start"
        ) from None
    return False


@dataclass
class _Checked:
    """A run with everything checked (settings, dataset, split, model) and nothing written."""

    dataset: Dataset
    pipeline: FeaturePipeline
    data: PointData
    split: Split
    held: list[str]
    classifier: SignClassifier
    started_from: str = ""  # what --init-from kept, said when training starts


def train(
    dataset_path: str | Path,
    out: str | Path,
    config: TrainConfig,
    runtime: RuntimeConfig | None = None,
    progress: bool = True,
) -> RunInfo | None:
    """Train one model; resumes from RUN/checkpoints/last.ckpt when it exists. Everything
    is checked (settings, dataset, split) before the run folder is created: check, then
    fit, then record. Returns the run record (None in the other processes of a
    multi-device run)."""
    config, runtime = build(TrainConfig, config), build(RuntimeConfig, runtime)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise SignposeError(f"{out}: is a file; --out must be a run folder (new, or one to resume)")
    check_output_folder(out, "--out", (dataset_path,), kind="run")
    if config.init_from and Path(config.init_from).resolve() == out.resolve():
        raise SignposeError(f"{out}: --init-from is the run being trained; start from another run")
    if runtime.progress_file:
        _check_progress_file(Path(runtime.progress_file), (Path(dataset_path), out))
    dataset = Dataset(dataset_path)
    check_not_being_written(dataset.root)
    if _check_resumable(out, config, dataset):
        return load_run_info(out)  # finished before with the same settings: nothing to do
    if config.seeds > 1 or config.streams:
        return _train_ensemble(dataset, out, config, runtime, progress)
    run = _check(dataset, config)
    with RunLock(out):
        return _fit(out, run, config, runtime, progress)


def _check_progress_file(path: Path, folders: tuple[Path, ...]) -> None:
    """--progress-file is a JSON file of its own, rewritten every epoch: not a folder, in a
    folder that exists, and never inside the dataset or the run (their files are theirs)."""
    check_output(path, "--progress-file", suffixes=(".json",), force=True)
    for folder in folders:
        if folder.resolve() in path.resolve().parents:
            raise SignposeError(f"{path}: --progress-file is inside {folder}; write it outside the dataset and the run")
    if not path.resolve().parent.is_dir():
        raise SignposeError(
            f"{path}: --progress-file's folder {path.parent} does not exist; create it or choose another"
        )


def _check(dataset: Dataset, config: TrainConfig) -> _Checked:
    where = dataset.root
    dataset.require_samples()
    pipeline = FeaturePipeline(config.features)
    data = pipeline.load(dataset)
    if not len(data.rows):
        raise SignposeError(f"{where}: none of its pose files can be read; re-create the dataset")
    if not np.isfinite(data.points).all():  # a NaN input trains a NaN model that reports itself fine
        raise SignposeError(f"{where}: keypoints with NaN or inf values; re-import it with this signpose")
    split = make_split(data.rows, config)
    if len(split.train) == 0 or len(split.test) == 0:
        raise SignposeError(f"{where}: the split {split.name} leaves no training or no test samples")
    if len(split.classes) < 2:
        raise SignposeError(f"{where}: the training signers have {len(split.classes)} sign; need at least 2")
    recipe = config.recipe
    if not len(split.val) and recipe.needs_validation:
        needs = "stops early" if recipe.early_stopping else "keeps the best weights"
        raise SignposeError(
            f"--val-fraction 0 leaves no validation data, and the {recipe.name} recipe {needs} by {recipe.monitor}; "
            "add --no-early-stopping --keep last (and --epochs N), or keep some validation"
        )
    L.seed_everything(config.seed, workers=True, verbose=False)  # the initial weights follow the seed
    classifier = SignClassifier(config.model, pipeline, len(split.classes), config.model_options)
    check_recipe(config.recipe, classifier, config.model)
    note = init_from_run(classifier, config.init_from, split.classes, config) if config.init_from else ""
    return _Checked(dataset, pipeline, data, split, split.validation_signers(data.rows), classifier, note)


def _validation_note(split: Split, held: list[str]) -> str:
    if not len(split.val):
        return (
            "signpose: every training signer trains (no validation people: fixed epochs, the last weights "
            "kept; --val-fraction 0.2 to validate)"
        )
    if held:
        return f"signpose: validation on held-out training signers {', '.join(held)}"
    return (
        "signpose: validation on a share of the training signers' own samples: signer-dependent, so "
        "it overstates accuracy on new people (3 or more training signers allow --validation signers)"
    )


def _fit(out: Path, run: _Checked, config: TrainConfig, runtime: RuntimeConfig, progress: bool) -> RunInfo | None:
    # Lightning's start-up banners (GPU/TPU availability, tips) say nothing a user needs here.
    logging.getLogger("lightning.pytorch.utilities.rank_zero").setLevel(logging.WARNING)
    torch.set_num_threads(available_cpus())
    recipe, data, split = config.recipe, run.data, run.split
    labels = split.labels(data.rows)
    augmenter = Augmenter(config.augment, run.pipeline.set, seed=config.seed) if config.augment.active else None
    trained_on = split.training_signers(data.rows)
    train_loader = make_loader(
        PointBatches(data, labels, split.train, split.signer_indices(data.rows)),
        recipe.batch_size,
        augmenter,
        True,
        config.seed,
        runtime.num_workers,
    )
    # Without validation data nothing is validated (earlier versions validated on the
    # training samples and logged that as validation accuracy).
    validating = len(split.val) > 0
    val_loader = (
        make_loader(PointBatches(data, labels, split.val), 256, None, False, config.seed) if validating else None
    )
    callbacks, best = make_callbacks(recipe, out, len(train_loader), progress, validating, runtime.progress_file)
    if config.freeze_epochs:
        callbacks.append(FreezeBody(config.freeze_epochs, head_name(run.classifier)))
    resume = out / "checkpoints" / "last.ckpt"
    log = out / "logs" / "csv" / "metrics.csv"
    if resume.is_file():
        set_log_aside(log)  # Lightning's CSV logger deletes it when a run resumes
    trainer = make_trainer(out, recipe, runtime, callbacks, len(train_loader), validating)
    save_json(config, out / "config.json")
    if split.test_signer is not None:  # said once everything is checked
        print(_validation_note(split, run.held), file=sys.stderr)
    if recipe.signer_adversary > 0 and len(trained_on) < 2:
        print(
            "signpose: warning: --signer-adversary needs 2 or more training signers, this run has one: "
            "it trains without (nobody to hide)",
            file=sys.stderr,
        )
    if run.started_from and not resume.is_file():
        print(run.started_from, file=sys.stderr)
    started = time.perf_counter()
    try:
        trainer.fit(
            LitSignClassifier(run.classifier, recipe, len(trained_on)),
            train_loader,
            val_loader,
            ckpt_path=resume if resume.is_file() else None,
            weights_only=True,
        )
    finally:
        restore_log(log)
    seconds = time.perf_counter() - started
    if not trainer.is_global_zero:
        return None
    stopped_by = "time limit" if trainer.current_epoch < recipe.epochs and not early_stopped(callbacks) else ""
    return _record(out, run, best, recipe, trainer, seconds, runtime, stopped_by)


def _record(out, run: _Checked, best, recipe, trainer, seconds, runtime, stopped_by) -> RunInfo:
    """After fitting: the kept weights as model.pt, run.json, the curves."""
    dataset, data, split, classifier = run.dataset, run.data, run.split, run.classifier
    validating = len(split.val) > 0
    last = out / "checkpoints" / "last.ckpt"
    # best.ckpt in this folder (Lightning's own record of the best path names the folder the
    # run began in, stale once it is moved); none without validation data.
    best_path = out / "checkpoints" / "best.ckpt"
    best_path = best_path if validating and best_path.is_file() else None
    kept = best_path if recipe.keep == "best" and best_path is not None else last
    checkpoint = load_weights(kept)
    best_epoch = (
        load_weights(best_path).get("epoch", -1) if best_path not in (None, kept) else checkpoint.get("epoch", -1)
    )
    state = checkpoint["state_dict"]
    classifier.load_state_dict(
        {k.removeprefix("classifier."): v for k, v in state.items() if k.startswith("classifier.")}
    )
    buffer = io.BytesIO()
    torch.save(classifier.state_dict(), buffer)
    atomic_write_bytes(out / "model.pt", buffer.getvalue())

    info = RunInfo(
        **RunInfo.paths_for(dataset.root, out),
        classes=split.classes,
        names=[dataset.sign_names.get(c, c) for c in split.classes],
        split=split.name,
        test_signer=split.test_signer,
        train_signers=split.training_signers(data.rows),
        validation_signers=run.held,
        signs_not_in_training=split.dropped_from_test,
        samples={"train": len(split.train), "val": len(split.val), "test": len(split.test)},
        test_samples=list(data.rows["sample"].iloc[split.test]),
        parameters=count_parameters(classifier),
        best_epoch=int(best_epoch),
        monitor=recipe.monitor if validating else "",  # "": no validation data
        best_score=float(best.best_model_score) if best.best_model_score is not None else None,
        kept=recipe.keep,
        epochs_run=trainer.current_epoch,
        stopped_by=stopped_by,
        train_seconds=round(seconds, 2),
        extraction=dataset.meta.get("extraction"),
        runtime=runtime.model_dump(mode="json"),
    )
    info.save(out)
    plot_curves(out)
    return info


def _train_ensemble(
    dataset: Dataset, out: Path, config: TrainConfig, runtime: RuntimeConfig, progress: bool
) -> RunInfo | None:
    """One model per seed and per stream in its own folder under OUT (each resumable on its
    own), then the run record that names them; written last, so a finished ensemble is one
    whose run.json exists. Their probabilities are averaged wherever the run is used (with
    --fusion validation, weighted as fitted on the validation people)."""
    members = config.members()
    if config.fusion == "validation":
        held = validation_people(dataset, config)  # refused before any model is trained
    infos = []
    for n, (name, member) in enumerate(members, 1):
        what = f"seed {member.seed}" + (f", stream {member.features.stream}" if config.streams else "")
        print(f"signpose: model {n} of {len(members)} ({what}) in {out / name}", file=sys.stderr)
        infos.append(train(dataset.root, out / name, member, runtime, progress))
    if None in infos:  # another process of a multi-device run: rank 0 writes the record
        return None
    weights = fit_run_weights(dataset, out, config) if config.fusion == "validation" else []
    if weights:
        said = ", ".join(f"{name} {w:.2f}" for (name, _), w in zip(members, weights, strict=True))
        print(f"signpose: fusion weights fitted on validation people {', '.join(held)}: {said}", file=sys.stderr)
    save_json(config, out / "config.json")
    info = infos[0].model_copy(
        update={
            **RunInfo.paths_for(dataset.root, out),
            "members": [name for name, _ in members],
            "fusion_weights": weights,
            "parameters": sum(i.parameters for i in infos),
            "train_seconds": round(sum(i.train_seconds for i in infos), 2),
        }
    )
    info.save(out)
    return info


def cross_validate(
    dataset_path: str | Path,
    out: str | Path,
    config: TrainConfig,
    runtime: RuntimeConfig | None = None,
    progress: bool = True,
    folds: int | None = None,
) -> tuple:
    """Signer-independent cross-validation: leave-one-signer-out (one run per signer under
    OUT/test-<signer>) or, with `folds`, signers grouped into that many test groups of
    about equal size (OUT/test-<a>+<b>...), every signer tested once; then a table with
    one row per fold and mean ± std (OUT/cv.csv, OUT/cv.json)."""
    config = build(TrainConfig, config)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise SignposeError(f"{out}: is a file; --out must be a folder for the fold runs")
    check_output_folder(out, "--out", (dataset_path,))
    dataset = Dataset(dataset_path)
    check_not_being_written(dataset.root)
    dataset.require_samples()
    if len(dataset.signers) < 2:
        raise SignposeError(
            f"{dataset_path}: cross-validation by signer needs at least two signers, this dataset has "
            f"{len(dataset.signers)}; use `signpose train --split mixed` for a signer-dependent model"
        )
    groups = signer_folds(dataset.rows, folds) if folds else [[s] for s in dataset.signers]
    results: list[EvalResult] = []
    for group in groups:
        fold = config.replace(test_signer=",".join(group), split="signer")
        run = out / f"test-{'+'.join(group)}"
        train(dataset_path, run, fold, runtime, progress=progress)
        results.append(evaluate(run))
    table = mean_std_table(results)
    write_table(out / "cv.csv", table)
    atomic_write_json(out / "cv.json", [r.as_dict() for r in results])
    return table, results
