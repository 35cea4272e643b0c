"""Signer-independent accuracy: how well is a person never seen recognised? (issue: accuracy)

Real people (../shared/data), leave-one-signer-out:
  kaggle     Google ISLR asl-signs, 6 participants x 2 signs x 8: 6 folds
  recorders  three people in the notebook's format, 7 signs: 3 folds, each tested on the
             signs the two others also performed
Synthetic (kept apart, never in a mean with the real ones): 3 signers x 10 signs x 20.

Every configuration runs the same number of epochs (BENCH_EPOCHS, no early stopping, no
time cap) with BENCH_SEEDS seeds; each cell is the mean ± std over the seeds, the last
column the mean over folds ± its std over seeds. Runs are kept under
bench-output/accuracy/ and reused, so an interrupted benchmark resumes.

    python benchmarks/bench_accuracy.py                      # everything
    BENCH_SETS=kaggle BENCH_CONFIGS="cnn baseline,default" BENCH_ABLATIONS="" python benchmarks/bench_accuracy.py
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import OUT, report, require_shared  # noqa: E402

from signpose.data.importers import import_kaggle, import_npz  # noqa: E402
from signpose.data.synth import synth_dataset  # noqa: E402
from signpose.learn.config import TrainConfig  # noqa: E402
from signpose.learn.training import cross_validate  # noqa: E402
from signpose.settings import build, deep_merge  # noqa: E402

EPOCHS = int(os.environ.get("BENCH_EPOCHS", 80))
SEEDS = [int(s) for s in os.environ.get("BENCH_SEEDS", "0,1,2").split(",")]
SEED_FEATURES = {
    "features": "pose_hands",
    "sampling": "first",
    "normalise": "image",
    "interpolate_gap": 0,
}

# Each model as its own defaults have it, the seed notebook's settings, the plain
# 1D-CNN baseline, and signpose's default (whatever `signpose train` runs).
CONFIGS: dict[str, dict] = {
    "seed settings (lstm)": {
        "model": "lstm",
        "features": SEED_FEATURES,
        "augment": {"name": "seed"},
    },
    "seed settings (transformer)": {
        "model": "transformer",
        "features": SEED_FEATURES,
        "augment": {"name": "seed"},
    },
    "cnn baseline": {
        "model": "cnn",
        "features": {"features": "hands"},
        "augment": {"name": "light"},
    },
    "lstm": {"model": "lstm"},
    "tcn": {"model": "tcn"},
    "transformer": {"model": "transformer"},
    "islr, 0.1 settings": {
        "model": "islr",
        "features": {"features": "pose_hands"},
        "recipe": {"name": "islr"},
    },
    "default": {},
    # candidates for the new default: the baseline's recipe with what the ablations support
    "candidate: cnn + hand-centred + dominant right": {
        "model": "cnn",
        "features": {"features": "hand_centred", "dominant_hand": "right"},
        "augment": {"name": "light"},
    },
    "candidate: islr + hand-centred + dominant right (cnn recipe)": {
        "model": "islr",
        "recipe": {"name": "cnn"},
        "features": {"features": "hand_centred", "dominant_hand": "right"},
        "augment": {"name": "light"},
    },
}

# One change at a time, from the baseline, each with its effect and spread.
ABLATION_BASE = {"model": "cnn", "features": {"features": "hands"}, "augment": {"name": "light"}}
ABLATIONS: dict[str, dict] = {
    "+ hand-centred features": {"features": {"features": "hand_centred"}},
    "+ dominant hand on the right": {"features": {"dominant_hand": "right"}},
    "+ full augmentation": {"augment": {"name": "default"}},
    "+ mirroring 0.5": {"augment": {"mirror_p": 0.5}},
    "+ 64 frames": {"features": {"frames": 64}},
    "+ pose_hands features": {"features": {"features": "pose_hands"}},
    "islr model (cnn recipe)": {"model": "islr", "recipe": {"name": "cnn"}},
}


def datasets() -> dict[str, Path]:
    root = OUT / "accuracy" / "data"
    sets = {}
    if not (root / "kaggle" / "manifest.csv").is_file():
        import_kaggle(require_shared("kaggle_asl_signs"), root / "kaggle", progress=False)
    sets["kaggle"] = root / "kaggle"
    if not (root / "recorders" / "manifest.csv").is_file():
        import_npz(
            require_shared("keypoints", "mp_data_3recorders_1662.npz"),
            root / "recorders",
            progress=False,
        )
    sets["recorders"] = root / "recorders"
    if not (root / "synthetic" / "manifest.csv").is_file():
        synth_dataset(root / "synthetic", signers=3, signs=10, reps=20, seed=0, progress=False)
    sets["synthetic"] = root / "synthetic"
    wanted = os.environ.get("BENCH_SETS")
    return {k: v for k, v in sets.items() if not wanted or k in wanted.split(",")}


def settings(overrides: dict, seed: int) -> TrainConfig:
    """The configuration with equal epochs for all: no early stopping, no time cap."""
    config = build(TrainConfig, overrides)
    return config.replace(seed=seed, recipe={"epochs": EPOCHS, "early_stopping": False})


def run(dataset: Path, name: str, overrides: dict) -> dict:
    """Every fold with every seed: {"folds": {signer: [acc per seed]}, "epochs": [...]}."""
    slug = "".join(c if c.isalnum() else "-" for c in name).strip("-")
    folds: dict[str, list[float]] = {}
    for seed in SEEDS:
        out = OUT / "accuracy" / dataset.name / slug / f"seed{seed}"
        _, results = cross_validate(dataset, out, settings(overrides, seed), progress=False)
        for r in results:
            folds.setdefault(r.signer, []).append(r.accuracy)
    return folds


def row(name: str, folds: dict[str, list[float]]) -> dict:
    per_seed = np.array(list(folds.values())).mean(axis=0)  # fold mean, one value per seed
    cells = {signer: f"{np.mean(a):.3f} ± {np.std(a):.3f}" for signer, a in folds.items()}
    return {
        "configuration": name,
        **cells,
        "mean": f"{per_seed.mean():.3f} ± {per_seed.std():.3f}",
        "_mean": float(per_seed.mean()),
    }


def _chosen(table: dict[str, dict], variable: str) -> dict[str, dict]:
    """All entries, or those named (comma-separated) in the environment variable ("" = none)."""
    names = os.environ.get(variable)
    return table if names is None else {k: v for k, v in table.items() if k in names.split(",")}


def main() -> None:
    logging.getLogger("lightning").setLevel(logging.ERROR)
    configs, ablations = _chosen(CONFIGS, "BENCH_CONFIGS"), _chosen(ABLATIONS, "BENCH_ABLATIONS")
    notes = {
        "epochs (every run)": EPOCHS,
        "seeds": ",".join(map(str, SEEDS)),
        "cell": "mean ± std over seeds",
    }
    for set_name, dataset in datasets().items():
        rows = [row(name, run(dataset, name, overrides)) for name, overrides in configs.items()]
        report(
            f"accuracy_{set_name}",
            [{k: v for k, v in r.items() if k != "_mean"} for r in rows],
            notes,
        )
        if not ablations or set_name == "synthetic":
            continue
        base = row(
            "baseline (cnn, hands, light augmentation)",
            run(dataset, "ablation base", ABLATION_BASE),
        )
        steps = [base]
        for name, change in ablations.items():
            steps.append(row(name, run(dataset, f"ablation {name}", deep_merge(ABLATION_BASE, change))))
        for r in steps:
            r["effect"] = f"{r['_mean'] - base['_mean']:+.3f}"
        report(
            f"ablation_{set_name}",
            [{k: v for k, v in r.items() if k != "_mean"} for r in steps],
            notes,
        )


if __name__ == "__main__":
    main()
