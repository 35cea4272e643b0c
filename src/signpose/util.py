"""Small helpers every stage uses: natural sort order, atomic UTF-8 file writes, CPUs.

Atomic means a reader sees the old file or the whole new one, never half of it: a crash
or `kill -9` at any moment leaves something complete on disk.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

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


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    """Write a file so that a reader sees the old file, or the whole new one, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # a short temp name: the final name may already be as long as a file name can be
    fd, tmp = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o644)  # mkstemp makes 0600 files; datasets and runs are meant to be shared
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
