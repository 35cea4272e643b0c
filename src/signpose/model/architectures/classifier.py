"""The whole classifier: the feature head in front of a registered model, so a saved model
takes the prepared points directly (and so does its ONNX export)."""

from __future__ import annotations

import functools
import json

import torch
from torch import nn

from ...errors import SignposeError
from ..features import FeatureConfig, FeaturePipeline
from .registry import MODELS, check_model, count_parameters, model_spec

MAX_PARAMETERS = 200_000_000  # about 0.8 GB of weights, far above any sign model; a typo above it


class SignClassifier(nn.Module):
    """Prepared points (B, T, P, 2) + mask (B, T, P) -> logits (B, classes); without options,
    the model's own (its registered default size)."""

    def __init__(self, model: str, pipeline: FeaturePipeline, n_classes: int, options: dict | None = None):
        super().__init__()
        spec = model_spec(model)
        options = spec.options if options is None else options
        self.pipeline = pipeline  # stage 1 (numpy), which the loaded model reads its points through
        self.features = pipeline.head()
        build = functools.partial(spec.build, pipeline.size, n_classes, pipeline.config.frames, **(options or {}))
        try:
            with torch.device("meta"):  # sized without memory first: one option can ask for gigabytes
                sized = build()
            check_model(model, sized, n_classes)
            size = count_parameters(sized)
            if size > MAX_PARAMETERS:
                raise SignposeError(
                    f"model {model!r} with options {options} would have {size:,} parameters, more than "
                    f"{MAX_PARAMETERS:,}; choose smaller --model-options"
                )
            self.model = build()
        except (TypeError, ValueError, RuntimeError) as e:
            raise SignposeError(f"model {model!r} does not take these options {options}: {e}") from None

    def forward(self, points, mask):
        x, frame_mask = self.features(points, mask)
        return self.model(x, frame_mask)


def describe_models(features: FeatureConfig | None = None, n_classes: int = 100) -> list[dict]:
    """Name, parameters, input shape and default recipe of each model (`signpose models`);
    a model that reads one feature set only (gcn) is sized on its own."""
    given = features or FeatureConfig()
    rows = []
    for name, spec in MODELS.items():
        own = given.replace(features=spec.features) if spec.features else given
        pipeline = FeaturePipeline(own)
        model = spec.build(pipeline.size, n_classes, pipeline.config.frames, **spec.options)
        rows.append(
            {
                "model": name,
                "parameters": count_parameters(model),
                "recipe": spec.recipe,
                "options": json.dumps(spec.options) if spec.options else "",
                "input": f"{pipeline.config.frames} x {pipeline.size}",
                "description": spec.description,
            }
        )
    return rows
