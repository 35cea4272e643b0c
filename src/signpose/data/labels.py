"""Sign label files: KArSL's `SignID,Sign` CSV (Arabic and English in one UTF-8 field)
or its `labels.xlsx`."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import SignposeError


def normalise_sign_id(value: object) -> str:
    """'0071', 71 and 71.0 all name sign 71; non-numeric ids are kept as written."""
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if number.is_integer() else text


def _pick(columns: list[str], *candidates: str) -> str | None:
    lowered = {c.lower().replace(" ", "").replace("-", "").replace("_", ""): c for c in columns}
    for cand in candidates:
        if cand in lowered:
            return lowered[cand]
    return None


def read_labels(path: str | Path) -> dict[str, str]:
    """Sign id -> display name from a CSV or xlsx label file."""
    path = Path(path)
    if not path.is_file():
        raise SignposeError(f"{path}: label file not found; pass a CSV (SignID,Sign) or KArSL's labels.xlsx")
    excel = path.suffix.lower() in (".xlsx", ".xls")
    try:
        if excel:
            table = pd.read_excel(path, dtype=str)
        else:
            # UTF-16 announces itself (a byte-order mark: Excel's "Unicode text"); anything
            # else must be UTF-8, since cp1256 and other Arabic code pages cannot be told apart
            utf16 = path.read_bytes()[:2] in (b"\xff\xfe", b"\xfe\xff")
            table = pd.read_csv(path, dtype=str, encoding="utf-16" if utf16 else "utf-8-sig", keep_default_na=False)
    except UnicodeDecodeError:
        raise SignposeError(
            f"{path}: the label file is not UTF-8 text (an Arabic code page such as cp1256?); save it as UTF-8"
        ) from None
    except Exception as e:
        if excel:
            raise SignposeError(
                f"{path}: not a readable Excel workbook; save it again as .xlsx, or pass the labels "
                "as a CSV with columns SignID,Sign"
            ) from None
        reason = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        raise SignposeError(f"{path}: cannot read labels ({reason}); expected a CSV with columns SignID,Sign") from None
    cols = [str(c) for c in table.columns]
    id_col = _pick(cols, "signid", "id", "classid", "label")
    name_col = _pick(cols, "sign", "name", "signname", "gloss")
    if id_col is None:
        raise SignposeError(f"{path}: no sign id column in {cols}; expected columns SignID,Sign")
    if name_col is None:
        # KArSL's xlsx splits the name into Arabic and English columns.
        parts = [c for c in cols if c != id_col and ("arab" in c.lower() or "engl" in c.lower())]
        if not parts:
            raise SignposeError(f"{path}: no sign name column in {cols}; expected columns SignID,Sign")
        names = table[parts].fillna("").astype(str).agg(" ".join, axis=1)
    else:
        names = table[name_col].fillna("").astype(str)
    labels: dict[str, str] = {}
    for line, (sid, name) in enumerate(zip(table[id_col], names, strict=True), start=2):
        if str(sid).strip() in ("", "nan"):
            continue
        key = normalise_sign_id(sid)
        if key in labels:
            raise SignposeError(
                f"{path}: sign id {key} appears twice (again on row {line}); each sign id needs exactly one row"
            )
        labels[key] = " ".join(name.split()) or key
    if not labels:
        raise SignposeError(f"{path}: the label file has no rows")
    return labels
