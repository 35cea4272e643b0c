"""ASL Citizen (American): split CSVs naming each clip's participant and gloss."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ...errors import SignposeError
from .registry import SampleSpec, register_layout

SPLITS = ("train", "val", "test")
STRUCTURE = (
    "<root>/splits/<train|val|test>.csv (columns Participant ID, Video file, Gloss) and <root>/videos/<video file>"
)


def _detect(root: Path) -> bool:
    split = next((root / "splits" / f"{s}.csv" for s in SPLITS if (root / "splits" / f"{s}.csv").is_file()), None)
    return split is not None and "Participant ID" in split.read_text("utf-8", errors="replace").splitlines()[0]


@register_layout(
    "asl-citizen",
    "ASL Citizen (American, 2731 signs, 52 participants)",
    STRUCTURE,
    "the Participant ID column",
    _detect,
    protocol="the official train/val/test split (participants disjoint): train --split official",
    published="the dataset's paper (Desai et al. 2023) reports I3D and ST-GCN baselines on its split",
)
def find(root: Path, signer: str | None) -> list[SampleSpec]:
    specs = []
    for split in SPLITS:
        path = root / "splits" / f"{split}.csv"
        if not path.is_file():
            continue
        try:
            table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as e:
            raise SignposeError(f"{path}: cannot read ({type(e).__name__}); expected {STRUCTURE}") from None
        missing = {"Participant ID", "Video file", "Gloss"} - set(table.columns)
        if missing:
            raise SignposeError(f"{path}: columns {sorted(missing)} are missing; expected {STRUCTURE}")
        for person, file, gloss in zip(table["Participant ID"], table["Video file"], table["Gloss"], strict=True):
            relative = Path(file)
            if relative.is_absolute() or ".." in relative.parts:
                raise SignposeError(f"{path}: video file {file!r} must be a path inside {root / 'videos'}")
            video = root / "videos" / relative
            if video.is_file():
                specs.append(
                    SampleSpec(f"videos/{relative.with_suffix('').as_posix()}", video, person, gloss, split, name=gloss)
                )
    return specs
