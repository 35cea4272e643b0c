"""Evaluation of a run on a signer it never saw: metrics, tables and pictures.

The run's own test (its held-out signer) is written into the run folder: metrics.json
(accuracy, top-5, macro-F1), per_class.csv, predictions.csv and confusion.png (labelled
with the sign names, Arabic shaped). Evaluating on another signer or dataset writes the
same files into RUN/eval/<name>/, so the run's own test metrics are never overwritten.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field

from ..data.dataset import Dataset, write_table
from ..errors import SignposeError, is_environment_error
from ..model.adapt import ADAPTATIONS, adapt_batchnorm
from ..model.inference import ensemble_probabilities
from ..model.runs import load_ensemble, load_run_info
from ..settings import Settings
from ..util import atomic_write_json, check_output_folder, natural_sorted
from .plots import plot_confusion, plot_curves
from .splits import test_signers


class EvaluationConfig(Settings):
    """How `evaluate` treats the people it tests (beyond the recognition settings)."""

    adapt: Literal[ADAPTATIONS] = Field(
        "none",
        description="batchnorm: each tested person's batch-norm statistics re-estimated on their own samples "
        "first, without their labels (AdaBN, Li et al. 2016); none: the model as trained",
    )


@dataclass
class EvalResult:
    """One evaluation: what was tested, the scores, and where the files are."""

    run: str
    model: str
    features: str
    signer: str | None
    samples: int
    accuracy: float
    top5_accuracy: float
    macro_f1: float
    signs_not_in_training: list[str] = field(default_factory=list)
    out: str = ""  # where its files are ("" when they could not be written)
    accuracy_ci95: tuple[float, float] = (0.0, 1.0)  # Wilson score interval
    per_class: pd.DataFrame | None = field(default=None, repr=False, compare=False)  # also per_class.csv

    def as_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "per_class"}


def wilson_interval(correct: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% confidence interval of an accuracy measured on n samples (Wilson score
    interval: sound for small n and for accuracies near 0 or 1, unlike the normal one)."""
    if n == 0:
        return 0.0, 1.0
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def metrics(y_true: np.ndarray, probs: np.ndarray, names: list[str]) -> tuple[dict, pd.DataFrame]:
    """Overall metrics and a per-class table."""
    from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

    labels = np.arange(len(names))
    y_pred = probs.argmax(1)
    top5 = np.argsort(-probs, axis=1)[:, :5]
    summary = {
        "samples": int(len(y_true)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "top5_accuracy": float((top5 == y_true[:, None]).any(axis=1).mean()),
        "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
    }
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    table = pd.DataFrame(
        {
            "sign": names,
            "precision": p.round(4),
            "recall": r.round(4),
            "f1": f.round(4),
            "support": s,
        }
    )
    return summary, table


def evaluate(
    run: str | Path,
    dataset_path: str | Path | None = None,
    signer: str | None = None,
    tta: int = 1,
    ensemble: list[str | Path] = (),
    out: str | Path | None = None,
    adapt: str = "none",
) -> EvalResult:
    """Evaluate a run on its test signer, or on another signer / dataset (into RUN/eval/).

    tta > 1 averages that many views of each sample; `ensemble` adds other runs of the
    same signs whose probabilities are averaged with this one's (none may have trained on
    the signer tested). Either writes into RUN/eval/<signer>-tta<N>-ensemble<M>/.
    `out` writes the files there instead; without it, a run that cannot be written to (a
    read-only copy) still gets its metrics, with a warning that they were not saved.
    `adapt="batchnorm"`: each tested person's batch statistics re-estimated on their own
    samples first, without their labels (AdaBN, `model.adapt`), into RUN/eval/...-adabn/.
    """
    if adapt not in ADAPTATIONS:
        raise SignposeError(f"unknown adaptation {adapt!r}; choose from {', '.join(ADAPTATIONS)}")
    run = Path(run)
    info = load_run_info(run)
    members, weights = load_ensemble([run, *ensemble])
    classifier, _, config = members[0]
    own_dataset = info.dataset_path(run)
    dataset_path = Path(dataset_path) if dataset_path is not None else own_dataset
    own = signer is None and dataset_path.resolve() == own_dataset.resolve()
    dataset = Dataset(dataset_path)
    pipeline = members[0].pipeline
    data = pipeline.load(dataset)
    rows = data.rows
    signers = natural_sorted(set(rows.signer))
    if signer is not None and signer not in signers:
        raise SignposeError(f"signer {signer!r} is not in {dataset_path}; signers: {', '.join(signers)}")
    if signer is not None and dataset_path.resolve() == own_dataset.resolve() and signer in info.train_signers:
        print(
            f"signpose: warning: {signer} is one of the run's training signers: this accuracy is on people "
            "the model has seen, not on a new signer",
            file=sys.stderr,
        )
    signer = signer or info.test_signer
    if own and info.test_samples:
        selected = np.array(rows["sample"].isin(set(info.test_samples)))
        if info.test_signer is not None:
            selected |= np.array(rows.signer.isin(test_signers(info.test_signer)))
    elif signer is not None:
        selected = np.array(rows.signer == signer)
    else:
        raise SignposeError(f"{run}: the run has no test signer (a mixed split); pass --signer")
    index = {c: i for i, c in enumerate(info.classes)}
    y = np.array([index.get(s, -1) for s in rows.sign_id])
    unknown = natural_sorted(set(rows.sign_id[selected & (y < 0)]))
    selected &= y >= 0
    if not selected.any():
        raise SignposeError(f"no samples of the run's {len(index)} signs to evaluate in {dataset_path}")
    for other in ensemble:
        if signer is not None and signer in load_run_info(other).train_signers:
            raise SignposeError(
                f"{other} was trained on signer {signer}; an ensemble evaluated on {signer} must not have seen them"
            )
    combined = tta > 1 or bool(ensemble)  # a run's own models (--seeds) are the run itself
    name = (signer or "test") if dataset_path == own_dataset else f"{dataset_path.name}-{signer}"
    name += (f"-tta{tta}" if tta > 1 else "") + (f"-ensemble{len(members)}" if ensemble else "")
    name += "-adabn" if adapt == "batchnorm" else ""
    combined = combined or adapt != "none"
    chosen = check_output_folder(out, "--out", (dataset_path,)) if out is not None else None
    out = chosen or (run if own and not combined else run / "eval" / name)
    views = [(classifier, data.points[selected], data.mask[selected])]
    for member, _, _ in members[1:]:
        member_pipeline = member.pipeline  # streams differ only inside the model
        member_data = data if member_pipeline.same_points(pipeline) else member_pipeline.load(dataset)
        if list(member_data.rows["sample"]) != list(rows["sample"]):
            raise SignposeError(f"the ensemble's runs read {dataset_path} differently; rerun `signpose extract`")
        views.append((member, member_data.points[selected], member_data.mask[selected]))
    if adapt == "none":
        probs = ensemble_probabilities(views, tta, weights)
    else:  # one person at a time: each adapts the models to themselves alone
        who = rows.signer.to_numpy()[selected]
        probs = np.zeros((int(selected.sum()), len(info.classes)))
        for person in natural_sorted(set(who)):
            here = who == person
            adapted = [(adapt_batchnorm(m, p[here], k[here]), p[here], k[here]) for m, p, k in views]
            probs[here] = ensemble_probabilities(adapted, tta, weights)
    scores, table = metrics(y[selected], probs, info.names)
    table.insert(0, "sign_id", info.classes)
    correct = int(round(scores["accuracy"] * scores["samples"]))
    result = EvalResult(
        accuracy_ci95=wilson_interval(correct, scores["samples"]),
        run=run.name,
        model=config.model,
        features=config.features.features,
        signer=signer,
        signs_not_in_training=unknown,
        out=str(out),
        per_class=table,
        **scores,
    )
    pred = probs.argmax(1)
    predictions = pd.DataFrame(
        {
            "sample": rows["sample"][selected].to_numpy(),
            "true": [info.names[i] for i in y[selected]],
            "predicted": [info.names[i] for i in pred],
            "confidence": probs.max(1).round(4),
        }
    )
    models = f"{config.model} x{len(members)}" if len(members) > 1 else config.model
    title = f"{models} on {signer or 'the test split'}: accuracy {result.accuracy:.1%}"
    try:
        atomic_write_json(out / "metrics.json", result.as_dict())
        write_table(out / "per_class.csv", table)
        write_table(out / "predictions.csv", predictions)
        plot_confusion(y[selected], pred, info.names, out / "confusion.png", title)
        if own and not combined and chosen is None:
            plot_curves(run)
    except OSError as e:
        if chosen is not None or not is_environment_error(e):
            raise
        # a read-only run (a published copy): the numbers are still worth having
        print(
            f"signpose: warning: the results could not be saved in {out} ({e.strerror}); pass --out DIR to keep them",
            file=sys.stderr,
        )
        result.out = ""
    return result


def mean_std_table(results: list[EvalResult], metric_names=("accuracy", "top5_accuracy", "macro_f1")) -> pd.DataFrame:
    """One row per fold and a final mean ± std row, as the KArSL papers report it; all
    numbers with three decimals."""
    rows = [{"test signer": r.signer, **{m: f"{getattr(r, m):.3f}" for m in metric_names}} for r in results]
    table = pd.DataFrame(rows, columns=["test signer", *metric_names])
    if results:
        values = np.array([[getattr(r, m) for m in metric_names] for r in results])
        mean, std = values.mean(0), values.std(0)
        table.loc[len(table)] = {
            "test signer": "mean ± std",
            **{m: f"{mean[i]:.3f} ± {std[i]:.3f}" for i, m in enumerate(metric_names)},
        }
    return table


def evaluate_members(run: str | Path) -> list[EvalResult]:
    """Each model of an ensemble (`train --seeds N`) alone, on the run's test signer."""
    run = Path(run)
    return [evaluate(path) for path in load_run_info(run).member_paths(run)]
