"""Signer-independent splits: test on signers never seen in training.

The seed's protocol: test on one signer; train on the others with a stratified 80/20
train/validation split (seed 42). A split works on whole samples (one video is never in
two parts) and reports signs that the training signers never performed instead of
quietly testing on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import SignposeError
from ..util import natural_key


@dataclass
class Split:
    name: str
    train: np.ndarray  # row indices
    val: np.ndarray
    test: np.ndarray
    classes: list[str]  # sign ids, in class order
    dropped_from_test: list[str] = field(default_factory=list)  # signs no training signer has
    test_signer: str | None = None  # None for a mixed split; several are joined by commas

    def validation_signers(self, rows: pd.DataFrame) -> list[str]:
        """Training signers held out whole for validation ([] when validation mixes them)."""
        val, train = set(rows.signer.iloc[self.val]), set(rows.signer.iloc[self.train])
        return sorted(val - train, key=natural_key) if val and not val & train else []

    def labels(self, rows: pd.DataFrame) -> np.ndarray:
        index = {c: i for i, c in enumerate(self.classes)}
        return np.array([index.get(s, -1) for s in rows["sign_id"]])

    def training_signers(self, rows: pd.DataFrame) -> list[str]:
        return sorted(set(rows.signer.iloc[self.train]), key=natural_key)

    def signer_indices(self, rows: pd.DataFrame) -> np.ndarray:
        """Each row's signer as an index among the training signers (-1: not one of them)."""
        index = {s: i for i, s in enumerate(self.training_signers(rows))}
        return rows["signer"].map(index).fillna(-1).to_numpy(np.int64)


def _stratified(indices: np.ndarray, labels: np.ndarray, val_fraction: float, seed: int):
    from sklearn.model_selection import train_test_split

    if val_fraction <= 0:
        return indices, indices[:0]
    counts = pd.Series(labels).value_counts()
    stratify = labels if counts.min() >= 2 and len(indices) * val_fraction >= len(counts) else None
    try:
        train, val = train_test_split(
            indices, test_size=val_fraction, shuffle=True, stratify=stratify, random_state=seed
        )
    except ValueError:  # sklearn: a share that leaves no training (or no validation) sample
        raise SignposeError(
            f"--val-fraction {val_fraction} of {len(indices)} training samples leaves none to train or validate on; "
            "choose a smaller share"
        ) from None
    return np.sort(train), np.sort(val)


def test_signers(test_signer: str) -> list[str]:
    """The signers a split tests on: one name, or several separated by commas."""
    return [s.strip() for s in test_signer.split(",") if s.strip()]


def signer_folds(rows: pd.DataFrame, folds: int) -> list[list[str]]:
    """Signers grouped into `folds` test groups of about equal sample counts (every signer
    tested exactly once): the largest signer first into the smallest group, so that
    the groups do not depend on anything but the counts and the names."""
    counts = rows.signer.value_counts()
    signers = sorted(counts.index, key=lambda s: (-counts[s], natural_key(s)))
    if not 2 <= folds <= len(signers):
        raise SignposeError(f"--folds must be from 2 to the number of signers ({len(signers)}), not {folds}")
    groups: list[list[str]] = [[] for _ in range(folds)]
    sizes = [0] * folds
    for signer in signers:
        i = min(range(folds), key=lambda k: (sizes[k], len(groups[k]), k))
        groups[i].append(signer)
        sizes[i] += counts[signer]
    return [sorted(g, key=natural_key) for g in groups]


def signer_split(
    rows: pd.DataFrame,
    test_signer: str,
    val_fraction: float = 0.2,
    seed: int = 42,
    validation: str = "auto",
) -> Split:
    """Train/validate on every signer but the test signers; test on `test_signer` (one
    name, or several separated by commas).

    Validation by `validation`: "signers" holds out whole training signers (so that model
    selection measures what the test measures: people never seen), "samples" a stratified
    share of every training signer's samples (the seed's way), "auto" signers when there
    are 3 or more training signers, else samples."""
    signers = sorted(rows.signer.unique(), key=natural_key)
    if len(signers) < 2:
        raise SignposeError(
            f"a signer-independent split needs at least two signers, this dataset has {len(signers)}; "
            "train with --split mixed for a signer-dependent model"
        )
    tested = test_signers(test_signer)
    missing = [s for s in tested if s not in signers]
    if missing or not tested:
        raise SignposeError(
            f"test signer {(missing or [test_signer])[0]!r} is not in the dataset; signers: {', '.join(signers)}"
        )
    if len(tested) == len(signers):
        raise SignposeError("every signer is a test signer: leave at least one for training")
    is_test = rows.signer.isin(tested).to_numpy()
    train_rows = rows[~is_test]
    classes = sorted(train_rows.sign_id.unique(), key=natural_key)
    known = rows.sign_id.isin(classes).to_numpy()
    dropped = sorted(set(rows[is_test & ~known].sign_id), key=natural_key)
    idx = np.flatnonzero(~is_test)
    training_signers = [s for s in signers if s not in tested]
    by_signer = validation == "signers" or (validation == "auto" and len(training_signers) >= 3)
    if by_signer and val_fraction > 0:
        if len(training_signers) < 2:
            raise SignposeError("validation by signers needs at least two training signers; use --validation samples")
        n_val = min(len(training_signers) - 1, max(1, round(val_fraction * len(training_signers))))
        held = set(np.random.default_rng(seed).choice(training_signers, n_val, replace=False))
        is_val = rows.signer.iloc[idx].isin(held).to_numpy()
        train, val = idx[~is_val], idx[is_val]
    else:
        train, val = _stratified(idx, rows.sign_id.to_numpy()[idx], val_fraction, seed)
    return Split(
        f"test-{'+'.join(tested)}",
        train,
        val,
        np.flatnonzero(is_test & known),
        classes,
        dropped,
        ",".join(tested),
    )


def mixed_split(rows: pd.DataFrame, val_fraction: float = 0.2, test_fraction: float = 0.2, seed: int = 42) -> Split:
    """Signer-dependent comparison: all signers mixed, stratified train/val/test."""
    classes = sorted(rows.sign_id.unique(), key=natural_key)
    labels = rows.sign_id.to_numpy()
    idx = np.arange(len(rows))
    rest, test = _stratified(idx, labels, test_fraction, seed)
    train, val = _stratified(rest, labels[rest], val_fraction, seed)
    return Split("mixed", train, val, test, classes)


VALIDATION_SUBSETS = ("val", "validation", "dev")


def official_split(rows: pd.DataFrame, val_fraction: float = 0.2, seed: int = 42) -> Split:
    """The data set's own split, as its layout recorded it in the manifest's `subset`:
    train, val (else a stratified share of train) and test."""
    subset = rows.subset.str.lower().to_numpy() if "subset" in rows else np.array([""] * len(rows))
    train_idx = np.flatnonzero(subset == "train")
    test = np.flatnonzero(subset == "test")
    val = np.flatnonzero(np.isin(subset, VALIDATION_SUBSETS))
    if not len(train_idx) or not len(test):
        found = sorted(set(subset) - {""}) or ["none"]
        raise SignposeError(
            f"the dataset has no official train and test split (subsets: {', '.join(found)}); its layout records "
            "one for AUTSL, WLASL, ASL Citizen and KArSL's folders; use --split signer"
        )
    labels = rows.sign_id.to_numpy()
    train = train_idx
    if not len(val) and val_fraction > 0:
        train, val = _stratified(train_idx, labels[train_idx], val_fraction, seed)
    classes = sorted(set(labels[train_idx]), key=natural_key)
    known = np.isin(labels[test], classes)
    dropped = sorted(set(labels[test][~known]), key=natural_key)
    return Split("official", train, val[np.isin(labels[val], classes)], test[known], classes, dropped)


def make_split(rows: pd.DataFrame, config) -> Split:
    """The split a run's settings (a TrainConfig) ask for."""
    if config.split == "mixed":
        return mixed_split(rows, config.val_fraction, seed=config.seed)
    if config.split == "official":
        return official_split(rows, config.val_fraction, seed=config.seed)
    test = config.test_signer or sorted(rows.signer.unique(), key=natural_key)[-1]
    return signer_split(rows, test, config.val_fraction, config.seed, config.validation)
