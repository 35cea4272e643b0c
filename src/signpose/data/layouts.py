"""Finding the samples of a dataset on disk, and what each one is.

A sample is a video file or a folder of frame images. Accepted layouts:

karsl   KArSL's release: <root>/<signer>/<train|test>/<sign id digits>/<sample>
        and the seed notebook's variant: video files anywhere under <root>/<signer>/
        whose name's third '_'-separated field is the sign id (01_02_0071_x.mp4).
folders <root>/<signer>/<sign>/<sample>, or <root>/<sign>/<sample> for one signer,
        or <root>/<sign>.<ext> (one clip per sign, one signer).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from ..errors import SignposeError
from ..settings import unknown
from ..util import natural_key, natural_sorted
from .labels import normalise_sign_id
from .video import is_frame_folder, is_video

KARSL_PATTERN = (
    "<root>/<signer>/<train|test>/<sign id>/<sample folder or video>, or "
    "<root>/<signer>/.../<a>_<b>_<sign id>_<rest>.<video ext>"
)
FOLDERS_PATTERN = "<root>/<signer>/<sign>/<sample>, <root>/<sign>/<sample> or <root>/<sign>.<video ext>"
LAYOUTS = ("karsl", "folders")


@dataclass(frozen=True)
class SampleSpec:
    """One sample to extract: where it is and what it shows."""

    sample: str  # stable id: path relative to the root, without extension
    path: Path
    signer: str
    sign_id: str
    subset: str = ""
    repetition: int = 0

    @property
    def is_frames(self) -> bool:
        return self.path.is_dir()


def _visible(path: Path) -> list[Path]:
    return sorted((p for p in path.iterdir() if not p.name.startswith(".")), key=lambda p: natural_key(p.name))


def _is_sample(path: Path) -> bool:
    return is_video(path) or is_frame_folder(path)


def _sample_id(root: Path, path: Path) -> str:
    rel = path.relative_to(root)
    return (rel.with_suffix("") if path.is_file() else rel).as_posix()


def _number_repetitions(specs: list[SampleSpec]) -> list[SampleSpec]:
    """Repetition = position of a sample among its signer's samples of the same sign."""
    groups: dict[tuple[str, str], list[SampleSpec]] = defaultdict(list)
    for s in specs:
        groups[(s.signer, s.sign_id)].append(s)
    out = []
    for group in groups.values():
        for i, s in enumerate(sorted(group, key=lambda s: natural_key(s.sample)), start=1):
            out.append(SampleSpec(s.sample, s.path, s.signer, s.sign_id, s.subset, i))
    return sorted(out, key=lambda s: natural_key(s.sample))


def _karsl_video(root: Path, signer_dir: Path, video: Path) -> SampleSpec:
    """A video named as the seed's KArSL copies are: the sign id is the third `_` field."""
    fields = video.stem.split("_")
    if len(fields) < 3 or not fields[2].isdigit():
        raise SignposeError(f"{video}: cannot read the sign id from the file name; expected {KARSL_PATTERN}")
    subset = next(
        (p.lower() for p in video.relative_to(signer_dir).parts[:-1] if p.lower() in ("train", "test")),
        "",
    )
    return SampleSpec(_sample_id(root, video), video, signer_dir.name, normalise_sign_id(fields[2]), subset)


def _karsl(root: Path) -> list[SampleSpec]:
    specs = []
    for signer_dir in _visible(root):
        if not signer_dir.is_dir():
            continue  # labels files and the like beside the signer folders
        signer = signer_dir.name
        for sub in _visible(signer_dir):
            if not (sub.is_dir() and sub.name.lower() in ("train", "test")):
                videos = sub.rglob("*") if sub.is_dir() else [sub]
                specs += [_karsl_video(root, signer_dir, v) for v in natural_sorted(videos, key=str) if is_video(v)]
                continue
            for entry in _visible(sub):  # <sign id>/<sample> folders, or videos named as the seed's
                if is_video(entry):
                    specs.append(_karsl_video(root, signer_dir, entry))
                    continue
                if not entry.is_dir():
                    continue
                if not entry.name.isdigit():
                    raise SignposeError(f"{entry}: sign folder name is not a sign id; expected {KARSL_PATTERN}")
                for sample in _visible(entry):
                    if _is_sample(sample):
                        specs.append(
                            SampleSpec(
                                _sample_id(root, sample),
                                sample,
                                signer,
                                normalise_sign_id(entry.name),
                                sub.name.lower(),
                            )
                        )
                    elif sample.is_dir():
                        raise SignposeError(f"{sample}: sample folder has no frame images; expected {KARSL_PATTERN}")
    return specs


def _folders(root: Path, signer: str | None) -> list[SampleSpec]:
    specs = []
    single = signer or root.resolve().name
    for top in _visible(root):
        if is_video(top):  # <root>/<sign>.<ext>
            specs.append(SampleSpec(_sample_id(root, top), top, single, normalise_sign_id(top.stem)))
            continue
        if not top.is_dir():
            continue
        children = _visible(top)
        if any(_is_sample(c) for c in children):  # <root>/<sign>/<sample>
            for c in children:
                if _is_sample(c):
                    specs.append(SampleSpec(_sample_id(root, c), c, single, normalise_sign_id(top.name)))
            continue
        for sign_dir in children:  # <root>/<signer>/<sign>/<sample>
            if not sign_dir.is_dir():
                continue
            samples = [c for c in _visible(sign_dir) if _is_sample(c)]
            if not samples:
                raise SignposeError(f"{sign_dir}: no videos or frame folders here; expected {FOLDERS_PATTERN}")
            for c in samples:
                specs.append(SampleSpec(_sample_id(root, c), c, top.name, normalise_sign_id(sign_dir.name)))
    return specs


def discover(root: str | Path, layout: str = "folders", signer: str | None = None) -> list[SampleSpec]:
    """All samples under `root` in the given layout; a clear error if there are none."""
    root = Path(root)
    if not root.exists():
        raise SignposeError(f"{root}: no such folder")
    if layout not in LAYOUTS:
        raise SignposeError(unknown("layout", layout, LAYOUTS))
    if root.is_file():
        if not is_video(root):
            raise SignposeError(f"{root}: not a video file; pass a folder of sign videos")
        return [SampleSpec(root.stem, root, signer or "unknown", normalise_sign_id(root.stem), "", 1)]
    specs = _karsl(root) if layout == "karsl" else _folders(root, signer)
    if not specs:
        pattern = KARSL_PATTERN if layout == "karsl" else FOLDERS_PATTERN
        raise SignposeError(f"{root}: no sign videos or frame folders found; expected {pattern}")
    signs = {s.sign_id for s in specs}
    folder = root / next(iter(signs))
    if layout == "folders" and len(signs) == 1 and len(specs) > 1 and all(s.path.parent == folder for s in specs):
        # <root>/<signer>/<a>.mp4 reads as <root>/<sign>/<sample>: every clip one sign
        raise SignposeError(
            f"{root}: the folders layout reads {len(specs)} clips as samples of one sign ({folder.name!r}); "
            f"if {folder} holds one signer's clips named by sign, run: signpose extract {folder} "
            f"--layout folders --signer {folder.name}"
        )
    return _number_repetitions(specs)
