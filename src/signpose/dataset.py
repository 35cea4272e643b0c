"""The dataset folder: what `extract`, `synth` and every importer write.

    DATASET/
      dataset.json    what made it (source, layout, extraction settings, versions)
      manifest.csv    one row per sample (UTF-8; sign names in any script)
      signs.csv       sign_id,sign: the class list with display names
      poses/...       one pose-format file per sample
      cache/          derived arrays, safe to delete

The manifest is rewritten atomically, so a crash leaves the previous complete copy.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import __version__
from .errors import SignposeError
from .keypoints import KeypointSequence, atomic_write_bytes, atomic_write_json, read_pose

FORMAT_NAME = "signpose-dataset"
FORMAT_VERSION = 1
MANIFEST = "manifest.csv"
SIGNS = "signs.csv"
META = "dataset.json"
POSES = "poses"

MANIFEST_COLUMNS = [
    "sample",  # stable id: the source path relative to the source root, without extension
    "file",  # the .pose file, relative to the dataset folder
    "source",  # where it came from, relative to dataset.json's source_root
    "signer",
    "sign_id",
    "sign",
    "subset",  # KArSL's train/test folder name; the signer-independent protocol ignores it
    "repetition",
    "frames",
    "fps",
    "width",
    "height",
    "status",  # ok | error
    "error",
]
_TEXT_COLUMNS = ["sample", "file", "source", "signer", "sign_id", "sign", "subset", "status", "error"]


def natural_key(text: str) -> tuple:
    """Sort key that orders '2' before '10' and 'frame_9' before 'frame_10'."""
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(text)))


def write_table(path: Path, table: pd.DataFrame) -> None:
    """Write a CSV atomically, UTF-8, so Arabic names survive any reader."""
    atomic_write_bytes(path, table.to_csv(index=False).encode("utf-8"))


def read_table(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")


def write_manifest(root: Path, rows: Iterable[dict]) -> pd.DataFrame:
    table = pd.DataFrame(list(rows), columns=MANIFEST_COLUMNS)
    table = table.sort_values("sample", key=lambda s: s.map(natural_key), kind="stable")
    write_table(Path(root) / MANIFEST, table)
    return table


def write_signs(root: Path, signs: dict[str, str]) -> None:
    ids = sorted(signs, key=natural_key)
    write_table(Path(root) / SIGNS, pd.DataFrame({"sign_id": ids, "sign": [signs[i] for i in ids]}))


def write_meta(root: Path, meta: dict) -> None:
    payload = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "signpose": __version__, **meta}
    atomic_write_json(Path(root) / META, payload)


def pose_path_for(sample: str) -> str:
    """The dataset-relative .pose path of a sample id."""
    return f"{POSES}/{sample}.pose"


@dataclass
class DatasetProblem:
    sample: str
    problem: str


class Dataset:
    """A dataset folder, opened for reading."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        if not self.root.is_dir():
            raise SignposeError(
                f"{self.root}: no such dataset folder; create one with `signpose extract`, "
                "`signpose synth` or `signpose import`"
            )
        manifest = self.root / MANIFEST
        if not manifest.is_file():
            raise SignposeError(
                f"{self.root}: not a signpose dataset (no {MANIFEST}); create one with "
                "`signpose extract`, `signpose synth` or `signpose import`"
            )
        self.meta = json.loads((self.root / META).read_text("utf-8")) if (self.root / META).is_file() else {}
        self.all_rows = read_table(manifest)
        missing = [c for c in MANIFEST_COLUMNS if c not in self.all_rows.columns]
        if missing:
            raise SignposeError(f"{manifest}: columns {missing} are missing; re-run the command that made it")
        for col in ("frames", "width", "height", "repetition"):
            self.all_rows[col] = pd.to_numeric(self.all_rows[col], errors="coerce").fillna(0).astype(int)
        self.all_rows["fps"] = pd.to_numeric(self.all_rows["fps"], errors="coerce").fillna(0.0)
        signs_file = self.root / SIGNS
        if signs_file.is_file():
            signs = read_table(signs_file)
            self.sign_names = dict(zip(signs["sign_id"], signs["sign"], strict=True))
        else:
            ok = self.all_rows[self.all_rows.status == "ok"]
            self.sign_names = dict(zip(ok["sign_id"], ok["sign"], strict=False))

    @property
    def rows(self) -> pd.DataFrame:
        """The samples that were extracted successfully."""
        return self.all_rows[self.all_rows.status == "ok"].reset_index(drop=True)

    @property
    def signers(self) -> list[str]:
        return sorted(self.rows.signer.unique(), key=natural_key)

    @property
    def sign_ids(self) -> list[str]:
        """Signs that have at least one sample, in natural order (the class order)."""
        return sorted(self.rows.sign_id.unique(), key=natural_key)

    def check(self) -> list[DatasetProblem]:
        """Manifest rows without their file, and pose files without a manifest row."""
        problems = []
        listed = set(self.all_rows.file)
        for row in self.rows.itertuples():
            if not (self.root / row.file).is_file():
                problems.append(DatasetProblem(row.sample, f"{row.file} is listed but missing"))
        for path in sorted((self.root / POSES).rglob("*.pose")):
            rel = path.relative_to(self.root).as_posix()
            if rel not in listed:
                problems.append(DatasetProblem(rel, f"{rel} has no manifest row (ignored)"))
        return problems

    def read(self, row) -> KeypointSequence:
        return read_pose(self.root / (row["file"] if isinstance(row, dict | pd.Series) else row.file))

    def load(
        self, rows: pd.DataFrame | None = None, workers: int = 4, on_error: str = "skip"
    ) -> tuple[list[KeypointSequence], pd.DataFrame, list[DatasetProblem]]:
        """Read the pose files of `rows` (default: all ok samples), in threads.

        Returns the sequences, the rows that loaded, and the problems (a damaged or
        missing file is skipped with its reason, or raises when on_error='raise').
        """
        rows = self.rows if rows is None else rows
        paths = [self.root / f for f in rows.file]

        def _read(path: Path):
            try:
                return read_pose(path), None
            except SignposeError as e:
                return None, str(e)

        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            results = list(pool.map(_read, paths))
        problems = [
            DatasetProblem(s, err) for s, (_, err) in zip(rows["sample"], results, strict=True) if err
        ]
        if problems and on_error == "raise":
            raise SignposeError(problems[0].problem)
        keep = np.array([seq is not None for seq, _ in results], dtype=bool)
        return [seq for seq, _ in results if seq is not None], rows[keep].reset_index(drop=True), problems

    def fingerprint(self, rows: pd.DataFrame | None = None) -> str:
        """Changes when any sample's file changes: keys derived caches."""
        rows = self.rows if rows is None else rows
        h = hashlib.sha1()
        for f in rows.file:
            st = (self.root / f).stat() if (self.root / f).exists() else None
            h.update(f"{f}:{st.st_size if st else -1}:{st.st_mtime_ns if st else -1}\n".encode())
        return h.hexdigest()[:16]

    def info(self) -> dict:
        """Counts of signers x signs, frames per video, and how often each hand was seen."""
        rows = self.rows
        seqs, rows, problems = self.load(rows)
        table = pd.crosstab(rows.sign_id, rows.signer) if len(rows) else pd.DataFrame()
        frames = np.array([s.frames for s in seqs]) if seqs else np.zeros(0)
        parts = np.concatenate([s.part_present() for s in seqs]) if seqs else np.zeros((0, 4), bool)
        reported = {p.sample for p in problems}  # the check below finds missing files again
        return {
            "samples": len(rows),
            "failed": int((self.all_rows.status != "ok").sum()),
            "signers": self.signers,
            "signs": {sid: self.sign_names.get(sid, sid) for sid in self.sign_ids},
            "counts": table,
            "frames": frames,
            "detected": {
                name: float(parts[:, i].mean()) if len(parts) else 0.0
                for i, name in enumerate(["pose", "face", "left_hand", "right_hand"])
            },
            "problems": problems + [p for p in self.check() if p.sample not in reported],
        }


def sign_list(dataset: Dataset, sign_ids: Sequence[str] | None = None) -> list[tuple[str, str]]:
    """(sign_id, name) pairs in class order."""
    ids = dataset.sign_ids if sign_ids is None else list(sign_ids)
    return [(i, dataset.sign_names.get(i, i)) for i in ids]
