"""Pictures of a run: the confusion matrix labelled with the sign names (Arabic shaped,
right to left) and the training curves."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from ..text import for_matplotlib


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_confusion(y_true: np.ndarray, y_pred: np.ndarray, names: list[str], path: Path, title: str) -> None:
    from sklearn.metrics import confusion_matrix

    plt = _pyplot()

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
            ax.text(
                j,
                i,
                str(cm[i, j]),
                ha="center",
                va="center",
                fontsize=8,
                color="white" if norm[i, j] > 0.5 else "black",
            )
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_curves(run: Path) -> Path | None:
    """Loss and accuracy per epoch (train and validation) from the run's CSV log."""
    from matplotlib.ticker import MaxNLocator

    plt = _pyplot()
    log = Path(run) / "logs" / "csv" / "metrics.csv"
    if not log.is_file():
        return None
    try:
        df = pd.read_csv(log)
        per_epoch = df.groupby("epoch").mean(numeric_only=True)
    except (ValueError, KeyError, pd.errors.ParserError) as e:  # a damaged log costs the picture, not the run
        print(f"signpose: warning: {log}: cannot draw the training curves ({str(e).splitlines()[0]})", file=sys.stderr)
        return None
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, metric in zip(axes, ("loss", "acc"), strict=True):
        for stage in ("train", "val"):
            col = f"{stage}_{metric}"
            if col in per_epoch:
                series = per_epoch[col].dropna()
                ax.plot(
                    series.index,
                    series.values,
                    label=stage,
                    marker="." if len(series) < 40 else None,
                )
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("accuracy" if metric == "acc" else metric)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(Path(run).name)
    fig.tight_layout()
    out = Path(run) / "curves.png"
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
