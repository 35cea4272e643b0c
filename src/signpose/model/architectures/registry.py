"""The model registry: each family registers its builders here by name, with its recipe."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import torch
from torch import nn

from ...errors import SignposeError
from ...settings import unknown
from ..recipes import Recipe


@dataclass(frozen=True)
class ModelSpec:
    name: str
    build: Callable[..., nn.Module]  # build(in_features, n_classes, frames, **options) -> a SignModel
    recipe: str  # the training recipe it uses unless told otherwise
    description: str
    features: str | None = None  # the feature set it reads unless told otherwise (None: the default)
    options: dict = field(default_factory=dict)  # its default architecture options (`model_options`)
    origin: str = ""  # where the design comes from, and how this copy differs (docs/guide.md's table)


MODELS: dict[str, ModelSpec] = {}


class SignModel(Protocol):
    """What a registered model is (its builder returns one; checked when it is built):

    - `forward(x, frame_mask)`: x (B, T, F) features, frame_mask (B, T) bool (True where a
      frame was seen) or None -> (B, n_classes) logits;
    - `head_dropout`: the nn.Dropout before the classifier, which late dropout switches on
      (`--late-dropout`), or None for a model without one;
    - its last nn.Linear is the classifier layer, one output a sign (`--init-from` gives a
      new vocabulary a new one there)."""

    head_dropout: nn.Dropout | None

    def forward(self, x: torch.Tensor, frame_mask: torch.Tensor | None = None) -> torch.Tensor: ...


def classifier_layer(model: nn.Module) -> tuple[str, nn.Linear] | None:
    """The model's classifier layer by the contract: its last nn.Linear (name, layer)."""
    return next(((n, m) for n, m in reversed(list(model.named_modules())) if isinstance(m, nn.Linear)), None)


def check_model(name: str, model: nn.Module, n_classes: int) -> None:
    """The contract above, on a built model (cheap: built on PyTorch's meta device)."""
    problems = []
    parameters = list(inspect.signature(model.forward).parameters)
    if len(parameters) < 2:
        problems.append("forward must take (x, frame_mask)")
    if not hasattr(model, "head_dropout") or not isinstance(model.head_dropout, nn.Dropout | None):
        problems.append("it must declare head_dropout (an nn.Dropout before its classifier, or None)")
    head = classifier_layer(model)
    if head is None or head[1].out_features != n_classes:
        problems.append(f"its last linear layer must be the classifier ({n_classes} outputs, one a sign)")
    if problems:
        raise SignposeError(f"model {name!r} does not keep the model contract (SignModel): {'; '.join(problems)}")


def register_model(
    name: str,
    recipe: str,
    description: str,
    features: str | None = None,
    options: dict | None = None,
    origin: str = "",
):
    """Register an architecture under a name, with the recipe it trains with by default
    (the feature set, for a model that reads only one kind, and default architecture
    options, where the builder's own defaults are not the chosen size)."""
    if recipe not in Recipe.PRESETS:
        raise ValueError(f"model {name!r}: unknown recipe {recipe!r}")

    def wrap(build):
        MODELS[name] = ModelSpec(name, build, recipe, description, features, dict(options or {}), origin or description)
        return build

    return wrap


def model_spec(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise SignposeError(unknown("model", name, MODELS)) from None


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
