"""Progress bars on stderr: a live bar on a terminal, a plain line every few seconds in a
log file or CI (no carriage-return noise)."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any


class _Lines:
    """A file for tqdm that turns its in-place updates into whole lines."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text: str) -> None:
        text = text.replace("\r", "").strip()
        if text:
            self.stream.write(text + "\n")

    def flush(self) -> None:
        self.stream.flush()


def bar(
    iterable: Iterable | None = None,
    *,
    total: int | None = None,
    desc: str = "",
    unit: str = "it",
    enabled: bool = True,
    initial: int = 0,
) -> Any:
    """A tqdm bar with counts and rate on stderr (never stdout, which carries results)."""
    from tqdm import tqdm

    common = {
        "total": total,
        "desc": desc,
        "unit": unit,
        "initial": initial,
        "disable": not enabled,
    }
    if sys.stderr.isatty():
        return tqdm(iterable, file=sys.stderr, dynamic_ncols=True, **common)
    return tqdm(iterable, file=_Lines(sys.stderr), mininterval=5.0, ncols=100, ascii=True, **common)
