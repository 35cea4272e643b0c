"""Any folder of clips named by sign (and signer): the layout of hobby recordings."""

from __future__ import annotations

from pathlib import Path

from ...errors import SignposeError
from ..labels import normalise_sign_id
from ..video import is_video
from .registry import SampleSpec, is_sample, register_layout, sample_id, visible

STRUCTURE = "<root>/<signer>/<sign>/<sample>, <root>/<sign>/<sample> or <root>/<sign>.<video ext>"


def _detect(root: Path) -> bool:
    tops = visible(root)
    return any(is_video(t) for t in tops) or any(
        t.is_dir() and any(is_sample(c) or (c.is_dir() and any(is_sample(g) for g in visible(c))) for c in visible(t))
        for t in tops
    )


@register_layout(
    "folders",
    "clips in folders named by sign, optionally under a folder per signer",
    STRUCTURE,
    "the top folder (<signer>), else --signer or the root's name",
    _detect,
    protocol="signer-independent when there are 2+ signers",
    fallback=True,
)
def find(root: Path, signer: str | None) -> list[SampleSpec]:
    specs = []
    single = signer or root.resolve().name
    for top in visible(root):
        if is_video(top):  # <root>/<sign>.<ext>
            specs.append(SampleSpec(sample_id(root, top), top, single, normalise_sign_id(top.stem)))
            continue
        if not top.is_dir():
            continue
        children = visible(top)
        if any(is_sample(c) for c in children):  # <root>/<sign>/<sample>
            sign = normalise_sign_id(top.name)
            specs += [SampleSpec(sample_id(root, c), c, single, sign) for c in children if is_sample(c)]
            continue
        for sign_dir in children:  # <root>/<signer>/<sign>/<sample>
            if not sign_dir.is_dir():
                continue
            samples = [c for c in visible(sign_dir) if is_sample(c)]
            if not samples:
                raise SignposeError(f"{sign_dir}: no videos or frame folders here; expected {STRUCTURE}")
            sign = normalise_sign_id(sign_dir.name)
            specs += [SampleSpec(sample_id(root, c), c, top.name, sign) for c in samples]
    _refuse_one_signer_read_as_one_sign(root, specs)
    return specs


def _refuse_one_signer_read_as_one_sign(root: Path, specs: list[SampleSpec]) -> None:
    """<root>/<signer>/<a>.mp4 reads as <root>/<sign>/<sample>: every clip one sign."""
    signs = {s.sign_id for s in specs}
    if len(signs) != 1 or len(specs) < 2:
        return
    folder = root / next(iter(signs))
    if all(s.path.parent == folder for s in specs):
        raise SignposeError(
            f"{root}: the folders layout reads {len(specs)} clips as samples of one sign ({folder.name!r}); "
            f"if {folder} holds one signer's clips named by sign, run: signpose extract {folder} "
            f"--layout folders --signer {folder.name}"
        )
