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


@register_layout(
    "include",
    "INCLUDE (Indian, 263 words in 15 categories)",
    STRUCTURE,
    "not in the release: --signer, else one signer named after the root",
    _detect,
    protocol="the release's train/test lists (not read yet: a mixed split stands in, train --split mixed)",
    published="the dataset's paper (Sridhar et al. 2020) and OpenHands report pose-based accuracy on its split",
)
def find(root: Path, signer: str | None) -> list[SampleSpec]:
    person = signer or root.resolve().name
    specs = []
    for category in (c for c in visible(root) if c.is_dir()):
        for word_dir in (w for w in visible(category) if w.is_dir()):
            match = WORD.match(word_dir.name)
            if not match:
                continue
            word = match.group(1).strip()
            specs += [
                SampleSpec(sample_id(root, c), c, person, word, name=word) for c in visible(word_dir) if is_sample(c)
            ]
    return specs
