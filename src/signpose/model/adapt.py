"""Adapting a trained model to a new person without labels: AdaBN (Li et al. 2016,
"Revisiting Batch Normalization for Practical Domain Adaptation"). A model's batch
normalisation statistics are those of its training people; re-estimated on the new
person's own recordings (their points only, never their signs), the layers normalise that
person as they normalised the training people. Nothing else changes."""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

ADAPTATIONS = ("none", "batchnorm")


def batchnorm_layers(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def adapt_batchnorm(classifier: nn.Module, points: np.ndarray, mask: np.ndarray, batch_size: int = 256) -> nn.Module:
    """A copy of `classifier` whose batch-norm statistics are re-estimated on these prepared
    points (N, T, P, 2) of one person: every sample weighs the same (a cumulative mean over
    batches, weighted by their sizes). A model without batch norm comes back unchanged."""
    model = copy.deepcopy(classifier).eval()
    layers = batchnorm_layers(model)
    if not layers or len(points) == 0:
        return model
    sums: list[tuple[torch.Tensor, torch.Tensor]] = []
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = 1.0  # each forward leaves exactly its own batch's statistics
        layer.train()
        sums.append((torch.zeros_like(layer.running_mean), torch.zeros_like(layer.running_var)))
    total = 0
    with torch.no_grad():
        for start in range(0, len(points), batch_size):
            pts = torch.from_numpy(np.ascontiguousarray(points[start : start + batch_size]))
            m = torch.from_numpy(np.ascontiguousarray(mask[start : start + batch_size]))
            model(pts, m)
            for layer, (mean, var) in zip(layers, sums, strict=True):
                mean += layer.running_mean * len(pts)
                var += layer.running_var * len(pts)
            total += len(pts)
    for layer, (mean, var) in zip(layers, sums, strict=True):
        layer.running_mean.copy_(mean / total)
        layer.running_var.copy_(var / total)
        layer.eval()
    return model
