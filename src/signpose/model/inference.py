"""Classification of prepared points by trained classifiers: one model, test-time views,
an ensemble's mean. Used by evaluation (a dataset) and recognition (a video, a stream)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..errors import SignposeError

# Test-time views: small rotations and scalings about each sample's centre, the kinds of
# change the default augmentation trains for, in a fixed order so results are repeatable.
_VIEWS = [(0.0, 1.0), (-8.0, 1.0), (8.0, 1.0), (0.0, 0.92), (0.0, 1.08)]
_VIEWS += [(-4.0, 0.96), (4.0, 1.04), (-4.0, 1.04), (4.0, 0.96)]
MAX_TTA = len(_VIEWS)


def view(points: np.ndarray, mask: np.ndarray, degrees: float, scale: float) -> np.ndarray:
    """Points (B, T, P, 2) rotated and scaled about each sample's centre of present points."""
    if degrees == 0 and scale == 1:
        return points
    weights = mask[..., None].astype(np.float32)
    centre = (points * weights).sum((1, 2), keepdims=True) / np.maximum(weights.sum((1, 2), keepdims=True), 1)
    a = np.deg2rad(degrees)
    rotation = scale * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]], np.float32)
    return (((points - centre) @ rotation.T + centre) * weights).astype(np.float32)


def predict_points(
    classifier: torch.nn.Module, points: np.ndarray, mask: np.ndarray, batch: int = 256, tta: int = 1
) -> np.ndarray:
    """Class probabilities (N, classes) for prepared points; with tta > 1, the mean over
    that many views of each sample (the first view is the sample itself)."""
    check_tta(tta)
    total = None
    for degrees, scale in _VIEWS[:tta]:
        pts = view(points, mask, degrees, scale)
        probs = []
        with torch.no_grad():
            for i in range(0, len(pts), batch):
                logits = classifier(torch.from_numpy(pts[i : i + batch]), torch.from_numpy(mask[i : i + batch]))
                probs.append(torch.softmax(logits, -1).numpy())
        current = np.concatenate(probs) if probs else np.zeros((0, 0), np.float32)
        total = current if total is None else total + current
    return total / tta


def check_tta(tta: int) -> None:
    """The one check of the number of test-time views (`--tta`)."""
    if not 1 <= tta <= MAX_TTA:
        raise SignposeError(f"--tta must be between 1 and {MAX_TTA} views, not {tta}")


def ensemble_probabilities(
    members: Sequence[tuple[torch.nn.Module, np.ndarray, np.ndarray]],
    tta: int = 1,
    weights: Sequence[float] | None = None,
) -> np.ndarray:
    """The mean of several models' probabilities, each on its own prepared points (members
    may use different features): [(classifier, points, mask), ...] -> (N, classes);
    `weights` (summing to 1) make it a weighted mean."""
    weights = [1 / len(members)] * len(members) if weights is None else weights
    if len(weights) != len(members):
        raise ValueError(f"{len(weights)} weights for {len(members)} models")
    return sum(
        w * predict_points(classifier, points, mask, tta=tta)
        for (classifier, points, mask), w in zip(members, weights, strict=True)
    )
