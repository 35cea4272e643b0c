"""Training speed: seconds per epoch of each model on a KArSL-100-sized set (12,000
training sequences of 30 frames), on this machine: each model with its own recipe on the
notebook's 150 features, then islr as 0.1 and 0.2 trained it (the published size) against
today's default (96 wide, one group; hand-centred features, the islr recipe, light
augmentation). Measured over a few batches and scaled to
the epoch's batch count."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import report  # noqa: E402

from signpose.learn.augmentation import AugmentConfig, Augmenter  # noqa: E402
from signpose.model.architectures import MODELS, SignClassifier  # noqa: E402
from signpose.model.features import FeatureConfig, FeaturePipeline  # noqa: E402
from signpose.model.recipes import Recipe  # noqa: E402

TRAIN_SEQUENCES = 12_000


def seconds_per_epoch(
    model_name: str, features: FeatureConfig, recipe: Recipe, augment: AugmentConfig, options: dict | None = None
) -> dict:
    pipeline = FeaturePipeline(features)
    p = pipeline.n_points
    model = SignClassifier(model_name, pipeline, 100, options).train()
    opt = torch.optim.AdamW(model.parameters(), recipe.lr, weight_decay=recipe.weight_decay)
    aug = Augmenter(augment, pipeline.set, seed=0)
    b = recipe.batch_size
    pts, mask, y = torch.randn(b, 30, p, 2), torch.ones(b, 30, p, dtype=torch.bool), torch.randint(0, 100, (b,))
    steps = 8

    def step():
        ap, am = aug(pts, mask)
        loss = torch.nn.functional.cross_entropy(model(ap, am), y, label_smoothing=recipe.label_smoothing)
        opt.zero_grad()
        loss.backward()
        opt.step()

    step()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    per_batch = (time.perf_counter() - t) / steps
    batches = -(-TRAIN_SEQUENCES // b)
    return {
        "features": f"{features.features} ({pipeline.size})",
        "batch": b,
        "s/batch": per_batch,
        "batches/epoch": batches,
        "s/epoch (12,000 seq)": per_batch * batches,
    }


def main() -> None:
    """BENCH_THREADS (default: every core) and BENCH_MODELS (comma-separated; default: all)."""
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", os.cpu_count() or 1)))
    wanted = os.environ.get("BENCH_MODELS", "").split(",") if os.environ.get("BENCH_MODELS") else list(MODELS)
    pose_hands = FeatureConfig(features="pose_hands")  # the notebook's 150 values a frame
    rows = [  # a model that reads one feature set only (gcn) on its own
        {
            "model": name,
            **seconds_per_epoch(
                name,
                pose_hands.replace(features=spec.features) if spec.features else pose_hands,
                Recipe.preset(spec.recipe),
                AugmentConfig.preset("full"),
            ),
        }
        for name, spec in MODELS.items()
        if name in wanted
    ]
    published = {}  # islr at its builder's own size (192 wide, two groups), as 0.1 and 0.2 trained it
    old = seconds_per_epoch("islr", pose_hands, Recipe.preset("islr-0.1"), AugmentConfig.preset("full"), published)
    was = seconds_per_epoch("islr", FeatureConfig(), Recipe.preset("islr"), AugmentConfig(), published)
    new = seconds_per_epoch("islr", FeatureConfig(), Recipe.preset("islr"), AugmentConfig())
    rows += [
        {"model": "islr, 0.1 default", **old},
        {"model": "islr, 0.2 default (192 wide, 2 groups)", **was},
        {"model": "islr, default (96 wide, 1 group)", **new},
    ]
    ratio = new["s/epoch (12,000 seq)"] / old["s/epoch (12,000 seq)"]
    to_02 = new["s/epoch (12,000 seq)"] / was["s/epoch (12,000 seq)"]
    partial = "BENCH_THREADS" in os.environ or "BENCH_MODELS" in os.environ  # kept apart from the full table
    report(
        "training_speed_subset" if partial else "training_speed",
        rows,
        {
            "threads": torch.get_num_threads(),
            "frames": 30,
            "default / 0.1 default (s/epoch)": round(ratio, 2),
            "default / 0.2 default (s/epoch)": round(to_02, 2),
        },
    )


if __name__ == "__main__":
    main()
