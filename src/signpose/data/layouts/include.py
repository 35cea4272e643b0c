"""INCLUDE (Indian): folders per category, then per numbered word."""

from __future__ import annotations

import re
from pathlib import Path

from .registry import SampleSpec, is_sample, register_layout, sample_id, visible

WORD = re.compile(r"^\d+\.\s*(.+)$")
STRUCTURE = "<root>/<category>/<N. word>/<clip> (e.g. Adjectives/1. loud/MVI_9569.MOV)"


def _detect(root: Path) -> bool:
    return any(
        d.is_dir() and WORD.match(d.name) and any(is_sample(c) for c in visible(d))
        for category in visible(root)
        if category.is_dir()
        for d in visible(category)
    )


def _split_lists(root: Path) -> dict[str, str]:
    """Clip path (relative, lower case) -> subset, from the release's split lists: any
    CSV in the root whose name says train, val or test, and whose cells name clips (the
    lists' columns differ between copies, so every cell is tried as a path)."""
    subsets: dict[str, str] = {}
    for path in sorted(root.glob("*.csv")):
        subset = next((s for s in ("train", "val", "test") if s in path.stem.lower()), None)
        if subset is None:
            continue
        for line in path.read_text("utf-8", errors="replace").splitlines():
            for cell in line.replace(";", ",").split(","):
                cell = cell.strip().strip('"').replace("\\", "/").lstrip("./").lower()
                if "/" in cell:
                    subsets[cell] = subset
    return subsets


def _subset(lists: dict[str, str], relative: str) -> str:
    relative = relative.lower()
    return next(
        (
            s
            for path, s in lists.items()
            if relative == path or relative.endswith("/" + path) or path.endswith("/" + relative)
        ),
        "",
    )


@register_layout(
    "include",
    "INCLUDE (Indian, 263 words in 15 categories)",
    STRUCTURE,
    "not in the release: --signer, else one signer named after the root",
    _detect,
    protocol="the release's train/test lists (CSVs in the root named *train*, *test*): train --split official",
    published="the dataset's paper (Sridhar et al. 2020) and OpenHands report pose-based accuracy on its split",
)
def find(root: Path, signer: str | None) -> list[SampleSpec]:
    person = signer or root.resolve().name
    lists = _split_lists(root)
    specs = []
    for category in (c for c in visible(root) if c.is_dir()):
        for word_dir in (w for w in visible(category) if w.is_dir()):
            match = WORD.match(word_dir.name)
            if not match:
                continue
            word = match.group(1).strip()
            for clip in (c for c in visible(word_dir) if is_sample(c)):
                relative = clip.relative_to(root).as_posix()
                specs.append(SampleSpec(sample_id(root, clip), clip, person, word, _subset(lists, relative), name=word))
    return specs
