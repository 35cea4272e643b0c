"""Training recipes: how a model is trained, as named, registered settings.

A recipe holds the optimizer, learning rate and schedule, the epochs and early stopping,
and the regularisation switches. Each model names its default recipe in the model
registry; `--recipe NAME` picks another, and single flags (`--lr`, `--epochs`, ...)
override its values. The resolved recipe is saved in the run's config.json.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ..settings import Preset


class Recipe(Preset):
    """The optimisation side of a training run."""

    KIND = "recipe"
    name: str = Field("seed", description="the recipe these values started from")
    optimizer: Literal["adam", "adamw", "radam"] = Field("adam", description="the optimizer")
    lr: float = Field(1e-4, gt=0, le=10, description="peak learning rate")
    weight_decay: float = Field(0.0, ge=0, le=10, description="weight decay (decoupled for adamw)")
    schedule: Literal["constant", "cosine"] = Field(
        "constant",
        description="learning rate over the run: constant, or linear warm-up then cosine decay to 0",
    )
    warmup_epochs: float = Field(0.0, ge=0, description="epochs of linear warm-up (cosine schedule)")
    epochs: int = Field(1000, ge=1, le=100_000, description="most epochs to train")
    batch_size: int = Field(32, ge=1, le=65_536, description="samples per training step")
    early_stopping: bool = Field(True, description="stop when the monitored validation value stops improving")
    patience: int = Field(10, ge=1, description="epochs without improvement before early stopping")
    monitor: Literal["val_acc", "val_loss"] = Field(
        "val_acc", description="what early stopping and the best checkpoint follow"
    )
    keep: Literal["best", "last"] = Field(
        "best",
        description="weights the run keeps: the best checkpoint by --monitor, or the last epoch's",
    )
    label_smoothing: float = Field(0.0, ge=0, lt=1, description="label smoothing of the cross-entropy loss")
    mixup: float = Field(
        0.0,
        ge=0,
        le=10,
        description="mixup in feature space: Beta(a, a) mixing of two samples' features and labels per batch (0: off)",
    )
    ema_epochs: float = Field(
        0.0,
        ge=0,
        le=1000,
        description="keep an exponential moving average of the weights over about this many epochs, "
        "used for validation and kept at the end (0: off)",
    )
    swa: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="stochastic weight averaging (Izmailov et al. 2018): the weights after every step of this last "
        "share of the steps, averaged equally (densely, as SWAD does for unseen domains), used for validation "
        "and kept at the end (0: off; 0.25: the paper's last quarter)",
    )
    late_dropout: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="dropout before the classifier, switched on only from --late-dropout-start (0: the model's own)",
    )
    late_dropout_start: float = Field(
        0.25, ge=0, lt=1, description="share of the epochs trained before late dropout is switched on"
    )
    awp: float = Field(
        0.0,
        ge=0,
        le=10,
        description="adversarial weight perturbation: each step takes its gradient where every weight tensor "
        "has been moved this far (L2) up its loss gradient (0: off)",
    )
    awp_start: float = Field(0.05, ge=0, lt=1, description="share of the epochs trained before AWP is switched on")
    signer_adversary: float = Field(
        0.0,
        ge=0,
        le=10,
        description="signer-adversarial training (DANN, Ganin & Lempitsky 2015): a small classifier learns "
        "who signs from the model's pooled features, which learn through reversed gradients, this much "
        "at most, to hide it (0: off; needs 2 or more training signers)",
    )

    @property
    def needs_validation(self) -> bool:
        """Whether validation chooses something: when to stop, or which weights to keep."""
        return self.early_stopping or self.keep == "best"

    @model_validator(mode="after")
    def _consistent(self) -> Recipe:
        if self.warmup_epochs >= self.epochs and self.schedule == "cosine":
            raise ValueError(f"warmup_epochs ({self.warmup_epochs}) must be fewer than epochs ({self.epochs})")
        if self.swa > 0 and self.ema_epochs > 0:
            raise ValueError("swa and ema_epochs both average the weights; choose one (the other 0)")
        return self


# The seed notebook: Adam, categorical cross-entropy, early stopping on validation
# accuracy with patience 10, up to 1000 epochs, batch 32.
Recipe.register(
    "seed",
    "the notebook's: Adam 1e-4, batch 32, up to 1000 epochs, early stopping on validation accuracy (patience 10)",
)
# The notebook trains its transformer with a tenth of the learning rate, batch 64, patience 5.
Recipe.register(
    "seed-transformer",
    "the notebook's transformer: Adam 1e-5, batch 64, patience 5",
    lr=1e-5,
    batch_size=64,
    patience=5,
)
# A fixed number of epochs and the last weights, without early stopping, which on a
# signer-dependent validation set stops too soon: AdamW with weight decay, label smoothing.
_FIXED = {
    "optimizer": "adamw",
    "lr": 1e-3,
    "weight_decay": 1e-2,
    "label_smoothing": 0.1,
    "epochs": 80,
    "batch_size": 32,
    "early_stopping": False,
    "keep": "last",
}
# The default since 0.2, chosen by benchmarks/bench_accuracy.py on real unseen signers
# (README, "Accuracy"): the ISLR winners' optimisation, fixed epochs.
Recipe.register(
    "islr",
    "the default: AdamW 1e-3 with weight decay 1e-2, label smoothing 0.1, a fixed 80 epochs, batch 32, the last "
    "weights (the ISLR winners' optimisation without early stopping)",
    **_FIXED,
)
# The same with the winners' schedule: linear warm-up, then cosine decay to 0.
Recipe.register(
    "islr-cosine",
    "the islr recipe with 5 epochs of warm-up, then cosine decay",
    **_FIXED,
    schedule="cosine",
    warmup_epochs=5.0,
)
# The regularisation of the Google ISLR winners on top of the fixed-epoch recipe: late dropout
# (1st place, hoyso48: a high dropout before the classifier, off until the model has started
# to fit, since early dropout slows convergence), mixup in feature space (mixup: Zhang et al.,
# ICLR 2018, a = 0.2 as for ImageNet there; the most useful change of a top-30 ISLR solution)
# and an exponential moving average of the weights (the decay 0.999 of the ISLR solutions
# is about one epoch at that data set's size, so the average spans one epoch here too).
Recipe.register(
    "islr-winners",
    "the islr recipe with the ISLR winners' regularisation: late dropout 0.8 before the classifier from a quarter "
    "of the epochs on (1st place), mixup 0.2 in feature space, an average of the weights over the last epoch (EMA)",
    **_FIXED,
    late_dropout=0.8,
    mixup=0.2,
    ema_epochs=1.0,
)
# Adversarial weight perturbation (Wu et al., NeurIPS 2020), as the 1st-place Google ISLR
# solution (hoyso48) used it: a step of 0.2 per weight tensor along its gradient, switched
# on after 15 of its 300 epochs (the same share here).
Recipe.register(
    "islr-awp",
    "the islr recipe with adversarial weight perturbation (1st place): each step's gradient taken with every weight "
    "tensor moved 0.2 up its loss gradient, from a twentieth of the epochs on",
    **_FIXED,
    awp=0.2,
)
# 0.1's islr settings: validation accuracy on the training signers saturates within a
# few epochs for this model, so it stops and keeps its best checkpoint by validation loss.
Recipe.register(
    "islr-0.1",
    "0.1's: Adam 1e-3, batch 64, early stopping on val_loss (patience 20)",
    lr=1e-3,
    batch_size=64,
    patience=20,
    monitor="val_loss",
)
# The accuracy issue's baseline trains with the same values (the 40-line 1D-CNN).
Recipe.register("cnn", "AdamW 1e-3 (decay 1e-2), label smoothing 0.1, fixed 80 epochs, last weights", **_FIXED)
# SL-GCN trains with SGD for 250 epochs on a GPU; on CPU cores and a few thousand sequences,
# the fixed-epoch AdamW values that the other models of this size train with.
Recipe.register(
    "gcn",
    "the fixed-epoch AdamW values for the graph network (SL-GCN trains with SGD for 250 epochs on a GPU)",
    **_FIXED,
)
