"""The settings of a training run: what the run is (`TrainConfig`, saved as config.json and
compared when a run is resumed). How one process runs it (devices, workers, time limit)
is `learn.runtime.RuntimeConfig`, free to change between a run and its resumption."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from ..settings import Settings, unknown
from .architectures import MODELS
from .augmentation import AugmentConfig
from .features import FEATURE_SETS, STREAMS, FeatureConfig
from .recipes import Recipe


class TrainConfig(Settings):
    """One training run. Defaults follow the seed notebook where it has a setting."""

    model: str = Field(
        "islr",
        description=f"architecture (`signpose models` lists them): {', '.join(MODELS)}",
    )
    split: Literal["signer", "mixed", "official"] = Field(
        "signer",
        description="signer: test on a signer never seen in training; mixed: signer-dependent comparison; "
        "official: the data set's published train/val/test split (AUTSL, WLASL, ASL Citizen: its layout records it)",
    )
    test_signer: str | None = Field(None, description="the signer held out for testing (default: the last one)")
    val_fraction: float | None = Field(
        None,
        ge=0,
        lt=1,
        description="share of the training signers' samples kept for validation (default: 0 with a "
        "recipe of fixed epochs that keeps the last weights, where validation would choose nothing "
        "and its people train instead; 0.2 with one that stops early or keeps the best, and for "
        "--fusion validation)",
    )
    validation: Literal["auto", "signers", "samples"] = Field(
        "auto",
        description="validate on held-out training signers, on a share of their samples, or auto: "
        "signers when there are 3 or more",
    )
    seed: int = Field(42, ge=0, description="random seed of the split, the initial weights and augmentation")
    seeds: int = Field(
        1,
        ge=1,
        le=20,
        description="models trained, with seeds seed, seed+1, ...; from 2 the run is an ensemble that "
        "averages their probabilities (each model in RUN/seed<S>/)",
    )
    streams: list[Literal[STREAMS]] = Field(
        default_factory=list,
        description="graph views trained as one fused run, one model each (RUN/<stream>/, or "
        "RUN/<stream>-seed<S>/ with --seeds), their probabilities averaged: e.g. "
        "joint,bone,joint_motion,bone_motion (empty: one model on --stream)",
    )
    fusion: Literal["equal", "validation"] = Field(
        "equal",
        description="how a fused run (--streams) weighs its streams: equal, or validation: weights "
        "fitted on the held-out validation people (least log loss of the weighted mean, as SAM-SLR "
        "tunes its stream weights on validation data; needs 3 or more training signers)",
    )
    init_from: str | None = Field(
        None,
        description="start from this run's weights (same model and features): the body is kept, the "
        "classifier layer is new for the signs it did not know",
    )
    freeze_epochs: int = Field(
        0, ge=0, description="with --init-from: train only the classifier layer for this many first epochs"
    )
    features: FeatureConfig = Field(default_factory=FeatureConfig)
    augment: AugmentConfig = Field(default_factory=AugmentConfig, description="augmentation")
    recipe: Recipe = Field(default_factory=Recipe, description="training recipe (default: the model's own)")
    model_options: dict[str, Any] | None = Field(
        None,
        description='architecture options as JSON, e.g. \'{"dim": 192, "groups": 2}\' for islr at '
        "its published size (default: the model's own, `signpose models`; options given replace "
        "them, and those left out take the architecture's)",
    )

    @model_validator(mode="before")
    @classmethod
    def _model_defaults(cls, data: Any) -> Any:
        """Without a recipe name, a run trains with its model's own recipe; without a
        feature set, on its model's own (for a model that reads one kind: gcn)."""
        if isinstance(data, dict):
            model = data.get("model", cls.model_fields["model"].default)
            spec = MODELS.get(model) if isinstance(model, str) else None
            recipe = data.get("recipe") or {}
            if isinstance(recipe, dict) and "name" not in recipe and spec is not None:
                data = {**data, "recipe": {**recipe, "name": spec.recipe}}
            features = data.get("features") or {}
            if isinstance(features, dict) and "features" not in features and spec is not None and spec.features:
                data = {**data, "features": {**features, "features": spec.features}}
            if data.get("model_options") is None and spec is not None:
                data = {**data, "model_options": dict(spec.options)}
            if data.get("val_fraction") is None:
                data = {**data, "val_fraction": _default_val_fraction(data)}
            streams = data.get("streams")
            if isinstance(streams, str | list):  # --streams joint,bone as well as --streams joint bone
                parts = [streams] if isinstance(streams, str) else streams
                data = {**data, "streams": [x.strip() for p in parts for x in str(p).split(",") if x.strip()]}
        return data

    @model_validator(mode="after")
    def _streams_fit(self) -> TrainConfig:
        if self.streams:
            if len(set(self.streams)) != len(self.streams):
                raise ValueError(f"streams must differ, not {','.join(self.streams)}")
            if FEATURE_SETS[self.features.features].graph is None:
                raise ValueError(f"streams need a graph feature set (graph27), not {self.features.features}")
        if self.fusion == "validation":
            if len(self.streams) < 2:
                raise ValueError("fusion validation weighs two or more streams: give --streams, e.g. joint,bone")
            if self.validation == "samples":
                raise ValueError(
                    "fusion validation fits on people never seen in training, not with --validation samples"
                )
            if self.val_fraction == 0:
                raise ValueError(
                    "fusion validation fits the weights on validation people: --val-fraction must be above 0"
                )
        return self

    def members(self) -> list[tuple[str, TrainConfig]]:
        """The models of a fused or seed ensemble run: (folder name, settings) each."""
        seeds = range(self.seed, self.seed + self.seeds)
        if not self.streams:
            return [(f"seed{s}", self.replace(seed=s, seeds=1)) for s in seeds]
        one = self.seeds == 1
        return [
            (
                stream if one else f"{stream}-seed{s}",
                self.replace(seed=s, seeds=1, streams=[], fusion="equal", features={"stream": stream}),
            )
            for stream in self.streams
            for s in seeds
        ]

    @model_validator(mode="after")
    def _freeze_needs_init(self) -> TrainConfig:
        if self.freeze_epochs and not self.init_from:
            raise ValueError("freeze_epochs keeps a started body: give --init-from RUN too")
        return self

    @model_validator(mode="after")
    def _seeds_fit(self) -> TrainConfig:
        if self.seed + self.seeds - 1 > 2**32 - 1:  # numpy and torch take seeds below 2**32
            raise ValueError(f"seed + seeds - 1 must be at most {2**32 - 1}; the seed is {self.seed}")
        return self

    @field_validator("model")
    @classmethod
    def _known_model(cls, name: str) -> str:
        if name not in MODELS:
            raise ValueError(unknown("model", name, MODELS))
        return name


def _default_val_fraction(data: dict) -> float:
    """No validation people where validation would choose nothing: a recipe of fixed epochs
    that keeps the last weights (people held out for it are people the model never learns
    from: +0.015 [+0.001, +0.031] per unseen person over 3 seeds, README "Accuracy on people
    never seen"); 0.2 where it chooses (early stopping, the best checkpoint, fitted fusion)."""
    if data.get("fusion") == "validation":
        return 0.2
    recipe = data.get("recipe")
    try:
        recipe = recipe if isinstance(recipe, Recipe) else Recipe.model_validate(recipe)
    except ValueError:
        return 0.2  # the recipe's own error is reported where it is checked
    return 0.2 if recipe.needs_validation else 0.0
