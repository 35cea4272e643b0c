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
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import SignposeError
from ..util import atomic_write_bytes, natural_key, natural_sorted
from .keypoints import KeypointSequence, read_pose

FORMAT_NAME = "signpose-dataset"
FORMAT_VERSION = 1
MANIFEST = "manifest.csv"
SIGNS = "signs.csv"
META = "dataset.json"
POSES = "poses"


@dataclass
class ManifestRow:
    """One sample of a dataset: one line of manifest.csv."""

    sample: str  # stable id: the source path relative to the source root, without extension
    signer: str
    sign_id: str
    sign: str = ""  # display name (any script); the sign id when no labels were given
    file: str = ""  # the .pose file, relative to the dataset folder ("" when it failed)
    source: str = ""  # where it came from, relative to dataset.json's source_root
    subset: str = ""  # KArSL's train/test folder name; the signer-independent protocol ignores it
    repetition: int = 0
    frames: int = 0
    fps: float = 0.0
    width: int = 0
    height: int = 0
    status: str = "ok"  # ok | error
    error: str = ""
    declared_frames: int = 0  # frames the video container declares (0: unknown, or not a video)

    @property
    def truncated(self) -> bool:
        """Fewer frames decoded than the container declares (beyond the usual off-by-a-few)."""
        return self.declared_frames > 0 and self.frames < self.declared_frames - max(2, 0.05 * self.declared_frames)

    def as_dict(self) -> dict:
        return asdict(self)


MANIFEST_COLUMNS = [f.name for f in fields(ManifestRow)]
NUMERIC_COLUMNS = {
    "repetition": int,
    "frames": int,
    "fps": float,
    "width": int,
    "height": int,
    "declared_frames": int,
}


def pose_path_for(sample: str) -> str:
    """The dataset-relative .pose path of a sample id."""
    return f"{POSES}/{sample}.pose"


_UNSAFE = re.compile(r"[/\\\x00-\x1f]")
_PART_BYTES = 200  # a file name may have 255 bytes; room is left for ".pose" and a temp suffix


def id_part(name: object) -> str:
    """One component of a sample id from an untrusted name (a file's contents, a CSV
    cell): separators and control characters become "_", "." and ".." cannot climb out
    of the dataset, and a name too long for a file name is shortened (with a hash, so two
    long names stay apart)."""
    part = _UNSAFE.sub("_", str(name)).strip()
    if part.strip(".") == "":
        part = part.replace(".", "_") or "_"
    if len(part.encode()) > _PART_BYTES:
        digest = hashlib.sha1(part.encode()).hexdigest()[:10]
        part = part.encode()[: _PART_BYTES - 11].decode(errors="ignore") + "-" + digest
    return part


def sample_id(*parts: object) -> str:
    """A sample id from untrusted names: each one path component (see `id_part`)."""
    return "/".join(id_part(p) for p in parts)


def unsafe_part(name: str) -> bool:
    """Whether a name cannot be one path component inside a dataset: empty, "." or "..",
    or holding a / or \\ (the rule sample ids and the names people type both follow)."""
    return name in ("", ".", "..") or "/" in name or "\\" in name


def check_sample_id(sample: str) -> None:
    """A sample id must stay inside the dataset's poses/ folder."""
    if any(unsafe_part(p) for p in sample.split("/")):
        raise SignposeError(f"sample id {sample!r} would write outside the dataset; build ids with sample_id()")


# A cell that starts with one of these is a formula to a spreadsheet ("=cmd|' /C calc'!A0"):
# written with a leading apostrophe (OWASP's advice), which `read_table` takes off again.
# An apostrophe itself is escaped the same way, so every name reads back as it was written.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")
_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _escape_cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _NUMBER.match(value):
        return "'" + value
    return value


def _unescape_cell(value: str) -> str:
    if value.startswith("'") and value[1:].startswith(_FORMULA_START) and not _NUMBER.match(value[1:]):
        return value[1:]
    return value


def visible_name(name: object) -> object:
    """A name from data with its control characters shown as U+FFFD: a NUL cut "a\\x00b"
    to "a" in some files and not in others."""
    return _CONTROL.sub("\ufffd", name) if isinstance(name, str) else name


def number_repetitions(keys: list[tuple[str, str, str]]) -> list[int]:
    """The one repetition rule, for (signer, sign id, sample id) keys: a sample's position
    (1, 2, ...) among the same signer's samples of the same sign, in the natural order of
    the sample ids. Layouts whose file names carry the number (LSA64) give it themselves."""
    numbers = [0] * len(keys)
    groups: dict[tuple[str, str], list[tuple[str, int]]] = {}
    for i, (signer, sign_id, sample) in enumerate(keys):
        groups.setdefault((signer, sign_id), []).append((sample, i))
    for group in groups.values():
        for n, (_, i) in enumerate(sorted(group, key=lambda g: natural_key(g[0])), start=1):
            numbers[i] = n
    return numbers


def write_table(path: Path, table: pd.DataFrame) -> None:
    """Write a CSV atomically, UTF-8, so Arabic names survive any reader, with cells that
    a spreadsheet would run as formulas escaped."""
    text = table.map(_escape_cell) if len(table) else table
    atomic_write_bytes(path, text.to_csv(index=False).encode("utf-8"))


def read_table(path: Path, what: str = "table") -> pd.DataFrame:
    """A UTF-8 CSV as text columns; a malformed file is one error naming file and line."""
    path = Path(path)
    try:
        bad = _unbalanced_quote_line(path)  # first: pandas would name a row far from it
        if bad:
            raise SignposeError(f"{path}: malformed {what} (an unbalanced quote at line {bad})")
        table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8").map(_unescape_cell)
    except pd.errors.EmptyDataError:
        raise SignposeError(f"{path}: the {what} is empty") from None
    except pd.errors.ParserError as e:
        raise SignposeError(f"{path}: malformed {what} ({_first_line(e)})") from None
    except UnicodeDecodeError:
        raise SignposeError(f"{path}: the {what} is not UTF-8 text") from None
    return table


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__


def _unbalanced_quote_line(path: Path) -> int:
    """The line where a quote opens and never closes (pandas would swallow the rest)."""
    odd, opened = False, 0
    with open(path, encoding="utf-8", newline="") as f:
        for number, line in enumerate(f, start=1):
            if line.count('"') % 2:
                odd = not odd
                opened = number if odd else 0
    return opened


def read_manifest_table(root: Path) -> pd.DataFrame:
    """A dataset's manifest as a table with every column, typed; a broken file is one error."""
    path = Path(root) / MANIFEST
    table = read_table(path, "manifest")
    missing = [c for c in ("sample", "signer", "sign_id") if c not in table.columns]
    if missing:
        raise SignposeError(f"{path}: columns {missing} are missing; re-run the command that made it")
    for col in MANIFEST_COLUMNS:
        if col not in table.columns:  # a manifest from an older signpose
            table[col] = "ok" if col == "status" else ""
    for col, kind in NUMERIC_COLUMNS.items():
        table[col] = pd.to_numeric(table[col], errors="coerce").fillna(0).astype(kind)
    return table[MANIFEST_COLUMNS]


def read_manifest(root: Path) -> list[ManifestRow]:
    """The rows of a dataset's manifest, typed."""
    return [ManifestRow(**r) for r in read_manifest_table(root).to_dict("records")]


@dataclass
class DatasetProblem:
    sample: str
    problem: str


@dataclass
class DatasetInfo:
    """What `signpose info` shows: counts, frames, detection rates, problems."""

    samples: int
    failed: int
    signers: list[str]
    signs: dict[str, str]  # sign id -> name, in class order
    counts: pd.DataFrame  # sign id x signer
    frames: np.ndarray  # frames per sample
    detected: dict[str, float]  # share of frames with each part detected
    problems: list[DatasetProblem]
    padding: str = ""  # how padded source arrays were read (import npz with length)

    def as_dict(self) -> dict:
        frames = self.frames
        return {
            "samples": self.samples,
            "padding": self.padding,
            "failed": self.failed,
            "signers": self.signers,
            "signs": self.signs,
            "counts": {s: {k: int(v) for k, v in self.counts[s].items()} for s in self.counts.columns},
            "frames": {
                "min": int(frames.min()),
                "mean": float(frames.mean()),
                "max": int(frames.max()),
            }
            if len(frames)
            else {},
            "detected": self.detected,
            "problems": [p.problem for p in self.problems],
        }


def read_meta(root: Path) -> dict:
    path = Path(root) / META
    if not path.is_file():
        return {}
    try:
        meta = json.loads(path.read_text("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise SignposeError(f"{path}: not valid JSON ({e}); delete it and re-run the command that made it") from None
    return meta if isinstance(meta, dict) else {}


def read_signs(root: Path) -> dict[str, str]:
    path = Path(root) / SIGNS
    if not path.is_file():
        return {}
    table = read_table(path, "sign list")
    if not {"sign_id", "sign"} <= set(table.columns):
        raise SignposeError(f"{path}: needs columns sign_id,sign")
    return dict(zip(table["sign_id"], table["sign"], strict=True))


class Dataset:
    """A dataset folder, opened for reading."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        if not self.root.is_dir():
            what = "is a file, not a dataset folder" if self.root.exists() else "no such dataset folder"
            raise SignposeError(
                f"{self.root}: {what}; create one with `signpose extract`, `signpose synth` or `signpose import`"
            )
        if not (self.root / MANIFEST).is_file():
            raise SignposeError(
                f"{self.root}: not a signpose dataset (no {MANIFEST}); create one with "
                "`signpose extract`, `signpose synth` or `signpose import`"
            )
        self.meta = read_meta(self.root)
        table = read_manifest_table(self.root)
        repeated = table["sample"].duplicated(keep="last")
        self.duplicates = natural_sorted(set(table["sample"][repeated]))
        table = table[~repeated]  # a duplicated row counts once (the last one wins)
        self.all_rows = table.sort_values("sample", key=lambda c: c.map(natural_key), kind="stable").reset_index(
            drop=True
        )
        ok = self.all_rows[self.all_rows.status == "ok"]
        self.sign_names = {
            **dict(zip(ok["sign_id"], ok["sign"], strict=False)),
            **read_signs(self.root),
        }

    @property
    def rows(self) -> pd.DataFrame:
        """The samples that were extracted successfully."""
        return self.all_rows[self.all_rows.status == "ok"].reset_index(drop=True)

    @property
    def signers(self) -> list[str]:
        return natural_sorted(self.rows.signer.unique())

    @property
    def sign_ids(self) -> list[str]:
        """Signs that have at least one sample, in natural order (the class order)."""
        return natural_sorted(self.rows.sign_id.unique())

    def require_samples(self) -> None:
        """One line when nothing in the dataset can be used (every sample failed, or none listed)."""
        if not len(self.rows):
            failed = len(self.all_rows)
            why = f"all {failed} of its samples failed" if failed else "its manifest lists no samples"
            raise SignposeError(
                f"{self.root}: has no usable samples ({why}); `signpose info {self.root}` shows why, "
                "then extract or import again"
            )

    def check(self) -> list[DatasetProblem]:
        """Duplicated rows, manifest rows without their file, pose files without a row."""
        problems = [
            DatasetProblem(s, f"{s} appears more than once in {MANIFEST} (counted once)") for s in self.duplicates
        ]
        listed = set(self.all_rows.file)
        for row in self.rows.itertuples():
            try:
                if not self.path_of(row.file).is_file():
                    problems.append(DatasetProblem(row.sample, f"{row.file} is listed but missing"))
            except SignposeError as e:
                problems.append(DatasetProblem(row.sample, str(e)))
        for path in natural_sorted((self.root / POSES).rglob("*.pose"), key=str):
            rel = path.relative_to(self.root).as_posix()
            if rel not in listed:
                problems.append(DatasetProblem(rel, f"{rel} has no manifest row (ignored)"))
        return problems

    @property
    def made_by(self) -> str:
        """The command that made the dataset (extract, import npz, synth...)."""
        return str(self.meta.get("created_by") or "extract")

    def path_of(self, file: str) -> Path:
        """A manifest row's file, which must lie inside the dataset: a hand-edited row
        naming /etc/passwd or another dataset's file is refused by name, never read."""
        relative = Path(file)
        if not file or relative.is_absolute() or ".." in relative.parts:
            raise SignposeError(
                f"{file or '(empty)'}: a manifest file path must lie inside {self.root}, without '..'; "
                f"fix that row of {MANIFEST}"
            )
        return self.root / relative

    def read(self, row) -> KeypointSequence:
        file = row["file"] if isinstance(row, dict | pd.Series) else row.file
        return read_pose(self.path_of(file), made_by=self.made_by)

    def load(
        self, rows: pd.DataFrame | None = None, workers: int = 4, on_error: str = "skip"
    ) -> tuple[list[KeypointSequence], pd.DataFrame, list[DatasetProblem]]:
        """Read the pose files of `rows` (default: all ok samples), in threads.

        Returns the sequences, the rows that loaded, and the problems (a damaged or
        missing file is skipped with its reason, or raises when on_error='raise').
        """
        rows = self.rows if rows is None else rows

        def _read(file: str):
            try:
                return read_pose(self.path_of(file), made_by=self.made_by), None
            except SignposeError as e:
                return None, str(e)

        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            results = list(pool.map(_read, rows.file))
        problems = [DatasetProblem(s, err) for s, (_, err) in zip(rows["sample"], results, strict=True) if err]
        if problems and on_error == "raise":
            raise SignposeError(problems[0].problem)
        keep = np.array([seq is not None for seq, _ in results], dtype=bool)
        return (
            [seq for seq, _ in results if seq is not None],
            rows[keep].reset_index(drop=True),
            problems,
        )

    def fingerprint(self, rows: pd.DataFrame | None = None) -> str:
        """Changes when any sample's file changes: keys derived caches (one stat a file)."""
        rows = self.rows if rows is None else rows
        root = str(self.root)
        h = hashlib.sha1()
        for f in rows.file:
            try:
                st = os.stat(os.path.join(root, f))
                h.update(f"{f}:{st.st_size}:{st.st_mtime_ns}\n".encode())
            except OSError:
                h.update(f"{f}:-1:-1\n".encode())
        return h.hexdigest()[:16]

    def info(self) -> DatasetInfo:
        """Counts of signers x signs, frames per video, and how often each part was seen."""
        seqs, rows, problems = self.load(self.rows)
        table = pd.crosstab(rows.sign_id, rows.signer) if len(rows) else pd.DataFrame()
        if len(table):
            table = table.loc[natural_sorted(table.index), natural_sorted(table.columns)]
        parts = np.concatenate([s.part_present() for s in seqs]) if seqs else np.zeros((0, 4), bool)
        reported = {p.sample for p in problems}  # the check below finds missing files again
        return DatasetInfo(
            samples=len(rows),
            failed=int((self.all_rows.status != "ok").sum()),
            signers=self.signers,
            signs={sid: self.sign_names.get(sid, sid) for sid in self.sign_ids},
            counts=table,
            frames=np.array([s.frames for s in seqs]) if seqs else np.zeros(0, int),
            detected={
                name: float(parts[:, i].mean()) if len(parts) else 0.0
                for i, name in enumerate(["pose", "face", "left_hand", "right_hand"])
            },
            problems=problems + [p for p in self.check() if p.sample not in reported],
            padding=str(self.meta.get("padding", "")),
        )
