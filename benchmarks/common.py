"""Helpers shared by the benchmarks: where the real data is, and a results table."""

from __future__ import annotations

import json
import os
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SIGNPOSE_SHARED_DATA", ROOT.parent / "shared" / "data"))
OUT = ROOT / "bench-output"


def require_shared(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        raise SystemExit(f"benchmark needs the real recordings: {path} is missing")
    return path


@contextmanager
def timer(store: dict, key: str):
    start = time.perf_counter()
    yield
    store[key] = time.perf_counter() - start


def report(name: str, rows: list[dict], notes: dict | None = None) -> None:
    """Print a table and keep it as JSON in bench-output/ for the README."""
    OUT.mkdir(exist_ok=True)
    cols = list(dict.fromkeys(k for r in rows for k in r))
    widths = {c: max(len(c), *(len(_fmt(r.get(c, ""))) for r in rows)) for c in cols}
    print(f"\n== {name} ==")
    print("  ".join(c.ljust(widths[c]) for c in cols))
    for r in rows:
        print("  ".join(_fmt(r.get(c, "")).ljust(widths[c]) for c in cols))
    for k, v in (notes or {}).items():
        print(f"{k}: {_fmt(v)}")
    (OUT / f"{name}.json").write_text(json.dumps({"rows": rows, "notes": notes or {}}, indent=2, ensure_ascii=False))


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 100 else f"{v:,.0f}"
    return str(v)
