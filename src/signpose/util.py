"""Small helpers every stage uses: natural sort order, atomic UTF-8 file writes, CPUs.

Atomic means a reader sees the old file or the whole new one, never half of it: a crash
or `kill -9` at any moment leaves something complete on disk.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from .errors import SignposeError


def available_cpus() -> int:
    """CPUs this process may run on: its affinity (taskset, a container's cpuset), not the
    machine's count, so that two jobs pinned to one core each do not start two threads each
    and slow both down many times over."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def natural_key(text: object) -> tuple:
    """Sort key that orders '2' before '10' and 'frame_9' before 'frame_10'."""
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(text)))


def natural_sorted(items, key=lambda x: x) -> list:
    return sorted(items, key=lambda x: natural_key(key(x)))


@contextmanager
def atomic_file(path: str | Path) -> Iterator[BinaryIO]:
    """A binary file that becomes `path` only when the block ends without error: a reader
    sees the old file or the whole new one, never half. Temporary files of processes that
    died (`kill -9`) in the same folder are removed here, so none lingers for good."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_orphans(path.parent)
    # a short temp name: the final name may already be as long as a file name can be
    fd, tmp = tempfile.mkstemp(prefix=f".{os.getpid()}-", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o644)  # mkstemp makes 0600 files; datasets and runs are meant to be shared
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        if e.filename is None and e.errno is not None:  # a write's error names no file: name the one meant
            raise OSError(e.errno, e.strerror, str(path)) from e
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_TEMP_NAME = re.compile(r"^\.(\d+)-[\w-]+\.tmp$")


def _remove_orphans(folder: Path) -> None:
    """Temporary files whose writer process no longer runs (its pid is in the name)."""
    try:
        names = [e.name for e in os.scandir(folder) if e.name.endswith(".tmp")]
    except OSError:
        return
    for name in names:
        match = _TEMP_NAME.match(name)
        if match and not process_alive(int(match.group(1))):
            (folder / name).unlink(missing_ok=True)


def process_alive(pid: int) -> bool:
    """Whether a process of this machine runs under `pid` (another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):  # another user's process: alive
        return True
    return True


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    """Write a file so that a reader sees the old file, or the whole new one, never half."""
    with atomic_file(path) as f:
        f.write(payload)


def atomic_save_npy(path: Path, array: np.ndarray) -> None:
    """An .npy file, atomically. Written through Python's file object, not numpy's tofile,
    whose short write on a full disk carries no errno (and so would not read as one)."""
    array = np.ascontiguousarray(array)
    with atomic_file(path) as f:
        np.lib.format.write_array_header_1_0(f, np.lib.format.header_data_from_array_1_0(array))
        if array.size:  # an empty array has its header only (and a view of it cannot be cast)
            f.write(memoryview(array).cast("B"))


def atomic_write_json(path: Path, data: Any) -> None:
    """JSON (UTF-8, Arabic kept as written), atomically."""
    atomic_write_bytes(Path(path), json.dumps(data, indent=2, ensure_ascii=False).encode())


def check_output(
    path: str | Path,
    what: str,
    inputs: tuple[str | Path, ...] = (),
    suffixes: tuple[str, ...] = (),
    force: bool = False,
) -> Path:
    """The output-path rule, before any work: an output is never one of the inputs, has
    the expected ending, is not a folder, and replaces an existing file only with
    `force` (a user's file is theirs). Raises SignposeError naming the flag `what`."""
    path = Path(path)
    if path.is_dir():
        kind = f"{suffixes[0]} file" if suffixes else "file"
        raise SignposeError(f"{path}: is a folder; {what} must be the {kind} to write")
    if suffixes and path.suffix.lower() not in suffixes:
        raise SignposeError(f"{path}: {what} must be a file ending in {' or '.join(suffixes)}")
    for source in map(Path, inputs):
        if path.resolve() == source.resolve() or (path.exists() and source.exists() and path.samefile(source)):
            raise SignposeError(f"{path}: {what} is the input itself; write to another file")
    if path.exists() and not force:
        raise SignposeError(f"{path}: exists; pass --force to replace it, or choose another {what}")
    return path


# What makes a folder a signpose dataset or a run (data/dataset.py, model/runs.py).
FOLDER_MARKERS = {"dataset": "manifest.csv", "run": "run.json"}


def folder_kind(path: Path) -> str | None:
    """ "dataset" or "run" for a signpose folder, else None."""
    return next((kind for kind, marker in FOLDER_MARKERS.items() if (Path(path) / marker).is_file()), None)


def check_output_folder(
    path: str | Path, what: str = "--out", inputs: tuple[str | Path, ...] = (), kind: str | None = None
) -> Path:
    """The output-path rule for folders, before any work: an output folder is not an
    input, does not lie inside one nor hold one, and is not (or lies inside) a signpose
    folder of another kind: a run written into a dataset, a dataset into a run. `kind`
    ("dataset" or "run") is what the command makes: a folder of that kind may be the
    output itself (to resume or append). Raises SignposeError naming the flag `what`."""
    path = Path(path)
    target = path.resolve()
    for source in (Path(s) for s in inputs if str(s)):
        source = source.resolve()
        if target == source:
            raise SignposeError(f"{path}: {what} is the input itself; choose a folder of its own")
        if not source.is_dir():  # a file read (an .npz): only itself is out of bounds
            continue
        if source in target.parents:
            raise SignposeError(f"{path}: {what} is inside the input {source}; choose a folder outside it")
        if target in source.parents:
            raise SignposeError(f"{path}: {what} holds the input {source}; choose a folder of its own")
    for folder in (target, *target.parents):
        found = folder_kind(folder)
        if found is None or (folder == target and found == kind):
            continue
        where = "is" if folder == target else f"lies inside {folder}, which is"
        raise SignposeError(
            f"{path}: {what} {where} a signpose {found}; choose a new folder for "
            f"{'the ' + kind if kind else 'these files'}"
        )
    return path
