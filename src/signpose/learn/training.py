"""Training with Lightning, signer-independent by default, one run folder per run (the
layout is in `signpose.learn.runs`). The recipe (`signpose.learn.recipes`) says how:
optimizer, schedule, epochs, early stopping, which weights to keep."""

from __future__ import annotations

import io
import logging
import math
import os
import sys
import time
import warnings
from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd
import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch.callbacks import Callback, EarlyStopping, EMAWeightAveraging, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

from ..data.dataset import Dataset, write_table
from ..data.writer import FolderLock
from ..errors import SignposeError
from ..progress import bar
from ..settings import build, save_json
from ..util import atomic_write_bytes, atomic_write_json, available_cpus, natural_sorted
from .augmentation import Augmenter
from .config import RuntimeConfig, TrainConfig
from .evaluation import EvalResult, evaluate, mean_std_table
from .features import FeaturePipeline, PointData
from .models import SignClassifier, count_parameters
from .plots import plot_curves
from .recipes import Recipe
from .runs import RunInfo, load_config, load_run_info, load_weights
from .splits import Split, mixed_split, signer_folds, signer_split

# Lightning's own use of a deprecated torch API; nothing a user can act on.
warnings.filterwarnings("ignore", message=r".*LeafSpec.*")
# A resumed run writes into its own checkpoint folder: that is the point, not a mistake.
warnings.filterwarnings("ignore", message=r"Checkpoint directory .* exists and is not empty")
# A run that --max-minutes stopped continues without a time limit (its Timer is not needed).
warnings.filterwarnings("ignore", message=r"Be aware that when using `ckpt_path`, callbacks used")


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


def make_loader(
    source: PointBatches,
    batch_size: int,
    augmenter: Augmenter | None,
    shuffle: bool,
    seed: int,
    num_workers: int = 0,
) -> torch.utils.data.DataLoader:
    gen = torch.Generator().manual_seed(seed)
    return torch.utils.data.DataLoader(
        source,
        batch_size=batch_size,
        shuffle=shuffle,
        generator=gen,
        collate_fn=Collate(source, augmenter),
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
    )


_OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "radam": torch.optim.RAdam}


def warmup_cosine(total_steps: int, warmup_steps: int):
    """Learning-rate factor per step: linear warm-up, then cosine decay to 0."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    return factor


class LitSignClassifier(L.LightningModule):
    """The classifier with its loss, metrics and the recipe's optimizer and schedule."""

    def __init__(self, classifier: SignClassifier, recipe: Recipe):
        super().__init__()
        self.classifier = classifier
        self.recipe = recipe
        self.loss = torch.nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing)
        self._moved: list[tuple[torch.Tensor, torch.Tensor]] = []  # AWP's weight moves, undone before the step

    def forward(self, pts, mask):
        return self.classifier(pts, mask)

    def _logits_loss(self, batch, mix: tuple[float, torch.Tensor] | None):
        pts, mask, y = batch
        if mix is not None:
            return self._mixup_step(pts, mask, y, mix)
        logits = self(pts, mask)
        return logits, self.loss(logits, y)

    def _step(self, batch, stage: str, mix: tuple[float, torch.Tensor] | None = None):
        y = batch[2]
        logits, loss = self._logits_loss(batch, mix)
        acc = (logits.argmax(-1) == y).float().mean()
        n = len(y)
        self.log(
            f"{stage}_loss",
            loss,
            on_step=False,
            on_epoch=True,
            prog_bar=stage == "val",
            batch_size=n,
            sync_dist=True,
        )
        self.log(
            f"{stage}_acc",
            acc,
            on_step=False,
            on_epoch=True,
            prog_bar=True,
            batch_size=n,
            sync_dist=True,
        )
        return loss

    def _draw_mixup(self, y: torch.Tensor) -> tuple[float, torch.Tensor] | None:
        """One Beta(a, a) weight and one partner per sample for this batch (None: no mixup)."""
        if self.recipe.mixup <= 0:
            return None
        a = self.recipe.mixup
        return float(torch.distributions.Beta(a, a).sample()), torch.randperm(len(y), device=y.device)

    def _mixup_step(self, pts, mask, y, mix: tuple[float, torch.Tensor]):
        """Mixup in feature space (Zhang et al., ICLR 2018): each sample's features are mixed
        with another's of the batch, with one Beta(a, a) weight per batch; the loss mixes the
        two labels' losses alike. A frame counts as seen when either sample saw it."""
        x, frame_mask = self.classifier.features(pts, mask)
        lam, other = mix
        x = lam * x + (1 - lam) * x[other]
        frame_mask = frame_mask | frame_mask[other]
        logits = self.classifier.model(x, frame_mask)
        return logits, lam * self.loss(logits, y) + (1 - lam) * self.loss(logits, y[other])

    def training_step(self, batch, _):
        mix = self._draw_mixup(batch[2])
        if self.recipe.awp > 0 and self.current_epoch >= int(self.recipe.awp_start * self.recipe.epochs):
            self._perturb(self._logits_loss(batch, mix)[1])
        return self._step(batch, "train", mix)

    def _perturb(self, loss: torch.Tensor) -> None:
        """Adversarial weight perturbation (Wu et al., NeurIPS 2020; 1st place of Google
        ISLR): move each weight tensor `awp` (L2) up its loss gradient, so that the step's
        gradient is taken where the loss is worse nearby: flat minima generalise better.
        The moves are undone before the optimizer steps (`on_before_optimizer_step`)."""
        params = [p for p in self.parameters() if p.requires_grad]
        grads = torch.autograd.grad(loss, params, allow_unused=True)
        with torch.no_grad():
            for p, g in zip(params, grads, strict=True):
                if g is not None:
                    move = self.recipe.awp * g / (g.norm() + 1e-6)
                    p.add_(move)
                    self._moved.append((p, move))

    def on_before_optimizer_step(self, optimizer) -> None:
        with torch.no_grad():
            for p, move in self._moved:
                p.sub_(move)
        self._moved.clear()

    def validation_step(self, batch, _):
        return self._step(batch, "val")

    def configure_optimizers(self):
        r = self.recipe
        optimizer = _OPTIMIZERS[r.optimizer](self.parameters(), lr=r.lr, weight_decay=r.weight_decay)
        if r.schedule == "constant":
            return optimizer
        total = max(1, int(self.trainer.estimated_stepping_batches))
        warmup = int(round(total * r.warmup_epochs / r.epochs))
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(total, warmup))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


class LateDropout(Callback):
    """Late dropout (1st place of Google ISLR, hoyso48): the dropout before the classifier is
    off for the first epochs and set to a high rate once the model has started to fit."""

    def __init__(self, rate: float, start_epoch: int):
        self.rate, self.start_epoch = rate, start_epoch

    def on_train_epoch_start(self, trainer, module) -> None:
        module.classifier.model.head_dropout.p = self.rate if trainer.current_epoch >= self.start_epoch else 0.0


def check_recipe(recipe: Recipe, classifier: SignClassifier, model: str) -> None:
    """Refuse a recipe the model cannot follow, before anything is written."""
    if recipe.late_dropout > 0 and not isinstance(getattr(classifier.model, "head_dropout", None), torch.nn.Dropout):
        raise SignposeError(
            f"model {model!r} has no dropout before its classifier for late dropout; "
            "use --late-dropout 0 or a model that has one (islr, cnn)"
        )


def ema_decay(recipe: Recipe, steps_per_epoch: int) -> float:
    """The per-step decay whose average spans about `recipe.ema_epochs` epochs."""
    return 1.0 - 1.0 / max(1.0, recipe.ema_epochs * steps_per_epoch)


class EpochProgress(Callback):
    """One bar over the epochs on stderr (counts, rate, the latest losses and accuracies);
    a line every few seconds when stderr is not a terminal."""

    def __init__(self):
        self.bar = None

    def on_train_start(self, trainer, _module) -> None:
        if trainer.is_global_zero:
            self.bar = bar(total=trainer.max_epochs, initial=trainer.current_epoch, desc="train", unit="epoch")

    def on_train_epoch_end(self, trainer, _module) -> None:
        if self.bar is not None:
            m = trainer.callback_metrics
            values = {k: f"{float(m[k]):.3f}" for k in ("train_loss", "val_loss", "val_acc") if k in m}
            self.bar.set_postfix(values, refresh=False)
            self.bar.update(1)

    def on_train_end(self, *_) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class AtomicCheckpointIO(TorchCheckpointIO):
    """Checkpoints written whole or not at all (temp file + rename): a full disk or a kill
    mid-write leaves the previous best.ckpt / last.ckpt, never a truncated one."""

    def save_checkpoint(self, checkpoint: dict, path, storage_options=None) -> None:
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        atomic_write_bytes(Path(path), buffer.getvalue())


class StopOnNonFiniteLoss(Callback):
    """A NaN or inf loss ends training with one line instead of a NaN model that reports
    itself fine."""

    def on_train_batch_end(self, trainer, _module, outputs, _batch, _batch_idx) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        if loss is not None and not torch.isfinite(loss).all():
            raise SignposeError(
                f"the training loss became {float(loss)} in epoch {trainer.current_epoch + 1}; "
                "lower the learning rate (--lr) or check the dataset for broken keypoints"
            )


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


def _log_aside(log: Path) -> Path:
    return log.parent.parent / "metrics-before-resume.csv"  # outside the logger's folder, which it clears


def _read_log(path: Path) -> pd.DataFrame | None:
    try:
        return pd.read_csv(path)
    except (OSError, ValueError, pd.errors.ParserError):
        return None


def set_log_aside(log: Path) -> None:
    """Keep the epochs logged so far before a resumed run starts a new CSV log (Lightning
    deletes the old one); `restore_log` puts them back in front of the new rows."""
    aside = _log_aside(log)
    parts = [df for df in (_read_log(aside), _read_log(log)) if df is not None and "epoch" in df]
    if log.is_file() or parts:
        merged = pd.concat(parts) if parts else pd.DataFrame()
        atomic_write_bytes(aside, merged.to_csv(index=False).encode())
        log.unlink(missing_ok=True)


def restore_log(log: Path) -> None:
    aside = _log_aside(log)
    earlier = _read_log(aside)
    if earlier is None:
        return
    later = _read_log(log)
    if later is not None and "epoch" in later and len(later):
        earlier = pd.concat([earlier[earlier.epoch < later.epoch.min()], later])
    atomic_write_bytes(log, earlier.to_csv(index=False).encode())
    aside.unlink()


def make_split(rows, config: TrainConfig) -> Split:
    if config.split == "mixed":
        return mixed_split(rows, config.val_fraction, seed=config.seed)
    test = config.test_signer or natural_sorted(rows.signer.unique())[-1]
    return signer_split(rows, test, config.val_fraction, config.seed, config.validation)


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
    if config.seeds > 1:
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


def train(
    dataset_path: str | Path,
    out: str | Path,
    config: TrainConfig,
    runtime: RuntimeConfig | None = None,
    progress: bool = True,
) -> RunInfo | None:
    """Train one model; resumes from RUN/checkpoints/last.ckpt when it exists. Everything
    is checked (settings, dataset, split) before the run folder is created. Returns the
    run record (None in the other processes of a multi-device run)."""
    config, runtime = build(TrainConfig, config), build(RuntimeConfig, runtime)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise SignposeError(f"{out}: is a file; --out must be a run folder (new, or one to resume)")
    dataset = Dataset(dataset_path)
    if _check_resumable(out, config, dataset):
        return load_run_info(out)  # finished before with the same settings: nothing to do
    if config.seeds > 1:
        return _train_ensemble(dataset, out, config, runtime, progress)
    pipeline = FeaturePipeline(config.features)
    data = pipeline.load(dataset)
    if not np.isfinite(data.points).all():  # a NaN input trains a NaN model that reports itself fine
        raise SignposeError(f"{dataset_path}: keypoints with NaN or inf values; re-import it with this signpose")
    split = make_split(data.rows, config)
    if len(split.train) == 0 or len(split.test) == 0:
        raise SignposeError(f"{dataset_path}: the split {split.name} leaves no training or no test samples")
    if len(split.classes) < 2:
        raise SignposeError(f"{dataset_path}: the training signers have {len(split.classes)} sign; need at least 2")

    held = split.validation_signers(data.rows)
    # Lightning's start-up banners (GPU/TPU availability, tips) say nothing a user needs here.
    logging.getLogger("lightning.pytorch.utilities.rank_zero").setLevel(logging.WARNING)
    L.seed_everything(config.seed, workers=True, verbose=False)
    torch.set_num_threads(available_cpus())

    recipe = config.recipe
    labels = split.labels(data.rows)
    augmenter = Augmenter(config.augment, pipeline.set, seed=config.seed) if config.augment.active else None
    train_loader = make_loader(
        PointBatches(data, labels, split.train),
        recipe.batch_size,
        augmenter,
        True,
        config.seed,
        runtime.num_workers,
    )
    val_idx = split.val if len(split.val) else split.train
    val_loader = make_loader(PointBatches(data, labels, val_idx), 256, None, False, config.seed)

    classifier = SignClassifier(config.model, pipeline, len(split.classes), config.model_options)
    check_recipe(recipe, classifier, config.model)
    module = LitSignClassifier(classifier, recipe)
    ckpt_dir = out / "checkpoints"
    mode = "max" if recipe.monitor == "val_acc" else "min"
    best = ModelCheckpoint(dirpath=ckpt_dir, filename="best", monitor=recipe.monitor, mode=mode, save_last=True)
    callbacks = [best, StopOnNonFiniteLoss()]
    stopper = None
    if recipe.early_stopping:
        stopper = EarlyStopping(monitor=recipe.monitor, mode=mode, patience=recipe.patience)
        callbacks.append(stopper)
    if recipe.late_dropout > 0:
        callbacks.append(LateDropout(recipe.late_dropout, int(recipe.late_dropout_start * recipe.epochs)))
    if recipe.ema_epochs > 0:
        callbacks.append(EMAWeightAveraging(decay=ema_decay(recipe, len(train_loader))))
    if progress:
        callbacks.append(EpochProgress())
    resume = ckpt_dir / "last.ckpt"
    log = out / "logs" / "csv" / "metrics.csv"
    with RunLock(out):
        if resume.is_file():
            set_log_aside(log)  # Lightning's CSV logger deletes it when a run resumes
        try:  # accelerator, devices and strategy are checked here, before anything is written
            trainer = L.Trainer(
                max_epochs=recipe.epochs,
                accelerator=runtime.accelerator,
                devices=runtime.lightning_devices,
                strategy=runtime.strategy,
                callbacks=callbacks,
                logger=[
                    TensorBoardLogger(out, name="logs", version="tensorboard"),
                    CSVLogger(out, name="logs", version="csv"),
                ],
                enable_progress_bar=False,  # EpochProgress instead: one bar, on stderr
                enable_model_summary=False,
                deterministic=False,
                max_time={"minutes": runtime.max_minutes} if runtime.max_minutes else None,
                log_every_n_steps=max(1, min(50, len(train_loader))),
                plugins=[AtomicCheckpointIO()],
            )
        except (ValueError, RuntimeError, MisconfigurationException) as e:
            raise SignposeError(f"the runtime settings do not work here: {str(e).splitlines()[0]}") from None
        save_json(config, out / "config.json")
        if split.test_signer is not None:  # said once everything is checked
            print(
                f"signpose: validation on held-out training signers {', '.join(held)}"
                if held
                else "signpose: validation on a share of the training signers' own samples: signer-dependent, so "
                "it overstates accuracy on new people (3 or more training signers allow --validation signers)",
                file=sys.stderr,
            )
        started = time.perf_counter()
        try:
            trainer.fit(
                module,
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
        stopped_by = ""
        if trainer.current_epoch < recipe.epochs and not (stopper is not None and stopper.stopped_epoch):
            stopped_by = "time limit"
        return _record(out, dataset, data, split, classifier, best, recipe, trainer, seconds, held, runtime, stopped_by)


def _record(out, dataset, data, split, classifier, best, recipe, trainer, seconds, held, runtime, stopped_by):
    """After fitting: the kept weights as model.pt, run.json, the curves."""

    last = out / "checkpoints" / "last.ckpt"
    kept = Path(best.best_model_path) if recipe.keep == "best" and best.best_model_path else last
    checkpoint = load_weights(kept)
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
        train_signers=natural_sorted(set(data.rows.signer.iloc[split.train])),
        validation_signers=held,
        signs_not_in_training=split.dropped_from_test,
        samples={"train": len(split.train), "val": len(split.val), "test": len(split.test)},
        test_samples=list(data.rows["sample"].iloc[split.test]),
        parameters=count_parameters(classifier),
        best_epoch=int(checkpoint.get("epoch", -1)),
        monitor=recipe.monitor,
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
    """One model per seed in OUT/seed<S>/ (each resumable on its own), then the run record
    that names them; written last, so a finished ensemble is one whose run.json exists."""
    seeds = range(config.seed, config.seed + config.seeds)
    infos = []
    for n, seed in enumerate(seeds, 1):
        print(f"signpose: model {n} of {config.seeds} (seed {seed}) in {out / f'seed{seed}'}", file=sys.stderr)
        infos.append(train(dataset.root, out / f"seed{seed}", config.replace(seed=seed, seeds=1), runtime, progress))
    if None in infos:  # another process of a multi-device run: rank 0 writes the record
        return None
    save_json(config, out / "config.json")
    info = infos[0].model_copy(
        update={
            **RunInfo.paths_for(dataset.root, out),
            "members": [f"seed{seed}" for seed in seeds],
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
    dataset = Dataset(dataset_path)
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
