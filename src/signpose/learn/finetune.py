"""Starting a run from another run's weights (`train --init-from RUN`).

The common recipe of transfer learning in sign recognition (the pose-based pretraining of
OpenHands, Uni-Sign's fine-tuning): keep the trained body, give the new vocabulary a new
classifier layer, and optionally train that layer alone for the first epochs
(`--freeze-epochs`) so that its random start does not disturb the body. Signs both runs
know keep their rows of the old classifier layer.
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch

from ..errors import SignposeError
from ..model.architectures.classifier import SignClassifier
from ..model.architectures.registry import classifier_layer
from ..model.runs import load_classifier


def head_name(classifier: SignClassifier) -> str:
    """The classifier layer's name in the classifier's state (the model contract guarantees
    one: checked when the model was built)."""
    return f"model.{classifier_layer(classifier.model)[0]}"


def init_from_run(classifier: SignClassifier, run: str | Path, classes: list[str], config) -> str:
    """Copy `run`'s weights into `classifier` (of the same model and features), with a
    classifier layer for `classes`; returns a one-line account of what was kept."""
    run = Path(run)
    source, info, source_config = load_classifier(run)
    if info.members:
        raise SignposeError(f"{run}: is an ensemble; start from one of its models: {run / info.members[0]}")
    mismatch = [
        name
        for name, ours, theirs in (
            ("--model", config.model, source_config.model),
            ("--model-options", config.model_options, source_config.model_options),
            ("--features", config.features.features, source_config.features.features),
            ("--stream", config.features.stream, source_config.features.stream),
        )
        if ours != theirs
    ]
    if mismatch:
        raise SignposeError(
            f"{run}: was trained with other {', '.join(mismatch)} ({source_config.model}, "
            f"{source_config.features.features}); start from a run of the same model and features"
        )
    head = head_name(classifier)
    theirs, ours = source.state_dict(), classifier.state_dict()
    merged, kept, differing = dict(ours), 0, []
    for key, value in ours.items():
        if key.startswith(head + "."):
            continue
        if key in theirs and theirs[key].shape == value.shape:
            merged[key], kept = theirs[key], kept + 1
        else:
            differing.append(key)  # e.g. a position table of another --frames: trained anew
    shared = [c for c in classes if c in info.classes]
    for part in ("weight", "bias"):  # signs both runs know keep their rows
        key = f"{head}.{part}"
        if key in theirs and theirs[key].shape[1:] == ours[key].shape[1:]:
            rows = torch.tensor([classes.index(c) for c in shared], dtype=torch.long)
            source_rows = torch.tensor([info.classes.index(c) for c in shared], dtype=torch.long)
            merged[key] = ours[key].clone()
            merged[key][rows] = theirs[key][source_rows]
    classifier.load_state_dict(merged)
    new = len(classes) - len(shared)
    note = f"signpose: started from {run}: {kept} of {len(ours)} weight tensors kept"
    note += f", {len(differing)} of another shape trained anew" if differing else ""
    return note + f"; classifier layer: {len(shared)} signs kept, {new} new"


class FreezeBody(L.Callback):
    """Only the classifier layer trains for the first `epochs` epochs (a new layer's
    random start would otherwise pull the kept body around); then everything does."""

    def __init__(self, epochs: int, head: str):
        self.epochs, self.head = epochs, head

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        frozen = trainer.current_epoch < self.epochs
        for name, parameter in pl_module.classifier.named_parameters():
            parameter.requires_grad_(not frozen or name.startswith(self.head + "."))
