"""AUTSL (Turkish): split folders of signerN_sampleM_color clips, labels in header-less CSVs."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ...errors import SignposeError
from ..labels import normalise_sign_id
from ..video import is_video
from .registry import SampleSpec, register_layout, sample_id, visible

NAME = re.compile(r"^(signer\d+)_(sample\d+)_color$")
SPLITS = ("train", "val", "test")
STRUCTURE = (
    "<root>/<train|val|test>/signer<N>_sample<M>_color.mp4, labels <root>/<split>_labels.csv "
    "(header-less: signer<N>_sample<M>,<class id>) and <root>/SignList_ClassId_TR_EN.csv"
)


def _clips(folder: Path) -> list[Path]:
    return [p for p in visible(folder) if is_video(p) and NAME.match(p.stem)] if folder.is_dir() else []


def _detect(root: Path) -> bool:
    return any(_clips(root / split) for split in SPLITS)


def _labels(root: Path, split: str) -> dict[str, str]:
    """<signer>_<sample> -> class id, from the split's header-less label CSV."""
    names = (f"{split}_labels.csv", f"{split}_ground_truth.csv", f"{split}/ground_truth.csv")
    path = next((root / n for n in names if (root / n).is_file()), None)
    if path is None:
        raise SignposeError(f"{root}: AUTSL's {split} labels are missing ({' or '.join(names)}); expected {STRUCTURE}")
    try:
        table = pd.read_csv(path, header=None, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as e:
        raise SignposeError(f"{path}: cannot read AUTSL labels ({type(e).__name__}); expected {STRUCTURE}") from None
    if table.shape[1] < 2:
        raise SignposeError(f"{path}: expected two columns (signer<N>_sample<M>,<class id>), found {table.shape[1]}")
    return dict(zip(table[0].str.strip(), table[1].map(normalise_sign_id), strict=True))


def _class_names(root: Path) -> dict[str, str]:
    path = root / "SignList_ClassId_TR_EN.csv"
    if not path.is_file():
        return {}
    table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    if not {"ClassId", "EN"} <= set(table.columns):
        raise SignposeError(f"{path}: expected columns ClassId,TR,EN")
    turkish = table["TR"] if "TR" in table.columns else table["EN"]
    return {normalise_sign_id(c): f"{en} ({tr})" for c, en, tr in zip(table.ClassId, table.EN, turkish, strict=True)}


@register_layout(
    "autsl",
    "AUTSL (Turkish, 226 signs, 43 signers)",
    STRUCTURE,
    "the file name (signer<N>)",
    _detect,
    protocol="the official train/val/test split (signer-independent by design): train --split official",
    published="the ChaLearn 2021 challenge (Sincan et al.): RGB track winner 98.42%",
)
def find(root: Path, signer: str | None) -> list[SampleSpec]:
    names = _class_names(root)
    specs = []
    for split in SPLITS:
        clips = _clips(root / split)
        if not clips:
            continue
        labels = _labels(root, split)
        for path in clips:
            person, sample = NAME.match(path.stem).groups()
            key = f"{person}_{sample}"
            if key not in labels:
                raise SignposeError(f"{path}: no row {key} in AUTSL's {split} labels; expected {STRUCTURE}")
            sign = labels[key]
            specs.append(SampleSpec(sample_id(root, path), path, person, sign, split, name=names.get(sign, "")))
    return specs
