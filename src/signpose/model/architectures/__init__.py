"""Sequence classifiers, by name.

Every model takes features (B, T, F) and a frame mask (B, T) and returns class logits.
`SignClassifier` puts the `FeatureHead` in front, so a saved model takes the prepared
points directly (and so does its ONNX export).

One family a file, each registering itself when imported here: `notebook` (the seed's
`lstm`, `tcn`, `transformer`), `islr` (the stronger model), `cnn` (the baseline), `gcn`
(a skeleton graph network). A new family is a new file with `@register_model` and one
import line below.
"""

# Imported for their registration, in the order `signpose models` lists them.
from . import notebook  # noqa: F401, I001
from . import islr  # noqa: F401
from . import cnn  # noqa: F401
from . import gcn  # noqa: F401
from .classifier import MAX_PARAMETERS, SignClassifier, describe_models
from .registry import MODELS, ModelSpec, count_parameters, model_spec, register_model

__all__ = [
    "MAX_PARAMETERS",
    "MODELS",
    "ModelSpec",
    "SignClassifier",
    "count_parameters",
    "describe_models",
    "model_spec",
    "register_model",
]
