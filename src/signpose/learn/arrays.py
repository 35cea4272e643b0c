"""The notebook's numpy arrays out of a dataset (`X.npy`, `y.npy`, like its X1.npy/y1.npy),
for people who train with their own code."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..data.dataset import Dataset, write_table
from ..data.writer import check_not_being_written
from ..errors import SignposeError
from ..model.features import FeatureConfig, FeaturePipeline
from ..util import atomic_save_npy, check_output_folder


def export_arrays(dataset_path: str | Path, out: str | Path, features: FeatureConfig | None = None) -> dict:
    """Write X.npy (N, T, F), y.npy (class index), signer.npy, sample.npy and classes.csv."""
    pipeline = FeaturePipeline(features or FeatureConfig())
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise SignposeError(f"{out}: is a file; --out must be a folder for the arrays")
    check_output_folder(out, "--out", (dataset_path,))
    dataset = Dataset(dataset_path)
    check_not_being_written(dataset.root)
    dataset.require_samples()
    data = pipeline.load(dataset)
    if not len(data):
        raise SignposeError(f"{dataset_path}: no samples to export")
    with torch.no_grad():
        x, _ = pipeline.head()(torch.from_numpy(data.points), torch.from_numpy(data.mask))
    classes = dataset.sign_ids
    index = {c: i for i, c in enumerate(classes)}
    out.mkdir(parents=True, exist_ok=True)
    # each whole or not at all: a full disk is one line, not a truncated X.npy
    atomic_save_npy(out / "X.npy", x.numpy())
    atomic_save_npy(out / "y.npy", np.array([index[s] for s in data.rows.sign_id], dtype=np.int64))
    atomic_save_npy(out / "signer.npy", data.rows.signer.to_numpy().astype(str))
    atomic_save_npy(out / "sample.npy", data.rows["sample"].to_numpy().astype(str))
    write_table(
        out / "classes.csv",
        pd.DataFrame(
            {
                "index": range(len(classes)),
                "sign_id": classes,
                "sign": [dataset.sign_names.get(c, c) for c in classes],
            }
        ),
    )
    return {"X": tuple(x.shape), "classes": len(classes), "out": str(out)}
