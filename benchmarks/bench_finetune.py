"""Fine-tuning against training from scratch, for a person who records a few takes of
their own signs (issue: record your own signs; fine-tune from an existing run).

Real people only: the 22 hobby recorders of ../shared/data (9 ASL words). In each of
FOLDS folds the people are split three ways, by person, never by sample:
  source   about half of them, on the words but NEW_SIGNS: the run one starts from
           ("other people and other signs")
  new      NEW_PEOPLE people who record K takes of each word they sign (K = 3, 5, 10:
           their first takes), all nine words: the person training their own recogniser
  test     the rest: people never seen by either model, on the words the new people signed
Each K trains three models on the new people's takes only, with the same recipe and
seeds: from scratch; from the source run (`--init-from`, the classifier layer new for the
new words, trained alone for FREEZE epochs, then everything); and from the source run with
its body kept as it is (linear probing: `--freeze-epochs` all of them). Accuracy is per test person (mean over
seeds), the mean over people with a bootstrap 95% interval, and the paired difference
fine-tuned - scratch over the same people (people resampled, 10,000 draws).

    python benchmarks/bench_finetune.py          # BENCH_SEEDS=0,1,2 BENCH_FOLDS=3 by default
Runs are kept in bench-output/finetune/ and reused: an interrupted run resumes.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from common import OUT, report, require_shared  # noqa: E402
from to_markdown import table  # noqa: E402

from signpose.data.dataset import Dataset  # noqa: E402
from signpose.data.importers import import_npz  # noqa: E402
from signpose.learn.evaluation import evaluate  # noqa: E402
from signpose.learn.training import train  # noqa: E402
from signpose.model.config import TrainConfig  # noqa: E402

ROOT = OUT / "finetune"
SEEDS = [int(s) for s in os.environ.get("BENCH_SEEDS", "0,1,2").split(",")]
FOLDS = int(os.environ.get("BENCH_FOLDS", "3"))
TAKES = [int(k) for k in os.environ.get("BENCH_TAKES", "3,5,10").split(",")]
NEW_SIGNS = ["thanks", "yes", "no"]  # words the source run never learns
NEW_PEOPLE = 4
EPOCHS, FREEZE = 60, 10


def people22() -> Dataset:
    folder = ROOT / "data" / "people22"
    if not (folder / "manifest.csv").is_file():
        import_npz(require_shared("keypoints", "asl_recorders_22_258.npz"), folder, progress=False)
    return Dataset(folder)


def subset(full: Dataset, name: str, rows: pd.DataFrame) -> Path:
    """A dataset of some rows of `full`, sharing its pose files (a link, not a copy)."""
    folder = ROOT / "data" / name
    if not (folder / "manifest.csv").is_file():
        folder.mkdir(parents=True, exist_ok=True)
        for file in ("dataset.json", "signs.csv"):
            if (full.root / file).is_file():
                shutil.copy(full.root / file, folder / file)
        if not (folder / "poses").exists():
            (folder / "poses").symlink_to((full.root / "poses").resolve())
        rows.to_csv(folder / "manifest.csv", index=False)
    return folder


def folds(full: Dataset) -> list[dict[str, list[str]]]:
    """People in three roles per fold; each fold's test people differ from the others'."""
    people = full.signers
    rng = np.random.default_rng(7)
    order = list(rng.permutation(people))
    size = len(people) // FOLDS
    out = []
    for f in range(FOLDS):
        test = order[f * size : (f + 1) * size]
        rest = [p for p in order if p not in test]
        out.append({"test": test, "new": rest[:NEW_PEOPLE], "source": rest[NEW_PEOPLE:]})
    return out


def first_takes(rows: pd.DataFrame, k: int) -> pd.DataFrame:
    """Each new person's first k takes of each word (by repetition number)."""
    ordered = rows.sort_values(["signer", "sign_id", "repetition"])
    return ordered.groupby(["signer", "sign_id"], group_keys=False).head(k)


def config(test: list[str], seed: int, **extra) -> TrainConfig:
    return TrainConfig(
        test_signer=",".join(test),
        seed=seed,
        val_fraction=0,
        recipe={"epochs": EPOCHS, "early_stopping": False},
        **extra,
    )


def per_person(run: Path, signer_of: dict[str, str]) -> pd.Series:
    if not (run / "predictions.csv").is_file():
        evaluate(run)
    pred = pd.read_csv(run / "predictions.csv", dtype=str)
    return (pred["true"] == pred["predicted"]).groupby(pred["sample"].map(signer_of)).mean()


def bootstrap(values: np.ndarray, rng: np.random.Generator) -> tuple[float, float]:
    means = values[rng.integers(0, len(values), (10_000, len(values)))].mean(axis=1)
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def main() -> None:
    full = people22()
    rows = full.rows
    signer_of = dict(zip(rows["sample"], rows.signer, strict=True))
    results: dict[tuple[int, str], list[pd.Series]] = {}
    for f, roles in enumerate(folds(full)):
        test_rows = rows[rows.signer.isin(roles["test"])]
        source_rows = rows[rows.signer.isin(roles["source"]) & ~rows.sign_id.isin(NEW_SIGNS)]
        source_data = subset(full, f"fold{f}-source", pd.concat([source_rows, test_rows]))
        source = ROOT / "runs" / f"fold{f}" / "source"
        print(
            f"fold {f}: source on {len(roles['source'])} people, new {roles['new']}, test {roles['test']}", flush=True
        )
        train(source_data, source, config(roles["test"], 0), progress=False)
        new_rows = rows[rows.signer.isin(roles["new"])]
        for k in TAKES:
            data = subset(full, f"fold{f}-k{k}", pd.concat([first_takes(new_rows, k), test_rows]))
            for seed in SEEDS:
                methods = {
                    "scratch": {},
                    "fine-tuned": {"init_from": str(source), "freeze_epochs": FREEZE},
                    # linear probing: the body kept as it is, the classifier layer alone trained
                    "head only": {"init_from": str(source), "freeze_epochs": EPOCHS},
                }
                for method, extra in methods.items():
                    run = ROOT / "runs" / f"fold{f}" / f"k{k}-{method.replace(' ', '-')}-seed{seed}"
                    train(data, run, config(roles["test"], seed, **extra), progress=False)
                    results.setdefault((k, method), []).append(per_person(run, signer_of).rename(f"{f}-{seed}"))
    summarise(results)


def summarise(results: dict[tuple[int, str], list[pd.Series]]) -> None:
    rng = np.random.default_rng(0)
    lines = []
    methods = ("scratch", "fine-tuned", "head only")
    for k in TAKES:
        person = {}
        for method in methods:
            runs = pd.concat(results[(k, method)], axis=1)
            # a person's accuracy: the mean over the seeds of their fold
            person[method] = runs.T.groupby(lambda name: name.split("-")[0]).mean().T.mean(axis=1)
        both = pd.concat(person, axis=1).dropna()
        row = {"takes per sign": k, "people": len(both)}
        for method in methods:
            low, high = bootstrap(both[method].to_numpy(), rng)
            row[method] = f"{both[method].mean():.3f} [{low:.3f}, {high:.3f}]"
        for method in methods[1:]:
            diff = (both[method] - both["scratch"]).to_numpy()
            low, high = bootstrap(diff, rng)
            row[f"{method} - scratch"] = f"{diff.mean():+.3f} [{low:+.3f}, {high:+.3f}]"
        lines.append(row)
    notes = {"seeds": ",".join(map(str, SEEDS)), "folds": FOLDS, "epochs": EPOCHS, "frozen epochs": FREEZE}
    report("finetune", lines, notes)
    print(table("finetune"))


if __name__ == "__main__":
    main()
