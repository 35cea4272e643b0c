"""Training with Lightning, signer-independent by default, one run folder per run.

    RUN/
      config.json       the resolved TrainConfig: the run can be repeated from it
      run.json          classes and names, dataset, split, results: what recognition needs
      model.pt          the best weights (a plain state dict, loaded with weights_only=True)
      checkpoints/      Lightning's best.ckpt and last.ckpt (a rerun resumes from last)
      logs/             TensorBoard and CSV metrics
      curves.png        loss and accuracy per epoch
"""

from __future__ import annotations

import io
import json
import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from . import __version__
from .augmentation import Augmenter
from .config import AugmentConfig, TrainConfig, load_json, save_json, to_dict
from .dataset import Dataset, natural_key
from .errors import SignposeError
from .features import PointData, feature_set, load_points
from .keypoints import atomic_write_bytes, atomic_write_json
from .models import build_classifier, count_parameters, model_spec
from .splits import Split, mixed_split, signer_split

RUN_FORMAT = 1


def resolve(config: TrainConfig) -> TrainConfig:
    """Fill the model's defaults (the notebook's learning rates, batch sizes, patience)."""
    spec = model_spec(config.model)
    return replace(
        config,
        lr=config.lr if config.lr is not None else spec.lr,
        batch_size=config.batch_size if config.batch_size is not None else spec.batch_size,
        patience=config.patience if config.patience is not None else spec.patience,
        monitor=config.monitor or spec.monitor,
    )


class PointBatches(torch.utils.data.Dataset):
    """Indices into prepared points; batches are gathered and augmented in `collate`."""

    def __init__(self, data: PointData, labels: np.ndarray, indices: np.ndarray):
        self.points = torch.from_numpy(np.ascontiguousarray(data.points))
        self.mask = torch.from_numpy(np.ascontiguousarray(data.mask))
        self.labels = torch.from_numpy(labels.astype(np.int64))
        self.indices = torch.from_numpy(np.asarray(indices, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> int:
        return int(self.indices[i])


class Collate:
    """Gathers a batch by index and augments it in one vectorised call."""

    def __init__(self, source: PointBatches, augmenter: Augmenter | None):
        self.source = source
        self.augmenter = augmenter

    def __call__(self, idx: list[int]):
        idx_t = torch.tensor(idx)
        pts, mask = self.source.points[idx_t], self.source.mask[idx_t]
        if self.augmenter is not None:
            pts, mask = self.augmenter(pts, mask)
        return pts, mask, self.source.labels[idx_t]


def make_loader(source: PointBatches, batch_size: int, augmenter: Augmenter | None, shuffle: bool, seed: int,
                num_workers: int = 0):  # fmt: skip
    gen = torch.Generator().manual_seed(seed)
    return torch.utils.data.DataLoader(source, batch_size=batch_size, shuffle=shuffle, generator=gen,
                                       collate_fn=Collate(source, augmenter), num_workers=num_workers,
                                       persistent_workers=num_workers > 0)  # fmt: skip


def _lightning_module(classifier: torch.nn.Module, config: TrainConfig):
    import lightning as L

    class LitSignClassifier(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.classifier = classifier
            self.loss = torch.nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)

        def forward(self, pts, mask):
            return self.classifier(pts, mask)

        def _step(self, batch, stage: str):
            pts, mask, y = batch
            logits = self(pts, mask)
            loss = self.loss(logits, y)
            acc = (logits.argmax(-1) == y).float().mean()
            on_step = stage == "train"
            self.log(f"{stage}_loss", loss, on_step=False, on_epoch=True, prog_bar=not on_step, batch_size=len(y),
                     sync_dist=True)  # fmt: skip
            self.log(f"{stage}_acc", acc, on_step=False, on_epoch=True, prog_bar=True, batch_size=len(y), sync_dist=True)
            return loss

        def training_step(self, batch, _):
            return self._step(batch, "train")

        def validation_step(self, batch, _):
            return self._step(batch, "val")

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=config.lr, weight_decay=config.weight_decay)

    return LitSignClassifier()


def load_run_info(run: str | Path) -> dict:
    run = Path(run)
    info_path = run / "run.json"
    if not info_path.is_file():
        raise SignposeError(f"{run}: not a training run (no run.json); train one with `signpose train`")
    info = json.loads(info_path.read_text("utf-8"))
    if info.get("format") != RUN_FORMAT:
        raise SignposeError(
            f"{run}: run format {info.get('format')} is not supported by signpose {__version__} "
            f"(expects {RUN_FORMAT}); retrain with this version"
        )
    return info


def load_classifier(run: str | Path) -> tuple[torch.nn.Module, dict, TrainConfig]:
    """The trained classifier of a run folder (weights only: nothing is unpickled)."""
    run = Path(run)
    info = load_run_info(run)
    config = load_json(TrainConfig, run / "config.json")
    weights = run / "model.pt"
    if not weights.is_file():
        raise SignposeError(f"{run}: model.pt is missing; the run did not finish; rerun `signpose train` to resume it")
    classifier = build_classifier(config.model, config.features, len(info["classes"]), config.model_options)
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
        classifier.load_state_dict(state)
    except Exception as e:
        raise SignposeError(f"{weights}: weights do not fit the model in config.json ({type(e).__name__}); retrain") from None
    classifier.eval()
    return classifier, info, config


def prepare_split(dataset: Dataset, data: PointData, config: TrainConfig) -> Split:
    rows = data.rows
    if config.split == "mixed":
        return mixed_split(rows, config.val_fraction, seed=config.seed)
    signers = sorted(rows.signer.unique(), key=natural_key)
    test = config.test_signer or signers[-1]
    return signer_split(rows, test, config.val_fraction, config.seed)


def train(dataset_path: str | Path, out: str | Path, config: TrainConfig, progress: bool = True) -> dict:
    """Train one model; resumes from RUN/checkpoints/last.ckpt when it exists."""
    import logging

    import lightning as L
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

    # Lightning's start-up banners (GPU/TPU availability, tips) say nothing a user needs here.
    logging.getLogger("lightning.pytorch.utilities.rank_zero").setLevel(logging.WARNING)
    config = resolve(config)
    out = Path(out)
    dataset = Dataset(dataset_path)
    if (out / "config.json").is_file() and (out / "checkpoints" / "last.ckpt").is_file():
        previous, current = to_dict(load_json(TrainConfig, out / "config.json")), to_dict(config)
        if previous != current:
            differ = sorted(k for k in current if previous.get(k) != current[k])
            raise SignposeError(
                f"{out}: holds a run made with other settings (differing: {', '.join(differ)}); "
                "rerun with its config.json to resume it, or choose a new --out"
            )
        if all((out / f).is_file() for f in ("run.json", "model.pt")):
            return load_run_info(out)  # finished before with the same settings: nothing to do
    out.mkdir(parents=True, exist_ok=True)
    save_json(config, out / "config.json")
    L.seed_everything(config.seed, workers=True, verbose=False)
    torch.set_num_threads(max(1, os.cpu_count() or 1))

    data = load_points(dataset, config.features)
    split = prepare_split(dataset, data, config)
    labels = split.labels(data.rows)
    if len(split.train) == 0 or len(split.test) == 0:
        raise SignposeError(f"{dataset_path}: the split {split.name} leaves no training or no test samples")
    fs = feature_set(config.features.features)
    augment = config.augment if config.augment != AugmentConfig.off() else None
    augmenter = Augmenter(augment, fs, seed=config.seed) if augment else None
    train_loader = make_loader(PointBatches(data, labels, split.train), config.batch_size, augmenter, True,
                               config.seed, config.num_workers)  # fmt: skip
    val_idx = split.val if len(split.val) else split.train
    val_loader = make_loader(PointBatches(data, labels, val_idx), 256, None, False, config.seed)

    classifier = build_classifier(config.model, config.features, len(split.classes), config.model_options)
    module = _lightning_module(classifier, config)
    ckpt_dir = out / "checkpoints"
    if config.monitor not in ("val_acc", "val_loss"):
        raise SignposeError(f"monitor must be val_acc or val_loss, not {config.monitor!r}")
    mode = "max" if config.monitor == "val_acc" else "min"
    best = ModelCheckpoint(dirpath=ckpt_dir, filename="best", monitor=config.monitor, mode=mode, save_last=True)
    stop = EarlyStopping(monitor=config.monitor, mode=mode, patience=config.patience)
    trainer = L.Trainer(
        max_epochs=config.epochs,
        accelerator=config.accelerator,
        devices=int(config.devices) if str(config.devices).isdigit() else config.devices,
        strategy=config.strategy,
        callbacks=[best, stop],
        logger=[TensorBoardLogger(out, name="logs", version="tensorboard"), CSVLogger(out, name="logs", version="csv")],
        enable_progress_bar=progress,
        enable_model_summary=False,
        deterministic=False,
        max_time={"minutes": config.max_minutes} if config.max_minutes else None,
        log_every_n_steps=max(1, min(50, len(train_loader))),
    )
    resume = ckpt_dir / "last.ckpt"
    started = time.perf_counter()
    trainer.fit(module, train_loader, val_loader, ckpt_path=resume if resume.is_file() else None, weights_only=True)
    seconds = time.perf_counter() - started
    if not trainer.is_global_zero:
        return {}

    best_path = Path(best.best_model_path) if best.best_model_path else resume
    checkpoint = torch.load(best_path, map_location="cpu", weights_only=True)
    state = checkpoint["state_dict"]
    classifier.load_state_dict({k.removeprefix("classifier."): v for k, v in state.items() if k.startswith("classifier.")})
    buffer = io.BytesIO()
    torch.save(classifier.state_dict(), buffer)
    atomic_write_bytes(out / "model.pt", buffer.getvalue())

    info = {
        "format": RUN_FORMAT,
        "signpose": __version__,
        "dataset": str(dataset_path),
        "classes": split.classes,
        "names": [dataset.sign_names.get(c, c) for c in split.classes],
        "split": split.name,
        "test_signer": config.test_signer or (split.name.removeprefix("test-") if config.split == "signer" else None),
        "train_signers": sorted(set(data.rows.signer.iloc[split.train]), key=natural_key),
        "signs_not_in_training": split.dropped_from_test,
        "samples": {"train": len(split.train), "val": len(split.val), "test": len(split.test)},
        "test_samples": list(data.rows["sample"].iloc[split.test]),
        "parameters": count_parameters(classifier),
        "best_epoch": int(checkpoint.get("epoch", -1)),
        "monitor": config.monitor,
        "best_score": float(best.best_model_score) if best.best_model_score is not None else None,
        "epochs_run": trainer.current_epoch,
        "train_seconds": round(seconds, 2),
        "extraction": dataset.meta.get("extraction"),
    }
    atomic_write_json(out / "run.json", info)
    from .evaluation import plot_curves

    plot_curves(out)
    return info


def cross_validate(dataset_path: str | Path, out: str | Path, config: TrainConfig, progress: bool = True):
    """Leave-one-signer-out: one run per test signer under OUT/<signer>, then a table with
    one row per fold and mean +- std (OUT/cv.csv, OUT/cv.json)."""
    from .evaluation import evaluate, mean_std_table

    dataset = Dataset(dataset_path)
    out = Path(out)
    results = []
    for signer in dataset.signers:
        fold = replace(config, test_signer=signer, split="signer")
        train(dataset_path, out / f"test-{signer}", fold, progress=progress)
        results.append(evaluate(out / f"test-{signer}"))
    table = mean_std_table(results)
    out.mkdir(parents=True, exist_ok=True)
    from .dataset import write_table

    write_table(out / "cv.csv", table)
    atomic_write_json(out / "cv.json", results)
    return table, results
