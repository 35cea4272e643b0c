"""LSA64 (Argentinian Sign Language): one flat folder of sign_signer_repetition clips."""

from __future__ import annotations

import re
from pathlib import Path

from ..labels import normalise_sign_id
from ..video import is_video
from .registry import SampleSpec, register_layout, sample_id, visible

NAME = re.compile(r"^(\d{3})_(\d{3})_(\d{3})$")


def _detect(root: Path) -> bool:
    return any(is_video(p) and NAME.match(p.stem) for p in visible(root))


@register_layout(
    "lsa64",
    "LSA64 (Argentinian, 64 signs, 10 signers, 5 repetitions)",
    "<root>/<sign>_<signer>_<repetition>.mp4 (three digits each: 001_001_001.mp4)",
    "the file name's second field",
    _detect,
    protocol="signer-independent (leave one signer out: cv)",
    published="signer-independent 91.09% (the notebook's paper)",
)
def find(root: Path, signer: str | None) -> list[SampleSpec]:
    specs = []
    for path in visible(root):
        match = NAME.match(path.stem) if is_video(path) else None
        if match:
            sign, person, repetition = match.groups()
            specs.append(
                SampleSpec(sample_id(root, path), path, person, normalise_sign_id(sign), repetition=int(repetition))
            )
    return specs
