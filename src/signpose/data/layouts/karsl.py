"""KArSL's release, and the seed notebook's copies of it."""

from __future__ import annotations

from pathlib import Path

from ...errors import SignposeError
from ...util import natural_sorted
from ..labels import normalise_sign_id
from ..video import is_video
from .registry import SampleSpec, is_sample, register_layout, sample_id, visible

STRUCTURE = (
    "<root>/<signer>/<train|test>/<sign id>/<sample folder or video>, or "
    "<root>/<signer>/.../<a>_<b>_<sign id>_<rest>.<video ext>"
)
SUBSETS = ("train", "test")


def _seed_name(path: Path) -> bool:
    fields = path.stem.split("_")
    return is_video(path) and len(fields) >= 3 and fields[2].isdigit()


def _detect(root: Path) -> bool:
    for signer in (d for d in visible(root) if d.is_dir()):
        for sub in visible(signer):
            if sub.is_dir() and sub.name.lower() in SUBSETS:
                return any(e.is_dir() and e.name.isdigit() or _seed_name(e) for e in visible(sub))
            if _seed_name(sub):
                return True
    return False


def _video(root: Path, signer_dir: Path, video: Path) -> SampleSpec:
    """A video named as the seed's KArSL copies are: the sign id is the third `_` field."""
    if not _seed_name(video):
        raise SignposeError(f"{video}: cannot read the sign id from the file name; expected {STRUCTURE}")
    subset = next((p.lower() for p in video.relative_to(signer_dir).parts[:-1] if p.lower() in SUBSETS), "")
    return SampleSpec(
        sample_id(root, video), video, signer_dir.name, normalise_sign_id(video.stem.split("_")[2]), subset
    )


@register_layout(
    "karsl",
    "KArSL (Arabic, 502 signs, 3 signers; KArSL-100 is signs 1-100)",
    STRUCTURE,
    "the top folder (01, 02, 03)",
    _detect,
    protocol="signer-independent: train on two signers, test on the third (cv: leave one signer out); "
    "the release's train/test folders are kept as subset",
    published="KArSL-100 signer-independent 68.2% (the notebook's paper)",
)
def find(root: Path, signer: str | None) -> list[SampleSpec]:
    specs = []
    for signer_dir in visible(root):
        if not signer_dir.is_dir():
            continue  # labels files and the like beside the signer folders
        for sub in visible(signer_dir):
            if not (sub.is_dir() and sub.name.lower() in SUBSETS):
                videos = sub.rglob("*") if sub.is_dir() else [sub]
                specs += [_video(root, signer_dir, v) for v in natural_sorted(videos, key=str) if is_video(v)]
                continue
            for entry in visible(sub):  # <sign id>/<sample> folders, or videos named as the seed's
                if is_video(entry):
                    specs.append(_video(root, signer_dir, entry))
                    continue
                if not entry.is_dir():
                    continue
                if not entry.name.isdigit():
                    raise SignposeError(f"{entry}: sign folder name is not a sign id; expected {STRUCTURE}")
                for sample in visible(entry):
                    if is_sample(sample):
                        sign = normalise_sign_id(entry.name)
                        specs.append(
                            SampleSpec(sample_id(root, sample), sample, signer_dir.name, sign, sub.name.lower())
                        )
                    elif sample.is_dir():
                        raise SignposeError(f"{sample}: sample folder has no frame images; expected {STRUCTURE}")
    return specs
