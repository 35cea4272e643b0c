"""`DatasetWriter`: how every producer (extract, import, synth) adds samples to a dataset.

It writes each sample's `.pose` file atomically, keeps the manifest rows, and writes the
manifest, the sign list and dataset.json atomically on `flush()` and `close()`. Rows
already in the folder are kept: writing again only adds or updates rows, so a partial
rerun never shrinks a dataset, and sign names given once stay unless new ones are given.
"""

from __future__ import annotations

import csv
import os
import socket
import sys
import time
from pathlib import Path

import pandas as pd

from .. import __version__
from ..errors import SignposeError
from ..util import atomic_write_json, check_output_folder, natural_sorted, process_alive
from .dataset import (
    FORMAT_NAME,
    FORMAT_VERSION,
    MANIFEST,
    MANIFEST_COLUMNS,
    META,
    NUMERIC_COLUMNS,
    SIGNS,
    ManifestRow,
    check_sample_id,
    number_repetitions,
    pose_path_for,
    read_manifest,
    read_meta,
    read_signs,
    visible_name,
    write_table,
)
from .keypoints import KeypointSequence, write_pose

LOCK = ".signpose.lock"


# What says where a dataset's samples came from and how: writing into a dataset made
# otherwise needs --append. (Labels only name signs; they may change.)
_NOT_IDENTITY = {"format", "version", "signpose", "labels", "sources"}


def _identity(meta: dict) -> dict:
    return {k: v for k, v in meta.items() if k not in _NOT_IDENTITY}


def check_dataset_target(root: str | Path, sources: tuple[str | Path, ...] = ()) -> None:
    """Before any work: --out must be a folder (new or existing), not a file, apart from
    the sources read and from any run or other dataset (see `check_output_folder`)."""
    if Path(root).exists() and not Path(root).is_dir():
        raise SignposeError(f"{root}: is a file; --out must be a dataset folder (new or existing)")
    check_output_folder(root, "--out", sources, kind="dataset")


class DatasetWriter:
    """Adds samples to a dataset folder; use as a context manager so the manifest is
    written however the block ends (work already done stays listed).

    Writing into a dataset that another source, layout or set of MediaPipe settings made
    is refused unless `append` (then dataset.json lists every source). With
    `rebuild_broken_manifest`, a manifest that cannot be read is moved aside (kept) and
    the producer rebuilds the rows from the files it finds."""

    def __init__(
        self,
        root: str | Path,
        meta: dict,
        names: dict[str, str] | None = None,
        append: bool = False,
        rebuild_broken_manifest: bool = False,
        lock: bool = True,
        sources: tuple[str | Path, ...] = (),
    ):
        self.root = Path(root)
        check_dataset_target(self.root, sources)
        self.previous_meta = read_meta(self.root) if self.root.is_dir() else {}
        new = {k: v for k, v in meta.items() if v is not None}
        # The samples of a second (third...) source live under poses/source<K>/, so that two
        # sources laid out alike (the same relative paths, the same ids) never overwrite or
        # shadow each other; a rerun of the same source finds the same ids again.
        self.source_prefix = ""
        if self.previous_meta and _identity(self.previous_meta) != _identity({**self.previous_meta, **new}):
            if not append:
                raise SignposeError(_refusal(self.root, self.previous_meta, new))
            sources = self.previous_meta.get("sources") or [_identity(self.previous_meta)]
            added = _identity({**self.previous_meta, **new})
            if added not in sources:
                sources = [*sources, added]
            index = sources.index(added)
            self.source_prefix = f"source{index + 1}/" if index else ""
            new = {
                "sources": sources,
                **({"labels": meta["labels"]} if meta.get("labels") else {}),
            }
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = FolderLock(self.root) if lock else None
        if self._lock:
            self._lock.acquire()
        try:
            self.rows: dict[str, ManifestRow] = self._read_rows(rebuild_broken_manifest)
            given = {visible_name(k): visible_name(v) for k, v in (names or {}).items()}
            self.names = {**read_signs(self.root), **given}
        except BaseException:
            self.release()
            raise
        self.meta = {**self.previous_meta, **new}

    def _read_rows(self, rebuild: bool) -> dict[str, ManifestRow]:
        if not (self.root / MANIFEST).is_file():
            return {}
        try:
            return {r.sample: r for r in read_manifest(self.root)}
        except SignposeError as e:
            if not rebuild:
                raise
            aside = self.root / f"{MANIFEST}.broken-{time.strftime('%Y%m%d-%H%M%S')}"
            (self.root / MANIFEST).rename(aside)
            kept = self._salvage(aside)
            print(
                f"signpose: warning: {e}; kept it as {aside.name} and rebuilding the manifest from its "
                f"{len(kept)} readable rows whose pose files exist (any source) and the pose files found",
                file=sys.stderr,
            )
            return kept

    def _salvage(self, broken: Path) -> dict[str, ManifestRow]:
        """The rows of a broken manifest that still read, one line at a time (a bad line
        costs itself only), whose pose files exist: the rows of other sources survive a
        rebuild that this source's files alone could not make again."""
        rows: dict[str, ManifestRow] = {}
        with open(broken, encoding="utf-8", errors="replace", newline="") as f:
            lines = f.read().splitlines()
        if not lines:
            return rows
        header = next(csv.reader([lines[0]]))
        for line in lines[1:]:
            try:
                values = next(csv.reader([line], strict=True))
            except (csv.Error, StopIteration):
                continue
            if len(values) != len(header) or line.count('"') % 2:
                continue
            record = dict(zip(header, values, strict=True))
            try:
                row = ManifestRow(
                    **{k: record.get(k, "") for k in MANIFEST_COLUMNS if k in record},
                )
                for name, kind in NUMERIC_COLUMNS.items():
                    setattr(row, name, kind(float(getattr(row, name) or 0)))
            except (TypeError, ValueError):
                continue
            if row.sample and row.status == "ok" and row.file and (self.root / row.file).is_file():
                rows[row.sample] = row
        return rows

    # -- samples -------------------------------------------------------------------------

    def name_of(self, sign_id: str) -> str:
        return self.names.get(sign_id) or sign_id

    def qualify(self, sample: str) -> str:
        """The id a source's own sample id has in this dataset (see `source_prefix`)."""
        return self.source_prefix + sample

    def add(self, row: ManifestRow, seq: KeypointSequence | None = None) -> ManifestRow:
        """Record a sample; with `seq`, also write its pose file (atomically) first."""
        check_sample_id(row.sample)
        row.sign_id, row.sign, row.signer = map(visible_name, (row.sign_id, row.sign or "", row.signer))
        if seq is not None:
            row.file = pose_path_for(row.sample)
            write_pose(self.root / row.file, seq)
            row.frames, row.fps, row.width, row.height = (
                seq.frames,
                float(seq.fps),
                seq.width,
                seq.height,
            )
        if row.status != "ok":
            row.file = ""
        row.sign = self.name_of(row.sign_id) if not row.sign or row.sign == row.sign_id else row.sign
        self.names.setdefault(row.sign_id, row.sign)
        self.rows[row.sample] = row
        return row

    def remove(self, sample: str) -> bool:
        """Take a sample out: its row, and its pose file (whether or not the row listed one)."""
        check_sample_id(sample)
        row = self.rows.pop(sample, None)
        path = self.root / (row.file if row is not None and row.file else pose_path_for(sample))
        existed = path.is_file()
        path.unlink(missing_ok=True)
        return row is not None or existed

    def pose_path(self, sample: str) -> Path:
        return self.root / pose_path_for(sample)

    # -- writing -------------------------------------------------------------------------

    def flush(self) -> None:
        """Write the manifest as it is now (atomically)."""
        rows = natural_sorted(self.rows.values(), key=lambda r: r.sample)
        write_table(
            self.root / MANIFEST,
            pd.DataFrame([r.as_dict() for r in rows], columns=MANIFEST_COLUMNS),
        )

    def close(self) -> None:
        """Number repetitions, then write the manifest, the sign list and dataset.json."""
        try:
            self._number_repetitions()
            self.flush()
            ids = natural_sorted({r.sign_id for r in self.rows.values()})
            write_table(
                self.root / SIGNS,
                pd.DataFrame({"sign_id": ids, "sign": [self.name_of(i) for i in ids]}),
            )
            atomic_write_json(
                self.root / META,
                {
                    "format": FORMAT_NAME,
                    "version": FORMAT_VERSION,
                    **self.meta,
                    "signpose": __version__,
                },
            )
        finally:
            self.release()

    def release(self) -> None:
        if self._lock:
            self._lock.release()
            self._lock = None

    def _number_repetitions(self) -> None:
        """Rows without a repetition number get their position among the same signer's
        samples of the same sign."""
        rows = list(self.rows.values())
        numbers = number_repetitions([(r.signer, r.sign_id, r.sample) for r in rows])
        unnumbered = {(r.signer, r.sign_id) for r in rows if r.repetition == 0}
        for r, n in zip(rows, numbers, strict=True):
            if (r.signer, r.sign_id) in unnumbered:  # a group with any sample unnumbered is numbered anew
                r.repetition = n

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _refusal(root: Path, before: dict, now: dict) -> str:
    differ = sorted(k for k in set(_identity(before)) | set(_identity(now)) if before.get(k) != now.get(k))
    made = before.get("created_by", "another command")
    source = f" from {before['source_root']}" if before.get("source_root") else ""
    return (
        f"{root}: holds a dataset made by {made}{source} with other settings ({', '.join(differ)}); "
        "pass --append to add these samples to it, or choose a new --out"
    )


class FolderLock:
    """One writer at a time per folder (a dataset, a run): a lock file with the owner's pid
    and host. A lock left by a process that no longer runs (on this host) is taken over.
    The file appears whole or not at all (written aside, then linked into place), so a
    lock without an owner is never one being written."""

    def __init__(self, root: Path, what: str = "dataset"):
        self.path = Path(root) / LOCK
        self.what = what
        self.held = False

    def acquire(self) -> None:
        me = f"{os.getpid()} {socket.gethostname()} {time.time():.0f}\n"
        aside = self.path.with_name(f"{LOCK}.{os.getpid()}.tmp")
        try:
            aside.write_text(me)
            for _ in range(2):
                try:
                    os.link(aside, self.path)
                except FileExistsError:
                    owner = self._owner()
                    if owner is not None and not self._dead(owner):
                        pid, host = owner
                        raise SignposeError(
                            f"{self.path.parent}: another signpose process (pid {pid} on {host}) is writing this "
                            f"{self.what}; wait for it to finish, or delete {self.path} if it is gone"
                        ) from None
                    print(f"signpose: taking over a stale lock {self.path} (its process is gone)", file=sys.stderr)
                    self.path.unlink(missing_ok=True)
                    continue
                self.held = True
                return
        finally:
            aside.unlink(missing_ok=True)
        raise SignposeError(f"{self.path}: cannot take the {self.what} lock; delete it and retry")

    def _owner(self) -> tuple[int, str] | None:
        try:
            pid, host, *_ = self.path.read_text().split()
            return int(pid), host
        except (OSError, ValueError):
            return None

    @staticmethod
    def _dead(owner: tuple[int, str]) -> bool:
        pid, host = owner
        # another machine's process cannot be asked: assumed alive
        return host == socket.gethostname() and not process_alive(pid)

    def live_owner(self) -> tuple[int, str] | None:
        """The process (pid, host) holding the lock now, if another one does."""
        owner = self._owner()
        if owner is None or self._dead(owner) or owner == (os.getpid(), socket.gethostname()):
            return None
        return owner

    def release(self) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False


def check_not_being_written(root: str | Path) -> None:
    """Reading a dataset that `extract` or `import` is still writing (train, cv,
    export-arrays) would quietly use only the samples finished so far: refused in one line."""
    owner = FolderLock(Path(root)).live_owner()
    if owner is not None:
        raise SignposeError(
            f"{root}: another signpose process (pid {owner[0]} on {owner[1]}) is still writing this dataset; "
            "wait for it to finish, then rerun (now it would miss the samples still to come)"
        )
