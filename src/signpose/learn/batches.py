"""Training batches: indices into prepared points, gathered and augmented in one
vectorised call per batch (no per-sample Python work), and the loaders that draw them."""

from __future__ import annotations

import numpy as np
import torch

from ..model.features import PointData
from .augmentation import Augmenter


class PointBatches(torch.utils.data.Dataset):
    """Indices into prepared points; batches are gathered and augmented in `collate`. Each
    sample carries its signer's index among the training signers (-1: not one of them)."""

    def __init__(self, data: PointData, labels: np.ndarray, indices: np.ndarray, signers: np.ndarray | None = None):
        self.points = torch.from_numpy(np.ascontiguousarray(data.points))
        self.mask = torch.from_numpy(np.ascontiguousarray(data.mask))
        self.labels = torch.from_numpy(labels.astype(np.int64))
        self.signers = torch.from_numpy(
            np.full(len(labels), -1, dtype=np.int64) if signers is None else signers.astype(np.int64)
        )
        self.indices = torch.from_numpy(np.asarray(indices, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> int:
        return int(self.indices[i])


class Collate:
    """Gathers a batch by index and augments it in one vectorised call."""

    def __init__(self, source: PointBatches, augmenter: Augmenter | None):
        self.source = source
        self.augmenter = augmenter

    def __call__(self, idx: list[int]):
        idx_t = torch.tensor(idx)
        pts, mask = self.source.points[idx_t], self.source.mask[idx_t]
        if self.augmenter is not None:
            pts, mask = self.augmenter(pts, mask)
        return pts, mask, self.source.labels[idx_t], self.source.signers[idx_t]


def make_loader(
    source: PointBatches,
    batch_size: int,
    augmenter: Augmenter | None,
    shuffle: bool,
    seed: int,
    num_workers: int = 0,
) -> torch.utils.data.DataLoader:
    gen = torch.Generator().manual_seed(seed)
    return torch.utils.data.DataLoader(
        source,
        batch_size=batch_size,
        shuffle=shuffle,
        generator=gen,
        collate_fn=Collate(source, augmenter),
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
    )
