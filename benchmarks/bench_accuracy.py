"""Signer-independent accuracy: how well is a person never seen recognised? (issue: accuracy)

Real people (../shared/data), leave-one-signer-out:
  kaggle     Google ISLR asl-signs, 6 participants x 2 signs x 8: 6 folds
  recorders  three people in the notebook's format, 7 signs: 3 folds, each tested on the
             signs the two others also performed
  asl-signs -> recorders  each asl-signs run tested on the recorders who performed both
             of its signs: another source, other people, other cameras
Synthetic (kept apart, never in a mean with the real ones): 3 signers x 10 signs x 20.

Every configuration runs the same number of epochs (BENCH_EPOCHS, no early stopping, no
time cap) with BENCH_SEEDS seeds; each cell is the mean ± std over the seeds, the last
column the mean over folds ± its std over seeds. Runs are kept under
bench-output/accuracy/ and reused, so an interrupted benchmark resumes.

    python benchmarks/bench_accuracy.py                      # everything
    BENCH_SETS=kaggle BENCH_CONFIGS="cnn baseline,default" BENCH_ABLATIONS="" python benchmarks/bench_accuracy.py
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import OUT, report, require_shared  # noqa: E402

from signpose.data.importers import import_kaggle, import_npz  # noqa: E402
from signpose.data.synth import synth_dataset  # noqa: E402
from signpose.learn.evaluation import evaluate
from signpose.learn.training import cross_validate  # noqa: E402
from signpose.model.config import TrainConfig  # noqa: E402
from signpose.settings import build, deep_merge, load_json  # noqa: E402

EPOCHS = int(os.environ.get("BENCH_EPOCHS", 80))
SEEDS = [int(s) for s in os.environ.get("BENCH_SEEDS", "0,1,2").split(",")]
TTA = 5
SEED_FEATURES = {
    "features": "pose_hands",
    "sampling": "first",
    "normalise": "image",
    "interpolate_gap": 0,
    "dominant_hand": "as-recorded",
}
# The plain 1D-CNN: body-normalised hands, rotation and scale, its own recipe.
BASELINE = {
    "model": "cnn",
    "features": {"features": "hands", "dominant_hand": "as-recorded"},
    "augment": {"name": "light"},
}

# Each model as its own defaults have it, the seed notebook's settings, the plain
# 1D-CNN baseline, 0.1's default, and signpose's default (whatever `signpose train` runs).
CONFIGS: dict[str, dict] = {
    "seed settings (lstm)": {"model": "lstm", "features": SEED_FEATURES, "augment": {"name": "seed"}},
    "seed settings (transformer)": {"model": "transformer", "features": SEED_FEATURES, "augment": {"name": "seed"}},
    "cnn baseline": BASELINE,
    "lstm": {"model": "lstm"},
    "tcn": {"model": "tcn"},
    "transformer": {"model": "transformer"},
    "0.1 default (islr on pose_hands)": {
        "model": "islr",
        "features": {"features": "pose_hands", "dominant_hand": "as-recorded"},
        "augment": {"name": "full"},
        "recipe": {"name": "islr-0.1"},
    },
    "cnn + hand-centred + dominant right": deep_merge(
        BASELINE, {"features": {"features": "hand_centred", "dominant_hand": "right"}}
    ),
    "default (islr + hand-centred + dominant right)": {},
    "default + the frame's shape from the face": {"features": {"aspect": "face"}},
    "default + warm-up and cosine (islr-cosine)": {"recipe": {"name": "islr-cosine"}},
    "default + late dropout + mixup + EMA (islr-winners)": {"recipe": {"name": "islr-winners"}},
    "default + late dropout 0.8": {"recipe": {"late_dropout": 0.8}},
    "default + mixup 0.2": {"recipe": {"mixup": 0.2}},
    "default + EMA weights (1 epoch)": {"recipe": {"ema_epochs": 1.0}},
    "default + AWP 0.2 (islr-awp)": {"recipe": {"name": "islr-awp"}},
    # The default with one of its changes from 0.1's default taken back: which costs on synthetic data?
    "default with 0.1's pose_hands features": {"features": {"features": "pose_hands"}},
    "default with the dominant hand as recorded": {"features": {"dominant_hand": "as-recorded"}},
    "default with 0.1's full augmentation": {"augment": {"name": "full"}},
    "default with 0.1's recipe (islr-0.1)": {"recipe": {"name": "islr-0.1"}},
}

# One change at a time, from the baseline, each with its effect and spread.
ABLATION_BASE = BASELINE
ABLATIONS: dict[str, dict] = {
    "+ hand-centred features": {"features": {"features": "hand_centred"}},
    "+ dominant hand on the right": {"features": {"dominant_hand": "right"}},
    "+ full augmentation": {"augment": {"name": "full"}},
    "+ mirroring 0.5": {"augment": {"mirror_p": 0.5}},
    "+ 64 frames": {"features": {"frames": 64}},
    "+ the frame's shape from the face": {"features": {"aspect": "face"}},
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


def other_source() -> Path:
    """The recorders' `hello` and `thanks` (asl-signs calls it `thankyou`): the signs the
    asl-signs runs know, from other people filmed with other cameras in other frame shapes."""
    root = OUT / "accuracy" / "data" / "recorders-hello-thankyou"
    if not (root / "manifest.csv").is_file():
        with np.load(require_shared("keypoints", "mp_data_3recorders_1662.npz")) as z:
            keep = np.isin(z["label"], ["hello", "thanks"])
            subset = {k: z[k][keep] for k in z.files}
        subset["label"] = np.where(subset["label"] == "thanks", "thankyou", subset["label"])
        root.parent.mkdir(parents=True, exist_ok=True)
        np.savez(root.with_suffix(".npz"), **subset)
        import_npz(root.with_suffix(".npz"), root, progress=False)
    return root


def across_sources(names: list[str]) -> list[dict]:
    """Each asl-signs run (every fold and seed) tested on the recorders who performed both
    hello and thanks."""
    target = other_source()
    done = finished_runs(OUT / "accuracy" / "data" / "kaggle")
    rows = []
    for name in names:
        found = [done.get((key(settings(CONFIGS[name], seed)), seed)) for seed in SEEDS]
        if None in found:
            continue
        per_seed: dict[str, list[float]] = {}
        for path, _ in found:
            folds = sorted(path.glob("test-*"))
            for signer in ("recorder_a", "recorder_c"):  # recorder_b performed only hello: nothing to tell apart
                accuracy = np.mean([evaluate(fold, target, signer=signer).accuracy for fold in folds])
                per_seed.setdefault(signer, []).append(float(accuracy))
        rows.append(row(name, per_seed))
    return rows


def settings(overrides: dict, seed: int) -> TrainConfig:
    """The configuration with equal epochs for all: no early stopping, no time cap."""
    config = build(TrainConfig, overrides)
    return config.replace(seed=seed, recipe={"epochs": EPOCHS, "early_stopping": False})


def key(config: TrainConfig) -> str:
    """What a configuration is, whatever its name: the resolved settings, less the seed,
    the fold and the names of presets (labels, not values)."""
    values = config.model_dump(mode="json", exclude={"seed", "test_signer"})
    for section in ("augment", "recipe"):
        values[section].pop("name")
    return hashlib.sha1(json.dumps(values, sort_keys=True).encode()).hexdigest()[:10]


_SAVED: dict[Path, TrainConfig] = {}  # config.json files read so far: each is read once


def finished_runs(dataset: Path) -> dict[tuple[str, int], tuple[Path, TrainConfig]]:
    """Runs already under bench-output, found by their saved configuration, so a renamed
    configuration or a changed default reuses exactly the runs that match it (with the
    saved settings, whose preset names may differ from today's)."""
    runs = {}
    for config_file in sorted((OUT / "accuracy" / dataset.name).glob("*/seed*/test-*/config.json")):
        if config_file not in _SAVED:
            _SAVED[config_file] = build(TrainConfig, load_json(config_file))
        config = _SAVED[config_file]
        runs.setdefault((key(config), config.seed), (config_file.parent.parent, config))
    return runs


def run(dataset: Path, name: str, overrides: dict) -> dict:
    """Every fold with every seed: {signer: [acc per seed]}."""
    slug = "".join(c if c.isalnum() else "-" for c in name).strip("-")
    done = finished_runs(dataset)
    folds: dict[str, list[float]] = {}
    for seed in SEEDS:
        config = settings(overrides, seed)
        out = OUT / "accuracy" / dataset.name / f"{slug}-{key(config)}" / f"seed{seed}"
        out, config = done.get((key(config), seed), (out, config))
        _, results = cross_validate(dataset, out, config, progress=False)
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


def shown(rows: list[dict]) -> list[dict]:
    """The rows as reported: without the unrounded mean kept for the effects."""
    return [{k: v for k, v in r.items() if k != "_mean"} for r in rows]


def _chosen(table: dict[str, dict], variable: str) -> dict[str, dict]:
    """All entries, or those named (comma-separated) in the environment variable ("" = none)."""
    names = os.environ.get(variable)
    return table if names is None else {k: v for k, v in table.items() if k in names.split(",")}


def combined(dataset: Path) -> list[dict]:
    """The default's runs alone, with test-time views, and as an ensemble of its seeds."""
    done = finished_runs(dataset)
    found = [done.get((key(settings({}, seed)), seed)) for seed in SEEDS]
    if None in found:
        return []
    seed_runs = [path for path, _ in found]
    folds = sorted(p.name for p in seed_runs[0].glob("test-*"))
    ways = {
        "one run (mean over seeds)": lambda fold: [evaluate(r / fold).accuracy for r in seed_runs],
        f"one run, {TTA} test-time views": lambda fold: [evaluate(r / fold, tta=TTA).accuracy for r in seed_runs],
        f"ensemble of the {len(SEEDS)} seeds": lambda fold: [
            evaluate(seed_runs[0] / fold, ensemble=[r / fold for r in seed_runs[1:]]).accuracy
        ],
        f"ensemble + {TTA} views": lambda fold: [
            evaluate(seed_runs[0] / fold, tta=TTA, ensemble=[r / fold for r in seed_runs[1:]]).accuracy
        ],
    }
    rows = []
    for name, way in ways.items():
        accuracies = {fold.removeprefix("test-"): way(fold) for fold in folds}
        rows.append(
            {
                "default, evaluated as": name,
                **{signer: f"{np.mean(a):.3f}" for signer, a in accuracies.items()},
                "mean": f"{np.mean([np.mean(a) for a in accuracies.values()]):.3f}",
            }
        )
    return rows


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
            shown(rows),
            notes,
        )
        if os.environ.get("BENCH_COMBINED", "1") == "1" and (rows_combined := combined(dataset)):
            report(f"tta_ensemble_{set_name}", rows_combined, notes)
        if set_name == "kaggle" and (crossed := across_sources(list(configs))):
            report("accuracy_asl_signs_to_recorders", shown(crossed), notes)
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
            shown(steps),
            notes,
        )


if __name__ == "__main__":
    main()
