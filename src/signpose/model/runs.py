"""A run folder, as evaluation and recognition read it: the typed run record and the
trained classifier. Loading a run does not import the trainer (no Lightning).

    RUN/
      config.json       the resolved TrainConfig: the run can be repeated from it
      run.json          RunInfo: classes and names, dataset, split, results
      model.pt          the kept weights (a plain state dict, loaded with weights_only=True)
      checkpoints/      Lightning's best.ckpt and last.ckpt (a rerun resumes from last)
      logs/             TensorBoard and CSV metrics
      curves.png        loss and accuracy per epoch
      metrics.json ...  the test signer's evaluation; eval/<signer>/ for other signers

An ensemble (`train --seeds N`) is a run folder whose config.json and run.json name its
models, RUN/seed<S>/ (or RUN/<stream>/ for `--streams`), each a run folder as above;
recognising with it averages their probabilities (weighted by run.json's fusion_weights
when they were fitted on validation people).
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from .. import __version__
from ..errors import SignposeError
from ..settings import build, load_json
from ..util import atomic_write_json
from .architectures import SignClassifier
from .config import TrainConfig
from .features import FeaturePipeline

RUN_FORMAT = 1


class RunInfo(BaseModel):
    """run.json: what a trained run is and what recognition needs from it."""

    model_config = ConfigDict(extra="ignore")

    format: int = RUN_FORMAT
    signpose: str = __version__
    dataset: str  # absolute path
    dataset_from_run: str = ""  # the same, relative to the run folder (for a moved tree)
    classes: list[str]
    names: list[str]
    split: str
    test_signer: str | None = None
    train_signers: list[str]
    validation_signers: list[str] = []  # training signers held out whole for validation
    signs_not_in_training: list[str] = []
    samples: dict[str, int] = {}
    test_samples: list[str] = []
    parameters: int = 0
    best_epoch: int = -1
    monitor: str = ""
    best_score: float | None = None
    kept: str = "best"
    epochs_run: int = 0
    stopped_by: str = ""  # "time limit" (--max-minutes): a rerun continues the run
    train_seconds: float = 0.0
    extraction: dict[str, Any] | None = None
    runtime: dict[str, Any] = {}
    members: list[str] = []  # an ensemble's model folders, relative to the run folder
    fusion_weights: list[float] = []  # one per member, fitted on validation people ([]: equal)

    @model_validator(mode="after")
    def _one_name_per_class(self) -> RunInfo:
        if len(self.names) != len(self.classes):
            raise ValueError(f"{len(self.names)} names for {len(self.classes)} classes")
        return self

    @model_validator(mode="after")
    def _one_weight_per_member(self) -> RunInfo:
        w = self.fusion_weights
        if w and (len(w) != len(self.members) or min(w) < 0 or abs(sum(w) - 1) > 1e-3):
            raise ValueError(f"fusion weights {w} are not one non-negative weight per member summing to 1")
        return self

    def member_weights(self) -> list[float]:
        """How much each model of the run counts: its fitted weights, or equal."""
        n = len(self.members) or 1
        return self.fusion_weights or [1 / n] * n

    def member_paths(self, run: Path) -> list[Path]:
        """The run folders whose models recognise for this run: its members, or itself."""
        return [Path(run) / m for m in self.members] or [Path(run)]

    def save(self, run: Path) -> None:
        atomic_write_json(Path(run) / "run.json", self.model_dump(mode="json"))

    def dataset_path(self, run: Path) -> Path:
        """The dataset: where it was, or where it is relative to the run (a moved tree)."""
        recorded = Path(self.dataset)
        if recorded.is_dir() or not self.dataset_from_run:
            return recorded
        moved = (Path(run) / self.dataset_from_run).resolve()
        return moved if moved.is_dir() else recorded

    @staticmethod
    def paths_for(dataset: Path, run: Path) -> dict[str, str]:
        absolute = Path(dataset).resolve()
        return {
            "dataset": str(absolute),
            "dataset_from_run": os.path.relpath(absolute, Path(run).resolve()),
        }


def load_run_info(run: str | Path) -> RunInfo:
    run = Path(run)
    path = run / "run.json"
    if not path.is_file():
        what = "no such folder" if not run.exists() else "not a training run (no run.json)"
        raise SignposeError(f"{run}: {what}; train one with `signpose train`")
    data = load_json(path)
    if data.get("format") != RUN_FORMAT:
        raise SignposeError(
            f"{run}: run format {data.get('format')} is not supported by signpose {__version__} "
            f"(expects {RUN_FORMAT}); retrain with this version"
        )
    try:
        return RunInfo.model_validate(data)
    except ValidationError as e:
        where = ".".join(map(str, e.errors()[0]["loc"])) or "record"
        raise SignposeError(f"{path}: damaged run record ({where}: {e.errors()[0]['msg']})") from None


def load_config(run: str | Path) -> TrainConfig:
    """A run's saved settings, resolved: settings added since it was saved take their defaults."""
    path = Path(run) / "config.json"
    data = load_json(path)  # names the file itself when missing or broken
    try:
        return build(TrainConfig, data)
    except SignposeError as e:
        raise SignposeError(f"{path}: {e}") from None


class LoadedRun(NamedTuple):
    """A trained model as a run folder holds it: the classifier (which carries its feature
    pipeline), the run's record and its settings."""

    classifier: SignClassifier
    info: RunInfo
    config: TrainConfig

    @property
    def pipeline(self) -> FeaturePipeline:
        return self.classifier.pipeline


def load_classifier(run: str | Path) -> LoadedRun:
    """The trained classifier of a run folder (weights only: nothing is unpickled)."""
    run = Path(run)
    info = load_run_info(run)
    config = load_config(run)
    weights = run / "model.pt"
    if not weights.is_file():
        raise SignposeError(f"{run}: model.pt is missing; the run did not finish; rerun `signpose train` to resume it")
    classifier = SignClassifier(config.model, FeaturePipeline(config.features), len(info.classes), config.model_options)
    state = load_weights(weights)
    try:
        classifier.load_state_dict(state)
    except (RuntimeError, KeyError, TypeError) as e:
        first = str(e).strip().splitlines()[0][:200]
        raise SignposeError(f"{weights}: the weights do not fit the model in config.json ({first}); retrain") from None
    classifier.eval()
    return LoadedRun(classifier, info, config)


def load_weights(path: Path) -> dict:
    """A state dict saved with torch.save, read without unpickling code."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (
        pickle.UnpicklingError,
        zipfile.BadZipFile,
        EOFError,
        RuntimeError,
        OSError,
        ValueError,
    ) as e:
        # torch's own message here suggests weights_only=False, which would run code from the file.
        reason = "it holds more than tensors" if isinstance(e, pickle.UnpicklingError) else "truncated or damaged"
        raise SignposeError(f"{path}: cannot load these weights ({reason}); retrain the run") from None


def load_ensemble(runs: list[str | Path]) -> tuple[list[LoadedRun], np.ndarray]:
    """The models of several runs that recognise the same signs, to average their
    probabilities, and each model's weight in that average: a run trained with --seeds N
    or --streams gives its models; each run counts as many models as it has, and within a
    run its models count as its fusion weights say (equal unless fitted)."""
    infos = [load_run_info(run) for run in runs]
    first = infos[0]
    members = []
    weights = []
    for run, info in zip(runs, infos, strict=True):
        if info.classes != first.classes:
            raise SignposeError(
                f"{run}: an ensemble needs runs of the same signs; this one has {len(info.classes)} signs "
                f"({', '.join(info.classes[:3])}, ...) and {runs[0]} has {len(first.classes)}"
            )
        paths = info.member_paths(Path(run))
        members += [load_classifier(path) for path in paths]
        weights += [w * len(paths) for w in info.member_weights()]
    return members, np.array(weights) / len(members)
