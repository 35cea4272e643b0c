"""The Lightning side of training: the module with its loss and the recipe's optimizer
and schedule, the callbacks (late dropout, progress, atomic checkpoints, a stop on a NaN
loss), the trainer, and the CSV log kept across a resume. `training` uses these (and
`batches`) to fit one run."""

from __future__ import annotations

import io
import json
import math
import sys
from pathlib import Path

import lightning as L
import pandas as pd
import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch.callbacks import Callback, EarlyStopping, EMAWeightAveraging, ModelCheckpoint, WeightAveraging
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

from ..errors import SignposeError, is_environment_error
from ..model.architectures import SignClassifier
from ..model.architectures.registry import classifier_layer
from ..model.recipes import Recipe
from ..progress import bar
from ..util import atomic_write_bytes
from .runtime import RuntimeConfig

_OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "radam": torch.optim.RAdam}


def warmup_cosine(total_steps: int, warmup_steps: int):
    """Learning-rate factor per step: linear warm-up, then cosine decay to 0."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    return factor


class _ReverseGradient(torch.autograd.Function):
    """Identity forward; the gradient times -weight backward (Ganin & Lempitsky 2015)."""

    @staticmethod
    def forward(ctx, x, weight: float):
        ctx.weight = weight
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -ctx.weight * grad, None


class SignerAdversary(torch.nn.Module):
    """DANN's domain classifier with people as the domains (Ganin & Lempitsky, ICML 2015;
    signer-invariant features for sign recognition: Ferreira et al., 2021): it learns which
    training signer a sample is from the features the sign classifier reads, and the model
    learns, through the reversed gradient, features it cannot tell the signers apart by.
    Training only: it is not part of the saved model."""

    def __init__(self, features: int, signers: int):
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(features, features), torch.nn.ReLU(), torch.nn.Linear(features, signers)
        )

    def forward(self, features: torch.Tensor, weight: float) -> torch.Tensor:
        return self.net(_ReverseGradient.apply(features, weight))


def dann_weight(progress: float, most: float) -> float:
    """DANN's schedule: from 0 (the features are still noise) up to `most` along
    2 / (1 + exp(-10 p)) - 1 over the training progress p in [0, 1]."""
    return most * (2.0 / (1.0 + math.exp(-10.0 * min(1.0, max(0.0, progress)))) - 1.0)


class LitSignClassifier(L.LightningModule):
    """The classifier with its loss, metrics and the recipe's optimizer and schedule (and,
    with `signer_adversary` and 2 or more training signers, the signer adversary)."""

    def __init__(self, classifier: SignClassifier, recipe: Recipe, signers: int = 0):
        super().__init__()
        self.classifier = classifier
        self.recipe = recipe
        self.loss = torch.nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing)
        self._moved: list[tuple[torch.Tensor, torch.Tensor]] = []  # AWP's weight moves, undone before the step
        self.adversary = None
        if recipe.signer_adversary > 0 and signers >= 2:
            _, layer = classifier_layer(classifier.model)  # the contract: its input is the pooled features
            self.adversary = SignerAdversary(layer.in_features, signers)
            self._pooled: torch.Tensor | None = None
            self._hook = layer.register_forward_pre_hook(self._keep_pooled)

    def on_fit_end(self) -> None:
        if self.adversary is not None:  # the classifier lives on after training, without it
            self._hook.remove()

    def _keep_pooled(self, _layer, inputs) -> None:
        self._pooled = inputs[0]

    def forward(self, pts, mask):
        return self.classifier(pts, mask)

    def _logits_loss(self, batch, mix: tuple[float, torch.Tensor] | None):
        pts, mask, y, _ = batch
        if mix is not None:
            return self._mixup_step(pts, mask, y, mix)
        logits = self(pts, mask)
        return logits, self.loss(logits, y)

    def _adversary_loss(self, signers: torch.Tensor, mix: tuple[float, torch.Tensor] | None) -> torch.Tensor:
        """The signer classifier's loss on this step's pooled features (mixed like the signs)."""
        total = max(1, int(self.trainer.estimated_stepping_batches))
        weight = dann_weight(self.global_step / total, self.recipe.signer_adversary)
        logits = self.adversary(self._pooled, weight)
        ce = torch.nn.functional.cross_entropy
        loss = (
            ce(logits, signers)
            if mix is None
            else mix[0] * ce(logits, signers) + (1 - mix[0]) * ce(logits, signers[mix[1]])
        )
        acc = (logits.argmax(-1) == signers).float().mean()
        self.log("train_signer_acc", acc, on_step=False, on_epoch=True, batch_size=len(signers), sync_dist=True)
        return loss

    def _step(self, batch, stage: str, mix: tuple[float, torch.Tensor] | None = None):
        y = batch[2]
        logits, loss = self._logits_loss(batch, mix)
        adversary = self._adversary_loss(batch[3], mix) if stage == "train" and self.adversary is not None else 0
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
        return loss + adversary  # the signs' loss is what is logged

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
    if recipe.late_dropout > 0 and classifier.model.head_dropout is None:  # the model contract (SignModel)
        raise SignposeError(
            f"model {model!r} has no dropout before its classifier for late dropout; "
            "use --late-dropout 0 or a model that has one (islr, cnn)"
        )


def ema_decay(recipe: Recipe, steps_per_epoch: int) -> float:
    """The per-step decay whose average spans about `recipe.ema_epochs` epochs."""
    return 1.0 - 1.0 / max(1.0, recipe.ema_epochs * steps_per_epoch)


class StochasticWeightAverage(WeightAveraging):
    """SWA (Izmailov et al. 2018, "Averaging weights leads to wider optima and better
    generalization"): the equal average of the weights over the run's last steps, updated
    after every step as SWAD (Cha et al. 2021) does for domains never seen in training.
    Until the window opens the "average" is the current weights, so validation and
    checkpoints before it see the model as it is, never the untrained copy Lightning's
    callback starts from."""

    def __init__(self, first_step: int):
        super().__init__()  # AveragedModel's own averaging function: the equal average
        self.first_step = first_step

    def should_update(self, step_idx: int | None = None, epoch_idx: int | None = None) -> bool:
        if step_idx is None:
            return False
        if step_idx <= self.first_step and self._average_model is not None:
            self._average_model.n_averaged.zero_()  # an average of none: the update copies the weights
        return True


def swa_first_step(recipe: Recipe, steps_per_epoch: int) -> int:
    """The step from which `recipe.swa`, the last share of the steps, is averaged."""
    return int(round(recipe.epochs * steps_per_epoch * (1.0 - recipe.swa)))


class EpochProgress(Callback):
    """One bar over the epochs on stderr (counts, rate, the latest losses and accuracies);
    a line every few seconds when stderr is not a terminal."""

    def __init__(self, show: bool = True, file: str | Path | None = None):
        self.bar = None
        self.show, self.file = show, Path(file) if file else None

    def on_train_start(self, trainer, _module) -> None:
        if trainer.is_global_zero and self.show:
            self.bar = bar(total=trainer.max_epochs, initial=trainer.current_epoch, desc="train", unit="epoch")
        self._write(trainer, {})

    def on_train_epoch_end(self, trainer, _module) -> None:
        m = trainer.callback_metrics
        values = {k: float(m[k]) for k in ("train_loss", "val_loss", "val_acc") if k in m}
        if self.bar is not None:
            self.bar.set_postfix({k: f"{v:.3f}" for k, v in values.items()}, refresh=False)
            self.bar.update(1)
        self._write(trainer, values, done=1)

    def _write(self, trainer, values: dict, done: int = 0) -> None:
        """The progress as JSON (whole or not at all), for whoever watches this run. A disk
        that fills or turns read-only stops the progress file, never the training."""
        if self.file is not None and trainer.is_global_zero:
            state = {"epoch": trainer.current_epoch + done, "epochs": trainer.max_epochs, **values}
            try:
                atomic_write_bytes(self.file, json.dumps(state).encode())
            except OSError as e:
                if not is_environment_error(e):
                    raise
                print(
                    f"signpose: warning: {self.file}: {e.strerror}; progress is no longer written there, "
                    "training goes on",
                    file=sys.stderr,
                )
                self.file = None

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


def make_callbacks(
    recipe: Recipe,
    out: Path,
    steps_per_epoch: int,
    progress: bool,
    validating: bool = True,
    progress_file: str | None = None,
) -> tuple[list, ModelCheckpoint]:
    """The recipe's callbacks; returns them with the best-checkpoint callback (it knows the
    best; without validation data there is nothing to call best, and no best.ckpt).

    last.ckpt has a callback of its own, written after every epoch: since Lightning 2.6 a
    monitoring callback's `save_last` writes it only when the best improves, so "the last
    weights" were those of the last improvement and a resumed run kept its stale ones.
    No version counter: a resumed run whose saved callback state does not match (a moved
    folder, an earlier signpose) replaces last.ckpt and best.ckpt, never adds last-v1.ckpt."""
    mode = "max" if recipe.monitor == "val_acc" else "min"
    where = {"dirpath": out / "checkpoints", "enable_version_counter": False}
    last = ModelCheckpoint(**where, filename="last", monitor=None, save_top_k=1)  # the latest, every epoch
    if validating:
        best = ModelCheckpoint(**where, filename="best", monitor=recipe.monitor, mode=mode, save_top_k=1)
    else:
        best = last
    callbacks: list[Callback] = [best, StopOnNonFiniteLoss()] + ([last] if validating else [])
    if recipe.early_stopping and validating:
        callbacks.append(EarlyStopping(monitor=recipe.monitor, mode=mode, patience=recipe.patience))
    if recipe.late_dropout > 0:
        callbacks.append(LateDropout(recipe.late_dropout, int(recipe.late_dropout_start * recipe.epochs)))
    if recipe.ema_epochs > 0:
        callbacks.append(EMAWeightAveraging(decay=ema_decay(recipe, steps_per_epoch)))
    if recipe.swa > 0:
        callbacks.append(StochasticWeightAverage(swa_first_step(recipe, steps_per_epoch)))
    if progress or progress_file:
        callbacks.append(EpochProgress(progress, progress_file))
    return callbacks, best


def early_stopped(callbacks: list) -> bool:
    return any(isinstance(c, EarlyStopping) and c.stopped_epoch for c in callbacks)


def make_trainer(
    out: Path, recipe: Recipe, runtime: RuntimeConfig, callbacks: list, steps_per_epoch: int, validating: bool = True
) -> L.Trainer:
    """The Lightning trainer of one run; settings Lightning refuses are one line."""
    try:  # accelerator, devices and strategy are checked here, before anything is written
        return L.Trainer(
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
            log_every_n_steps=max(1, min(50, steps_per_epoch)),
            limit_val_batches=None if validating else 0,
            num_sanity_val_steps=None if validating else 0,
            plugins=[AtomicCheckpointIO()],
        )
    except (ValueError, RuntimeError, MisconfigurationException, ImportError) as e:
        # ImportError: an accelerator whose library is not installed (tpu wants torch_xla)
        raise SignposeError(f"the runtime settings do not work here: {str(e).splitlines()[0]}") from None
