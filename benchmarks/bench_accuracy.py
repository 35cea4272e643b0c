"""Signer-independent accuracy, every model, every fold (issue: training and evaluation).

A. Synthetic data (3 signers x 10 signs x 20 repetitions): leave-one-signer-out.
B. Real recordings of three different people (../shared/data/keypoints, notebook format):
   leave-one-recorder-out over the signs each test recorder shares with the others, every
   model with signpose's defaults and with the seed's settings (first 30 frames, raw image
   coordinates, the notebook's augmentation), so the effect of each change is visible.

Runs are kept under bench-output/accuracy/ and a rerun reuses finished ones.
Budget: each run stops after EPOCHS epochs or MINUTES minutes.
"""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import OUT, report, require_shared  # noqa: E402

from signpose.config import AugmentConfig, FeatureConfig, TrainConfig  # noqa: E402

EPOCHS = int(os.environ.get("BENCH_EPOCHS", 60))
MINUTES = float(os.environ.get("BENCH_MINUTES", 1.0))
MODELS = ("lstm", "tcn", "transformer", "islr")


def ours(model: str) -> TrainConfig:
    feats = FeatureConfig(features="rich" if model == "islr" else "pose_hands")
    return TrainConfig(model=model, epochs=EPOCHS, max_minutes=MINUTES, features=feats)


def seed_settings(model: str) -> TrainConfig:
    feats = FeatureConfig(features="pose_hands", sampling="first", normalise="image", interpolate_gap=0)
    return TrainConfig(model=model, epochs=EPOCHS, max_minutes=MINUTES, features=feats, augment=AugmentConfig.seed())


def folds(dataset: Path, config: TrainConfig, out: Path) -> list[dict]:
    from signpose.training import cross_validate

    _, results = cross_validate(dataset, out, config, progress=False)
    return results


def main() -> None:
    import logging

    logging.getLogger("lightning").setLevel(logging.ERROR)
    from signpose.importers import import_npz
    from signpose.synth import synth_dataset

    root = OUT / "accuracy"
    synth = root / "synth"
    if not (synth / "manifest.csv").is_file():
        synth_dataset(synth, signers=3, signs=10, reps=20, seed=0, progress=False)
    real = root / "recorders"
    if not (real / "manifest.csv").is_file():
        import_npz(require_shared("keypoints", "mp_data_3recorders_1662.npz"), real, progress=False)

    rows = []
    for model in MODELS:
        results = folds(synth, ours(model), root / "runs-synth" / model)
        accs = [r["accuracy"] for r in results]
        rows.append({"model": model, "settings": "signpose", **{r["signer"]: r["accuracy"] for r in results},
                     "mean": np.mean(accs), "std": np.std(accs)})  # fmt: skip
    report("accuracy_synthetic", rows, {"epochs cap": EPOCHS, "minutes cap per run": MINUTES})

    rows = []
    for model in MODELS:
        for name, config in (("seed settings", seed_settings(model)), ("signpose", ours(model))):
            results = folds(real, config, root / "runs-real" / f"{model}-{name.replace(' ', '-')}")
            accs = [r["accuracy"] for r in results]
            rows.append({"model": model, "settings": name, **{r["signer"]: r["accuracy"] for r in results},
                         "mean": np.mean(accs)})  # fmt: skip
    # each improvement on its own, on the default model
    base = seed_settings("islr")
    steps = {
        "seed settings": base,
        "+ whole sign resampled": replace(base, features=replace(base.features, sampling="resample", interpolate_gap=5)),
        "+ body normalisation": replace(base, features=replace(base.features, sampling="resample", interpolate_gap=5,
                                                               normalise="body")),
        "+ signpose augmentation": replace(base, augment=AugmentConfig(), features=replace(
            base.features, sampling="resample", interpolate_gap=5, normalise="body")),
        "+ rich features (= signpose)": ours("islr"),
    }  # fmt: skip
    for name, config in steps.items():
        slug = "".join(c if c.isalnum() else "-" for c in name).strip("-")
        results = folds(real, config, root / "runs-real-steps" / slug)
        accs = [r["accuracy"] for r in results]
        rows.append({"model": "islr", "settings": name, **{r["signer"]: r["accuracy"] for r in results},
                     "mean": np.mean(accs)})  # fmt: skip
    report("accuracy_recorders", rows, {"epochs cap": EPOCHS, "minutes cap per run": MINUTES,
                                        "test signs": "those the two training recorders also performed"})  # fmt: skip


if __name__ == "__main__":
    main()
