"""WLASL (American): a JSON of glosses and their instances over videos named by id."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ...errors import SignposeError
from ..video import VIDEO_EXTENSIONS
from .registry import SampleSpec, register_layout

STRUCTURE = (
    "<root>/WLASL_v0.3.json (glosses, each with instances: video_id, signer_id, split, frame_start, "
    "frame_end) and <root>/videos/<video_id>.mp4"
)


def _index(root: Path) -> Path | None:
    return next(iter(sorted(root.glob("WLASL*.json"))), None)


def _detect(root: Path) -> bool:
    return _index(root) is not None


def _video(folder: Path, video_id: str) -> Path | None:
    return next(
        (folder / f"{video_id}{ext}" for ext in sorted(VIDEO_EXTENSIONS) if (folder / f"{video_id}{ext}").is_file()),
        None,
    )


@register_layout(
    "wlasl",
    "WLASL (American, 2000 glosses, 119 signers; WLASL100/300 are its first glosses)",
    STRUCTURE,
    "each instance's signer_id",
    _detect,
    protocol="the official train/val/test split of the JSON: train --split official",
    published="WLASL100 pose-based (Pose-TGCN, the dataset's paper) top-1 55.43%",
)
def find(root: Path, signer: str | None) -> list[SampleSpec]:
    index = _index(root)
    if index is None:
        raise SignposeError(f"{root}: no WLASL*.json here; expected {STRUCTURE}")
    try:
        glosses = json.loads(index.read_text("utf-8"))
        entries = [(g["gloss"], i) for g in glosses for i in g["instances"]]
    except (ValueError, TypeError, KeyError) as e:
        raise SignposeError(f"{index}: not WLASL's JSON ({type(e).__name__}: {e}); expected {STRUCTURE}") from None
    folder = root / "videos"
    specs, missing = [], 0
    for gloss, instance in entries:
        video_id = str(instance["video_id"])
        if not video_id or video_id in (".", "..") or "/" in video_id or "\\" in video_id:
            raise SignposeError(
                f"{index}: video_id {video_id!r} must be a file name inside {folder}, without '/' or '..'"
            )
        video = _video(folder, video_id)
        if video is None:  # WLASL's videos come from the web; many are gone: reported, not fatal
            missing += 1
            continue
        start = max(0, int(instance.get("frame_start", 1)) - 1)  # the JSON counts frames from 1
        end = int(instance.get("frame_end", -1))
        specs.append(
            SampleSpec(
                f"videos/{video.stem}",
                video,
                str(instance.get("signer_id", "unknown")),
                str(gloss),
                str(instance.get("split", "")),
                start=start,
                end=end if end > 0 else 0,
                name=str(gloss),
            )
        )
    if missing:
        print(
            f"signpose: warning: {missing} of {len(entries)} WLASL instances have no video in {folder}; skipped",
            file=sys.stderr,
        )
    return specs
