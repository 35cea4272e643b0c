"""Weights of a fused run's streams, fitted on the validation people (`--fusion validation`).

SAM-SLR (Jiang et al., 2021) fuses its four streams by a weighted sum of their scores with
weights tuned on validation data. Here the weights are the point of the simplex with the
least log loss of the weighted mean of the streams' probabilities on the people held out
for validation: a convex problem with one answer, smoother than a grid over accuracy on a
few hundred validation sequences. With --seeds N each seed holds out other people, so each
seed's streams are fitted on that seed's validation people and the seeds are averaged.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from ..data.dataset import Dataset
from ..errors import SignposeError
from ..model.config import TrainConfig
from ..model.features import FeaturePipeline
from ..model.inference import predict_points
from ..model.runs import load_classifier
from .splits import make_split


def fit_weights(probabilities: list[np.ndarray], labels: np.ndarray) -> np.ndarray:
    """Weights (M,), non-negative and summing to 1, that minimise the log loss of
    sum_m w_m * probabilities[m] (each (N, classes)) on the true `labels` (N,)."""
    true = np.stack([p[np.arange(len(labels)), labels] for p in probabilities], 1).astype(np.float64)
    m = true.shape[1]

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        mixed = np.maximum(true @ w, 1e-12)
        return float(-np.log(mixed).mean()), -(true / mixed[:, None]).mean(0)

    result = minimize(
        loss,
        np.full(m, 1 / m),
        jac=True,
        method="SLSQP",
        bounds=[(0.0, 1.0)] * m,
        constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1, "jac": lambda w: np.ones_like(w)}],
    )
    w = np.clip(result.x, 0, None)
    return w / w.sum()


def validation_people(dataset: Dataset, config: TrainConfig) -> list[str]:
    """The people each member of `config` validates on (the first seed's); refuses a fused
    run whose split holds out no training signer whole, before anything is trained."""
    first = config.members()[0][1]
    data = FeaturePipeline(first.features).load(dataset)
    split = make_split(data.rows, first)
    held = split.validation_signers(data.rows)
    if not held:
        raise SignposeError(
            f"{dataset.root}: --fusion validation fits on validation people, and this split holds out none "
            "(it needs 3 or more training signers); use --fusion equal"
        )
    return held


def fit_run_weights(dataset: Dataset, out: Path, config: TrainConfig) -> list[float]:
    """One weight per member of a trained fused run (in `config.members()` order)."""
    members = config.members()
    data = FeaturePipeline(members[0][1].features).load(dataset)  # the streams and seeds read the same points
    weights = np.zeros(len(members))
    for seed in range(config.seed, config.seed + config.seeds):
        group = [i for i, (_, member) in enumerate(members) if member.seed == seed]
        split = make_split(data.rows, members[group[0]][1])  # each seed holds out its own people
        labels = split.labels(data.rows)[split.val]
        pts, mask = data.points[split.val], data.mask[split.val]
        probs = [predict_points(load_classifier(out / members[i][0])[0], pts, mask) for i in group]
        weights[group] = fit_weights(probs, labels) / config.seeds
    return [round(float(w), 6) for w in weights]
