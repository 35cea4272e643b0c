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
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import OUT, report, require_shared  # noqa: E402

from signpose.data.importers import import_npz  # noqa: E402
from signpose.data.synth import synth_dataset  # noqa: E402
from signpose.learn.config import RuntimeConfig, TrainConfig  # noqa: E402
from signpose.learn.training import cross_validate  # noqa: E402

EPOCHS = int(os.environ.get("BENCH_EPOCHS", 60))
MINUTES = float(os.environ.get("BENCH_MINUTES", 1.0))
MODELS = ("lstm", "tcn", "transformer", "islr")


RUNTIME = RuntimeConfig(max_minutes=MINUTES)
SEED_FEATURES = {
    "features": "pose_hands",
    "sampling": "first",
    "normalise": "image",
    "interpolate_gap": 0,
}


def ours(model: str) -> TrainConfig:
    features = {"features": "rich" if model == "islr" else "pose_hands"}
    return TrainConfig(model=model, recipe={"epochs": EPOCHS}, features=features)


def seed_settings(model: str) -> TrainConfig:
    return TrainConfig(
        model=model, recipe={"epochs": EPOCHS}, features=SEED_FEATURES, augment={"name": "seed"}
    )


def folds(dataset: Path, config: TrainConfig, out: Path) -> list[dict]:
    _, results = cross_validate(dataset, out, config, RUNTIME, progress=False)
    return [r.as_dict() for r in results]


def main() -> None:
    import logging

    logging.getLogger("lightning").setLevel(logging.ERROR)
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
        rows.append(
            {
                "model": model,
                "settings": "signpose",
                **{r["signer"]: r["accuracy"] for r in results},
                "mean": np.mean(accs),
                "std": np.std(accs),
            }
        )
    report("accuracy_synthetic", rows, {"epochs cap": EPOCHS, "minutes cap per run": MINUTES})

    rows = []
    for model in MODELS:
        for name, config in (("seed settings", seed_settings(model)), ("signpose", ours(model))):
            results = folds(real, config, root / "runs-real" / f"{model}-{name.replace(' ', '-')}")
            accs = [r["accuracy"] for r in results]
            rows.append(
                {
                    "model": model,
                    "settings": name,
                    **{r["signer"]: r["accuracy"] for r in results},
                    "mean": np.mean(accs),
                }
            )
    # each improvement on its own, on the default model
    base = seed_settings("islr")
    resampled = base.replace(features={"sampling": "resample", "interpolate_gap": 5})
    normalised = resampled.replace(features={"normalise": "body"})
    steps = {
        "seed settings": base,
        "+ whole sign resampled": resampled,
        "+ body normalisation": normalised,
        "+ signpose augmentation": normalised.replace(augment={"name": "default"}),
        "+ rich features (= signpose)": ours("islr"),
    }
    for name, config in steps.items():
        slug = "".join(c if c.isalnum() else "-" for c in name).strip("-")
        results = folds(real, config, root / "runs-real-steps" / slug)
        accs = [r["accuracy"] for r in results]
        rows.append(
            {
                "model": "islr",
                "settings": name,
                **{r["signer"]: r["accuracy"] for r in results},
                "mean": np.mean(accs),
            }
        )
    report(
        "accuracy_recorders",
        rows,
        {
            "epochs cap": EPOCHS,
            "minutes cap per run": MINUTES,
            "test signs": "those the two training recorders also performed",
        },
    )


if __name__ == "__main__":
    main()
