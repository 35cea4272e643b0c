"""The model registry: each family registers its builders here by name, with its recipe."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from torch import nn

from ...errors import SignposeError
from ...settings import unknown
from ..recipes import Recipe


@dataclass(frozen=True)
class ModelSpec:
    name: str
    build: Callable[..., nn.Module]  # build(in_features, n_classes, frames, **options)
    recipe: str  # the training recipe it uses unless told otherwise
    description: str
    features: str | None = None  # the feature set it reads unless told otherwise (None: the default)
    options: dict = field(default_factory=dict)  # its default architecture options (`model_options`)
    origin: str = ""  # where the design comes from, and how this copy differs (docs/guide.md's table)


MODELS: dict[str, ModelSpec] = {}


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
