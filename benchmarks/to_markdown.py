"""Print bench-output/*.json as the Markdown tables the README carries."""

import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "bench-output"


def fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 100 else f"{v:,.0f}"
    return str(v)


def table(name: str) -> str:
    data = json.loads((OUT / f"{name}.json").read_text())
    rows = data["rows"]
    cols = list(dict.fromkeys(k for r in rows for k in r))
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(fmt(r.get(c, "")) for c in cols) + " |" for r in rows]
    lines += [f"\n{k}: **{fmt(v)}**" for k, v in data.get("notes", {}).items()]
    return "\n".join(lines)


if __name__ == "__main__":
    for name in sys.argv[1:] or sorted(p.stem for p in OUT.glob("*.json")):
        print(f"#### {name}\n\n{table(name)}\n")
