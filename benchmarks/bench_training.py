"""Training speed: seconds per epoch of each model on a KArSL-100-sized set (12,000
training sequences of 30 frames x 150 features), on this machine. Measured over a few
batches and scaled to the epoch's batch count."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import report  # noqa: E402

from signpose.learn.augmentation import AugmentConfig, Augmenter  # noqa: E402
from signpose.learn.features import FeatureConfig, FeaturePipeline  # noqa: E402
from signpose.learn.models import MODELS, SignClassifier  # noqa: E402
from signpose.learn.recipes import Recipe  # noqa: E402

TRAIN_SEQUENCES = 12_000


def main() -> None:
    torch.set_num_threads(os.cpu_count() or 1)
    rows = []
    for name, spec in MODELS.items():
        pipeline = FeaturePipeline(FeatureConfig(features="pose_hands"))  # 150 values a frame here
        p = pipeline.n_points
        recipe = Recipe.preset(spec.recipe)
        model = SignClassifier(name, pipeline, 100).train()
        opt = torch.optim.Adam(model.parameters(), recipe.lr)
        aug = Augmenter(AugmentConfig(), pipeline.set, seed=0)
        b = recipe.batch_size
        pts, mask, y = (
            torch.randn(b, 30, p, 2),
            torch.ones(b, 30, p, dtype=torch.bool),
            torch.randint(0, 100, (b,)),
        )
        steps = 8

        def step():
            ap, am = aug(pts, mask)
            loss = torch.nn.functional.cross_entropy(model(ap, am), y)
            opt.zero_grad()
            loss.backward()
            opt.step()

        step()
        t = time.perf_counter()
        for _ in range(steps):
            step()
        per_batch = (time.perf_counter() - t) / steps
        batches = -(-TRAIN_SEQUENCES // b)
        rows.append(
            {
                "model": name,
                "batch": b,
                "s/batch": per_batch,
                "batches/epoch": batches,
                "s/epoch (12,000 seq)": per_batch * batches,
            }
        )
    report(
        "training_speed",
        rows,
        {"threads": torch.get_num_threads(), "input": "30 frames x 150 features"},
    )


if __name__ == "__main__":
    main()
