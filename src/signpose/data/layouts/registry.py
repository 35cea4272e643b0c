"""The layout registry: how a data set's folder becomes samples (file, signer, sign,
repetition, official subset, frame range). Each layout is one small module in this
package that registers a finder with `@register_layout`; `discover` runs one by name, and
`--layout auto` asks each layout whether a folder looks like its own."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from ...errors import SignposeError
from ...settings import unknown
from ...util import natural_key
from ..dataset import number_repetitions
from ..labels import normalise_sign_id
from ..video import is_frame_folder, is_video


@dataclass(frozen=True)
class SampleSpec:
    """One sample to extract: where it is and what it shows."""

    sample: str  # stable id: path relative to the root, without extension
    path: Path
    signer: str
    sign_id: str
    subset: str = ""  # the data set's official split: train, val, test (or "")
    repetition: int = 0  # 0: numbered by the one rule (dataset.number_repetitions)
    start: int = 0  # first frame (0-based) of the sign inside a longer video
    end: int = 0  # one past its last frame; 0: to the end of the video
    name: str = ""  # the sign's display name, where the layout's own files give it

    @property
    def is_frames(self) -> bool:
        return self.path.is_dir()


Finder = Callable[[Path, "str | None"], list[SampleSpec]]


@dataclass(frozen=True)
class Layout:
    """A registered layout: its finder and what the docs and error messages say of it."""

    name: str
    description: str
    structure: str  # what the folder must look like (shown when it does not)
    signer: str  # where the signer comes from
    protocol: str  # the data set's official evaluation protocol
    published: str  # numbers to compare with
    find: Finder
    detect: Callable[[Path], bool]  # cheap: does this folder look like this layout's?
    fallback: bool = False  # chosen by auto only when no other layout claims the folder


LAYOUTS: dict[str, Layout] = {}


def register_layout(
    name: str,
    description: str,
    structure: str,
    signer: str,
    detect: Callable[[Path], bool],
    protocol: str = "",
    published: str = "",
    fallback: bool = False,
):
    """Register a finder `find(root, signer) -> [SampleSpec]` under `name`."""

    def wrap(find: Finder) -> Finder:
        LAYOUTS[name] = Layout(name, description, structure, signer, protocol, published, find, detect, fallback)
        return find

    return wrap


def layout_names() -> tuple[str, ...]:
    return ("auto", *LAYOUTS)


def detect_layout(root: Path) -> str:
    """The one layout that claims `root`; one line when none or several do."""
    claims = [layout.name for layout in LAYOUTS.values() if not layout.fallback and _claims(layout, root)]
    if len(claims) > 1:
        raise SignposeError(
            f"{root}: looks like more than one layout ({', '.join(claims)}); pass --layout with one of them"
        )
    if not claims:
        claims = [layout.name for layout in LAYOUTS.values() if layout.fallback and _claims(layout, root)]
    if not claims:
        raise SignposeError(
            f"{root}: no layout recognises this folder; `signpose layouts` lists the structures each expects"
        )
    return claims[0]


def _claims(layout: Layout, root: Path) -> bool:
    try:
        return bool(layout.detect(root))
    except OSError:
        return False


def discover(root: str | Path, layout: str = "folders", signer: str | None = None, say=None) -> list[SampleSpec]:
    """All samples under `root` in the given layout ("auto": the one that recognises the
    folder, named through `say`); a clear error if there are none."""
    root = Path(root)
    if not root.exists():
        raise SignposeError(f"{root}: no such folder")
    if layout != "auto" and layout not in LAYOUTS:
        raise SignposeError(unknown("layout", layout, layout_names()))
    if root.is_file():
        if not is_video(root):
            raise SignposeError(f"{root}: not a video file; pass a folder of sign videos")
        return [SampleSpec(root.stem, root, signer or "unknown", normalise_sign_id(root.stem), "", 1)]
    if layout == "auto":
        layout = detect_layout(root)
        (say or (lambda text: print(text, file=sys.stderr)))(f"signpose: layout {layout} (--layout auto)")
    chosen = LAYOUTS[layout]
    specs = chosen.find(root, signer)
    if not specs:
        raise SignposeError(
            f"{root}: no sign videos or frame folders found; the {layout} layout expects {chosen.structure}"
        )
    return numbered(specs)


def numbered(specs: list[SampleSpec]) -> list[SampleSpec]:
    """Repetitions by the one rule where the layout gave none, in sample-id order."""
    numbers = number_repetitions([(s.signer, s.sign_id, s.sample) for s in specs])
    out = [s if s.repetition else replace(s, repetition=n) for s, n in zip(specs, numbers, strict=True)]
    return sorted(out, key=lambda s: natural_key(s.sample))


# -- helpers for the layout modules ---------------------------------------------------------


def visible(path: Path) -> list[Path]:
    """A folder's entries in natural order, without hidden ones."""
    return sorted((p for p in path.iterdir() if not p.name.startswith(".")), key=lambda p: natural_key(p.name))


def is_sample(path: Path) -> bool:
    return is_video(path) or is_frame_folder(path)


def sample_id(root: Path, path: Path) -> str:
    """A sample's id: its path relative to the root, without the video's extension."""
    rel = path.relative_to(root)
    return (rel.with_suffix("") if path.is_file() else rel).as_posix()


def layout_table() -> str:
    """docs/guide.md's table of layouts, from the registry."""
    lines = [
        "| layout | structure | signer from | official protocol | published numbers |",
        "|---|---|---|---|---|",
    ]
    for layout in LAYOUTS.values():
        cells = [f"`{layout.name}`: {layout.description}", f"`{layout.structure}`", layout.signer]
        cells += [layout.protocol or "-", layout.published or "-"]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"
