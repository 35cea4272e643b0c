"""Importers: other keypoint formats into a signpose dataset folder (the same one that
`extract` writes), and the notebook's numpy arrays out of one.

mpdata  the seed notebook's layout, one 1662-float (or 258, no face) `.npy` per frame:
        MP_Data/<signer>/<sign>/<sequence>/<frame>.npy, or MP_Data/<sign>/<sequence>/<frame>.npy
npz     seed-format vectors in one file: X (N, T, 1662), label, signer (or recorder)
kaggle  Google's Isolated Sign Language Recognition ("asl-signs"): train.csv +
        one long-format parquet per sequence (NaN = not detected)
pose    a folder of `.pose` files with a CSV mapping file -> signer, sign
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import SignposeError
from ..progress import bar
from ..util import natural_key
from .dataset import ManifestRow, read_table, sample_id
from .keypoints import KeypointSequence, read_pose
from .labels import normalise_sign_id, read_labels
from .schema import FACE, LEFT_HAND, N_POINTS, POSE, RIGHT_HAND, from_seed_vectors
from .writer import DatasetWriter, check_dataset_target

MPDATA_PATTERN = "MP_Data/<signer>/<sign>/<sequence>/<frame>.npy or MP_Data/<sign>/<sequence>/<frame>.npy"


@dataclass
class Imported:
    sample: str
    signer: str
    sign_id: str
    source: str
    seq: KeypointSequence | None = None
    error: str = ""


@dataclass
class ImportReport:
    out: Path
    imported: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    renamed: list[tuple[str, str]] = field(default_factory=list)  # ids the source gave twice -> kept as
    off_frame: dict[str, tuple[int, float]] = field(default_factory=dict)  # signer -> (samples, largest |x|, |y|)

    def summary(self) -> str:
        lines = [f"{self.imported + len(self.failed)} samples: {self.imported} imported, {len(self.failed)} failed"]
        if self.renamed:
            first, kept = self.renamed[0]
            lines.append(
                f"  {len(self.renamed)} sample ids were given twice by the source and kept under new ids "
                f"(e.g. {first} -> {kept})"
            )
        for signer, (count, largest) in self.off_frame.items():
            lines.append(
                f"  {count} samples of {signer} have x, y up to {largest:.0f} frame widths/heights: pixels, not frame "
                "units? body-normalised features (the default) do not depend on the scale; image units and drawings do"
            )
        lines += [f"  failed: {sample}: {error}" for sample, error in self.failed]
        lines.append(f"dataset: {self.out}")
        return "\n".join(lines)


def source_file(root: Path, name: object, column: str = "file") -> Path:
    """A file named in a table cell, inside the source root (never above it)."""
    if not isinstance(name, str) or not name.strip():
        raise SignposeError(f"empty {column} cell")
    relative = Path(name)
    if relative.is_absolute() or ".." in relative.parts:
        raise SignposeError(f"{name}: {column} must be a path inside {root}, without '..'")
    return root / relative


# Image-normalised points past the frame stay within a few frame widths (MediaPipe places
# joints it cannot see just outside it: at most 4 in 2,916 real sequences); beyond this,
# a source wrote pixels.
OFF_FRAME = 10.0


def _check_units(report: ImportReport, item: Imported) -> None:
    """Count a sample whose x, y are far past the frame (a recorder that saved pixels)."""
    xy = np.abs(item.seq.xyz[..., :2][item.seq.present])
    largest = float(xy.max()) if xy.size else 0.0
    if largest > OFF_FRAME:
        count, most = report.off_frame.get(item.signer, (0, 0.0))
        report.off_frame[item.signer] = (count + 1, max(most, largest))


def _write(
    out: Path,
    items: Iterable[Imported],
    names: dict[str, str],
    meta: dict,
    progress: bool,
    append: bool,
    source: Path,
) -> ImportReport:
    report = ImportReport(Path(out))
    with DatasetWriter(out, meta, names, append=append, sources=(source,)) as writer:
        taken: set[str] = set()
        for item in bar(items, desc=meta["created_by"], unit="seq", enabled=progress):
            sample = writer.qualify(item.sample)
            if sample in taken:  # the source names two sequences alike: both are kept
                sample = next(f"{sample}~{k}" for k in itertools.count(2) if f"{sample}~{k}" not in taken)
                report.renamed.append((item.sample, sample))
            taken.add(sample)
            if item.seq is not None and item.seq.frames == 0:
                item = dataclasses.replace(item, seq=None, error="no frames")
            row = ManifestRow(
                sample,
                item.signer,
                item.sign_id,
                source=item.source,
                status="ok" if item.seq is not None else "error",
                error=item.error,
            )
            writer.add(row, item.seq)
            if item.seq is None:
                report.failed.append((item.sample, item.error))
            else:
                report.imported += 1
                _check_units(report, item)
    if not report.imported and not report.failed:
        raise SignposeError(f"nothing to import from {meta.get('source_root')}")
    return report


# ---------------------------------------------------------------------------------------
# mpdata
# ---------------------------------------------------------------------------------------


def _numbered(folder: Path) -> list[Path]:
    items = [p for p in folder.iterdir() if not p.name.startswith(".")]
    return sorted(items, key=lambda p: natural_key(p.name))


def _mpdata_sequences(root: Path, signer: str | None) -> Iterator[tuple[str, str, Path]]:
    """(signer, sign folder, sequence folder) for both MP_Data variants."""
    tops = [p for p in _numbered(root) if p.is_dir()]
    if not tops:
        raise SignposeError(f"{root}: no folders; expected {MPDATA_PATTERN}")
    # frames three levels down (sign/sequence/frame) or four (signer/sign/sequence/frame),
    # looked for across every folder: one empty sequence folder decides nothing
    with_signer = not any(root.glob("*/*/*.npy")) and any(root.glob("*/*/*/*.npy"))
    for top in tops:
        if with_signer:
            for sign in (p for p in _numbered(top) if p.is_dir()):
                for seq in (p for p in _numbered(sign) if p.is_dir()):
                    yield top.name, sign.name, seq
        else:
            for seq in (p for p in _numbered(top) if p.is_dir()):
                yield signer or root.resolve().parent.name, top.name, seq


def read_mpdata_sequence(folder: Path) -> np.ndarray:
    """The frames of one MP_Data sequence as (T, 1662 or 258), ordered numerically."""
    frames = sorted(folder.glob("*.npy"), key=lambda p: natural_key(p.stem))
    if not frames:
        raise SignposeError(f"{folder}: no frame .npy files; expected {MPDATA_PATTERN}")
    for f in frames:
        if not f.stem.isdigit():
            raise SignposeError(f"{f}: frame file name is not a number; expected {MPDATA_PATTERN}")
    return np.stack([np.load(f, allow_pickle=False) for f in frames])


def seed_vectors_to_sequence(vectors: np.ndarray, fps: float = 30.0) -> KeypointSequence:
    xyz, present = from_seed_vectors(vectors)
    visibility = None
    if vectors.shape[-1] >= POSE.size * 4:
        visibility = np.asarray(vectors[..., : POSE.size * 4], np.float32).reshape(-1, POSE.size, 4)[..., 3]
    return KeypointSequence(xyz=xyz, present=present, fps=fps, width=1, height=1, visibility=visibility)


def import_mpdata(
    source: str | Path,
    out: str | Path,
    signer: str | None = None,
    labels: str | Path | None = None,
    fps: float = 30.0,
    progress: bool = True,
    append: bool = False,
) -> ImportReport:
    check_dataset_target(out)
    root = Path(source)
    if not root.is_dir():
        raise SignposeError(f"{root}: no such folder; expected {MPDATA_PATTERN}")

    def items():
        for who, sign, seq in _mpdata_sequences(root, signer):
            sample = f"{who}/{sign}/{seq.name}"
            try:
                yield Imported(
                    sample,
                    who,
                    normalise_sign_id(sign),
                    seq.relative_to(root).as_posix(),
                    seed_vectors_to_sequence(read_mpdata_sequence(seq), fps),
                )
            except (SignposeError, ValueError, OSError) as e:
                yield Imported(
                    sample,
                    who,
                    normalise_sign_id(sign),
                    seq.relative_to(root).as_posix(),
                    error=str(e),
                )

    names = read_labels(labels) if labels else {}
    meta = {
        "created_by": "import mpdata",
        "source_root": str(root.resolve()),
        "units": "image-normalised",
    }
    return _write(Path(out), items(), names, meta, progress, append, root)


@dataclass
class NpzArrays:
    """The arrays of a seed-format .npz, checked against each other."""

    X: np.ndarray  # (N, T, 1662 or 258)
    labels: np.ndarray  # (N,) str
    signers: np.ndarray  # (N,) str
    seq: np.ndarray  # (N,) sequence numbers
    length: np.ndarray | None  # (N,) frames per sequence, None: every sequence is T frames


def read_npz(path: Path) -> NpzArrays:
    """X, label, signer (or recorder), and seq and length where given; one line for a file
    that is not such an .npz."""
    import zipfile

    try:
        z = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise SignposeError(f"{path}: cannot read as .npz ({e})") from None
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise SignposeError(f"{path}: is a single .npy array, not an .npz with X, label and signer arrays")
    with z:
        keys = set(z.files)
        signer_key = "signer" if "signer" in keys else "recorder"
        if not {"X", "label", signer_key} <= keys:
            raise SignposeError(f"{path}: needs arrays X, label and signer (or recorder); has {sorted(keys)}")
        try:
            arrays = {k: z[k] for k in ("X", "label", signer_key, "seq", "length") if k in keys}
        except (ValueError, zipfile.BadZipFile, OSError) as e:
            raise SignposeError(
                f"{path}: cannot read its arrays ({str(e).splitlines()[0]}); save them as numbers "
                "and strings, not Python objects"
            ) from None
    X = arrays["X"]
    if X.ndim != 3 or X.dtype.kind not in "fiu":
        raise SignposeError(
            f"{path}: X must be numbers of shape (sequences, frames, 1662 or 258), not {X.dtype} {X.shape}"
        )
    n = len(X)
    seq = arrays.get("seq", np.arange(n))
    length = arrays.get("length")
    for name, a in (("label", arrays["label"]), (signer_key, arrays[signer_key]), ("seq", seq), ("length", length)):
        if a is not None and a.shape != (n,):
            raise SignposeError(
                f"{path}: {name} has shape {a.shape}, X has {n} sequences; give one {name} per sequence"
            )
    if length is not None and (length.dtype.kind not in "iu" or (length < 0).any() or (length > X.shape[1]).any()):
        raise SignposeError(f"{path}: length must be whole numbers from 0 to {X.shape[1]} (X's frames)")
    return NpzArrays(X, arrays["label"].astype(str), arrays[signer_key].astype(str), seq, length)


def import_npz(
    source: str | Path,
    out: str | Path,
    fps: float = 30.0,
    progress: bool = True,
    append: bool = False,
    labels: str | Path | None = None,
) -> ImportReport:
    """Seed-format vectors in one .npz: X (N, T, 1662 or 258), label and signer (or
    recorder); optional seq (sequence numbers) and length (frames per sequence: the frames
    after it are padding, not part of the sign, and are not imported). `labels` names the
    signs (KArSL's xlsx or a CSV SignID,Sign), as `extract --labels` does."""
    check_dataset_target(out)
    path = Path(source)
    z = read_npz(path)
    names = read_labels(labels) if labels else {}
    unknown = sorted({normalise_sign_id(label) for label in z.labels} - set(names), key=natural_key) if names else []
    if unknown:
        raise SignposeError(
            f"{labels}: sign ids {unknown[:10]} of {path.name} are not in the label file; pass the full label file"
        )
    lengths = z.length if z.length is not None else np.full(len(z.X), z.X.shape[1])

    def items():
        for x, label, who, n, length in zip(z.X, z.labels, z.signers, z.seq, lengths, strict=True):
            sample, sign_id, where = sample_id(who, label, n), normalise_sign_id(label), f"{path.name}#{n}"
            if length == 0:
                yield Imported(sample, who, sign_id, where, error="no frames (length 0)")
            else:
                yield Imported(sample, who, sign_id, where, seed_vectors_to_sequence(x[:length], fps))

    meta = {
        "created_by": "import npz",
        "source_root": str(path.resolve().parent),
        "units": "image-normalised",
        "padding": "trimmed: each sequence imported up to its own length" if z.length is not None else None,
        "labels": str(labels) if labels else None,
    }
    return _write(Path(out), items(), names, meta, progress, append, path)


# ---------------------------------------------------------------------------------------
# kaggle asl-signs
# ---------------------------------------------------------------------------------------

_KAGGLE_OFFSETS = {
    "pose": POSE.start,
    "face": FACE.start,
    "left_hand": LEFT_HAND.start,
    "right_hand": RIGHT_HAND.start,
}
_KAGGLE_SIZES = {"pose": POSE.size, "face": FACE.size, "left_hand": LEFT_HAND.size, "right_hand": RIGHT_HAND.size}


def read_kaggle_parquet(path: Path, fps: float = 30.0) -> KeypointSequence:
    """One long-format landmark file -> a sequence (NaN landmarks become absent)."""
    df = pd.read_parquet(path, columns=["frame", "type", "landmark_index", "x", "y", "z"])
    if df.empty:
        raise SignposeError(f"{path}: no landmark rows")
    unknown = set(df["type"].unique()) - set(_KAGGLE_OFFSETS)
    if unknown:
        raise SignposeError(f"{path}: unknown landmark types {sorted(unknown)}; expected {sorted(_KAGGLE_OFFSETS)}")
    index = df["landmark_index"].to_numpy()
    sizes = df["type"].map(_KAGGLE_SIZES).to_numpy()
    if ((index < 0) | (index >= sizes)).any():  # another part's point would be written silently
        bad = df[(index < 0) | (index >= sizes)].iloc[0]
        raise SignposeError(
            f"{path}: landmark_index {bad.landmark_index} is outside {bad.type}'s 0-{_KAGGLE_SIZES[bad.type] - 1}"
        )
    frames, t_index = np.unique(df["frame"].to_numpy(), return_inverse=True)
    point = df["type"].map(_KAGGLE_OFFSETS).to_numpy() + index
    xyz = np.zeros((len(frames), N_POINTS, 3), np.float32)
    xyz[t_index, point] = df[["x", "y", "z"]].to_numpy(np.float32)
    present = np.zeros((len(frames), N_POINTS), bool)
    present[t_index, point] = ~np.isnan(xyz[t_index, point]).any(axis=1)
    xyz = np.nan_to_num(xyz)
    return KeypointSequence(xyz=xyz, present=present, fps=fps, width=1, height=1)


def import_kaggle(source: str | Path, out: str | Path, progress: bool = True, append: bool = False) -> ImportReport:
    check_dataset_target(out)
    root = Path(source)
    table_path = root / "train.csv"
    if root.is_file() and root.suffix.lower() == ".csv":  # the CSV itself, as Kaggle users point to it
        root, table_path = root.parent, root
    if not table_path.is_file():
        raise SignposeError(f"{root}: no train.csv; expected the asl-signs layout (train.csv + train_landmark_files/)")
    table = pd.read_csv(table_path, dtype=str)
    missing = {"path", "participant_id", "sequence_id", "sign"} - set(table.columns)
    if missing:
        raise SignposeError(f"{table_path}: columns {sorted(missing)} are missing")

    def items():
        for row in table.itertuples():
            sample = sample_id(row.participant_id, row.sequence_id)
            try:
                seq = read_kaggle_parquet(source_file(root, row.path, "path"))
                yield Imported(sample, row.participant_id, row.sign, row.path, seq)
            except (SignposeError, OSError, ValueError) as e:
                yield Imported(sample, row.participant_id, row.sign, row.path, error=str(e).splitlines()[0])

    meta = {
        "created_by": "import kaggle",
        "source_root": str(root.resolve()),
        "units": "image-normalised",
    }
    return _write(Path(out), items(), {}, meta, progress, append, root)


# ---------------------------------------------------------------------------------------
# pose files
# ---------------------------------------------------------------------------------------


def import_pose(
    source: str | Path,
    out: str | Path,
    mapping: str | Path,
    progress: bool = True,
    append: bool = False,
) -> ImportReport:
    """`.pose` files under `source`; `mapping` is a CSV with columns file, signer, sign."""
    check_dataset_target(out)
    root = Path(source)
    if not Path(mapping).is_file():
        raise SignposeError(f"{mapping}: mapping file not found; expected a CSV with columns file,signer,sign")
    table = read_table(Path(mapping), "mapping file")
    missing = {"file", "signer", "sign"} - set(table.columns)
    if missing:
        raise SignposeError(f"{mapping}: columns {sorted(missing)} are missing; expected file,signer,sign")
    names = {}
    if "sign_id" in table.columns:
        names = dict(zip(table.sign_id.map(normalise_sign_id), table.sign, strict=True))

    def items():
        for row in table.itertuples():
            sign_id = normalise_sign_id(row.sign_id) if "sign_id" in table.columns else row.sign
            sample = sample_id(row.signer, *Path(str(row.file)).with_suffix("").parts)
            try:
                yield Imported(sample, row.signer, sign_id, row.file, read_pose(source_file(root, row.file), own=False))
            except SignposeError as e:
                yield Imported(sample, row.signer, sign_id, row.file, error=str(e))

    meta = {"created_by": "import pose", "source_root": str(root.resolve())}
    return _write(Path(out), items(), names, meta, progress, append, root)
