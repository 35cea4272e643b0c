"""The page's Record view on the server (`serve --dataset DIR`): a take of landmarks the
page recorded becomes one sample of the dataset, written through `DatasetWriter` (atomic,
one writer at a time), named as `signpose record` names its takes (`<signer>/<sign>/
take-NNN`), so the command line and the page fill the same dataset and a reload or a
rerun carries on where it stopped. Only landmarks arrive: the video stays in the browser."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import numpy as np

from ..data.dataset import Dataset, ManifestRow
from ..data.keypoints import KeypointSequence
from ..data.writer import DatasetWriter
from ..errors import SignposeError
from ..extract.holistic import ExtractionConfig
from ..extract.record import check_sign_names, check_signer, take_id
from .stream import arrays_to_parts, landmarks_to_arrays

MAX_TAKE_FRAMES = 1800  # a minute at 30 frames/s: a sign takes seconds


class Recorder:
    """Takes into one dataset folder, one request at a time."""

    def __init__(self, dataset: str | Path, extraction: ExtractionConfig):
        self.root = Path(dataset)
        self.meta = {"created_by": "record", "layout": "record", "extraction": extraction.model_dump()}
        self.lock = threading.Lock()
        with self._writer():  # refused now, not at the first take: a folder of another kind or source
            pass

    def _writer(self) -> DatasetWriter:
        return DatasetWriter(self.root, self.meta, rebuild_broken_manifest=True)

    def takes(self) -> list[dict]:
        """Every take so far: sample, signer, sign, take number, frames."""
        if not (self.root / "manifest.csv").is_file():
            return []
        rows = Dataset(self.root).rows
        return [
            {"sample": r.sample, "signer": r.signer, "sign": r.sign, "take": _number(r.sample), "frames": int(r.frames)}
            for r in rows.itertuples()
        ]

    def add(self, message: dict) -> dict:
        """One take: {"signer", "sign", "fps", "frames": [{"w", "h", "parts"}, ...]}."""
        signer = check_signer(_text(message, "signer"))
        (sign,) = check_sign_names([_text(message, "sign")])
        fps = message.get("fps")
        if isinstance(fps, bool) or not isinstance(fps, int | float) or not 1 <= fps <= 240:
            raise SignposeError("'fps' must be the take's frames per second, 1 to 240")
        frames = message.get("frames")
        if not isinstance(frames, list) or not 2 <= len(frames) <= MAX_TAKE_FRAMES:
            raise SignposeError(f"'frames' must be a list of 2 to {MAX_TAKE_FRAMES} landmark frames")
        arrays = [landmarks_to_arrays(f if isinstance(f, dict) else {}) for f in frames]
        if len({(a[2], a[3]) for a in arrays}) > 1:
            raise SignposeError("every frame of a take must have the same size (w, h)")
        seq = KeypointSequence(
            np.stack([a[0] for a in arrays]), np.stack([a[1] for a in arrays]), float(fps), arrays[0][2], arrays[0][3]
        )
        if not seq.hands_seen():
            raise SignposeError("no hand was seen in this take; take it again with the hands in view")
        with self.lock, self._writer() as writer:
            prefix = take_id(signer, sign, 0).rsplit("/", 1)[0] + "/"  # <signer>/<sign>/
            taken = [_number(s) for s in writer.rows if s.startswith(prefix)]
            number = max(taken, default=0) + 1
            sample = take_id(signer, sign, number)
            writer.add(ManifestRow(sample=sample, signer=signer, sign_id=sign, sign=sign, source="page"), seq)
        return {"sample": sample, "signer": signer, "sign": sign, "take": number, "frames": seq.frames}

    def delete(self, sample: str) -> bool:
        with self.lock, self._writer() as writer:
            return writer.remove(sample)

    def frames(self, sample: str) -> dict:
        """A take's points as the page draws them (for replaying it as a skeleton)."""
        dataset = Dataset(self.root)  # read once: the manifest for the row, then its pose file
        match = dataset.rows[dataset.rows["sample"] == sample]
        if match.empty:
            raise KeyError(sample)
        seq = dataset.read(match.iloc[0])
        parts = [arrays_to_parts(x, p, seq.width, seq.height) for x, p in zip(seq.xyz, seq.present, strict=True)]
        return {"sample": sample, "fps": seq.fps, "w": seq.width, "h": seq.height, "frames": parts}


def _text(message: dict, key: str) -> str:
    value = message.get(key)
    if not isinstance(value, str):
        raise SignposeError(f"'{key}' must be text")
    return value


def _number(sample: str) -> int:
    found = re.search(r"/take-(\d+)$", sample)
    return int(found.group(1)) if found else 0
