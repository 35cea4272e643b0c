"""Evaluation of a run on a signer it never saw: metrics, tables and pictures.

Writes into the run folder: metrics.json (accuracy, top-5, macro-F1), per_class.csv,
predictions.csv, confusion.png (labelled with the sign names, Arabic shaped) and
curves.png (loss and accuracy per epoch).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .dataset import Dataset, natural_key, write_table
from .errors import SignposeError
from .features import load_points
from .keypoints import atomic_write_json
from .text import for_matplotlib


def predict_points(classifier: torch.nn.Module, points: np.ndarray, mask: np.ndarray, batch: int = 256) -> np.ndarray:
    """Class probabilities (N, classes) for prepared points."""
    probs = []
    with torch.no_grad():
        for i in range(0, len(points), batch):
            logits = classifier(torch.from_numpy(points[i : i + batch]), torch.from_numpy(mask[i : i + batch]))
            probs.append(torch.softmax(logits, -1).numpy())
    return np.concatenate(probs) if probs else np.zeros((0, 0), np.float32)


def metrics(y_true: np.ndarray, probs: np.ndarray, names: list[str]) -> tuple[dict, pd.DataFrame]:
    """Overall metrics and a per-class table."""
    from sklearn.metrics import (
        accuracy_score,
        f1_score,
        precision_recall_fscore_support,
    )

    n = len(names)
    labels = np.arange(n)
    y_pred = probs.argmax(1)
    top5 = np.argsort(-probs, axis=1)[:, :5]
    summary = {
        "samples": int(len(y_true)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "top5_accuracy": float((top5 == y_true[:, None]).any(axis=1).mean()),
        "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
    }
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    table = pd.DataFrame({"sign": names, "precision": p.round(4), "recall": r.round(4), "f1": f.round(4), "support": s})
    return summary, table


def plot_confusion(y_true: np.ndarray, y_pred: np.ndarray, names: list[str], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import confusion_matrix

    n = len(names)
    cm = confusion_matrix(y_true, y_pred, labels=np.arange(n))
    norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    size = max(6.0, min(40.0, 0.35 * n + 3))
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    labels = [for_matplotlib(x) for x in names]
    ax.set_xticks(range(n), labels, rotation=90, fontsize=max(5, 11 - n // 20))
    ax.set_yticks(range(n), labels, fontsize=max(5, 11 - n // 20))
    if n <= 30:
        for i, j in zip(*np.nonzero(cm), strict=True):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=8,
                    color="white" if norm[i, j] > 0.5 else "black")  # fmt: skip
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_curves(run: Path) -> Path | None:
    """Loss and accuracy per epoch (train and validation) from the run's CSV log."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    log = Path(run) / "logs" / "csv" / "metrics.csv"
    if not log.is_file():
        return None
    df = pd.read_csv(log)
    per_epoch = df.groupby("epoch").mean(numeric_only=True)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, metric in zip(axes, ("loss", "acc"), strict=True):
        for stage in ("train", "val"):
            col = f"{stage}_{metric}"
            if col in per_epoch:
                series = per_epoch[col].dropna()
                ax.plot(series.index, series.values, label=stage, marker="." if len(series) < 40 else None)
        ax.set_xlabel("epoch")
        ax.set_ylabel("accuracy" if metric == "acc" else metric)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(Path(run).name)
    fig.tight_layout()
    out = Path(run) / "curves.png"
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def evaluate(run: str | Path, dataset_path: str | Path | None = None, signer: str | None = None) -> dict:
    """Evaluate a run on its test signer (or another signer / dataset); writes into RUN."""
    from .training import load_classifier

    run = Path(run)
    classifier, info, config = load_classifier(run)
    dataset_path = dataset_path or info["dataset"]
    dataset = Dataset(dataset_path)
    data = load_points(dataset, config.features)
    rows = data.rows
    if signer is not None:
        if signer not in set(rows.signer):
            raise SignposeError(f"signer {signer!r} is not in {dataset_path}; signers: {', '.join(sorted(set(rows.signer), key=natural_key))}")
        selected = (rows.signer == signer).to_numpy()
    elif dataset_path == info["dataset"] and info.get("test_samples"):
        selected = rows["sample"].isin(set(info["test_samples"])).to_numpy()
    elif info.get("test_signer"):
        selected = (rows.signer == info["test_signer"]).to_numpy()
    else:
        raise SignposeError(f"{run}: the run has no test signer; pass --signer")
    index = {c: i for i, c in enumerate(info["classes"])}
    y = np.array([index.get(s, -1) for s in rows.sign_id])
    unknown = sorted(set(rows.sign_id[selected & (y < 0)]), key=natural_key)
    selected = selected & (y >= 0)
    if not selected.any():
        raise SignposeError(f"no samples of the run's {len(index)} signs to evaluate in {dataset_path}")
    probs = predict_points(classifier, data.points[selected], data.mask[selected])
    summary, table = metrics(y[selected], probs, info["names"])
    table.insert(0, "sign_id", info["classes"])
    summary.update({"run": run.name, "model": config.model, "features": config.features.features,
                    "signer": signer or info.get("test_signer"), "signs_not_in_training": unknown})  # fmt: skip
    atomic_write_json(run / "metrics.json", summary)
    write_table(run / "per_class.csv", table)
    pred = probs.argmax(1)
    write_table(run / "predictions.csv", pd.DataFrame({
        "sample": rows["sample"][selected].to_numpy(), "true": [info["names"][i] for i in y[selected]],
        "predicted": [info["names"][i] for i in pred], "confidence": probs.max(1).round(4),
    }))  # fmt: skip
    title = f"{config.model} on {summary['signer']}: accuracy {summary['accuracy']:.1%}"
    plot_confusion(y[selected], pred, info["names"], run / "confusion.png", title)
    plot_curves(run)
    return summary


def mean_std_table(results: list[dict], metric_names=("accuracy", "top5_accuracy", "macro_f1")) -> pd.DataFrame:
    """One row per fold and a final mean +- std row, as the KArSL papers report it."""
    rows = [{"test signer": r["signer"], **{m: r.get(m, np.nan) for m in metric_names}} for r in results]
    table = pd.DataFrame(rows)
    if len(table):
        mean, std = table[list(metric_names)].mean(), table[list(metric_names)].std(ddof=0)
        table.loc[len(table)] = {"test signer": "mean ± std", **{m: f"{mean[m]:.3f} ± {std[m]:.3f}" for m in metric_names}}
    return table
