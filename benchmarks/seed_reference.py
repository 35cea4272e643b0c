"""The seed notebook's augmentation, as written there (Python loops included): what the
vectorised augmentation is measured against (bench_data.py) and checked against
(tests/test_splits_augmentation.py). Not part of the package: it is the comparison."""

from __future__ import annotations

import numpy as np


def seed_augment_rotation(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros_like(x)
    for ex in range(x.shape[0]):
        theta = np.radians(int(rng.integers(-5, 6)))
        c, s = np.cos(theta), np.sin(theta)
        rotation = np.array(((c, -s), (s, c)))
        for frame in range(x.shape[1]):
            window = []
            for i in range(0, x.shape[2] - 1, 2):
                rotated = np.dot(rotation, np.array([x[ex][frame][i], x[ex][frame][i + 1]]))
                window.extend([rotated[0], rotated[1]])
            out[ex][frame] = np.array(window)
    return out


def seed_augment_scale(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros_like(x)
    for ex in range(x.shape[0]):
        factor = round(float(rng.random()), 2)
        for frame in range(x.shape[1]):
            out[ex][frame] = x[ex][frame] * factor
    return out
