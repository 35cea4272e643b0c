"""`signpose record`: a person records their own signs from a camera into a dataset folder
(the notebook's collection loop done right). For each sign, `takes` takes: a countdown to
get ready, then `seconds` of signing through MediaPipe; each take is written as one sample
through `DatasetWriter` (atomic, one writer at a time) as `<signer>/<sign>/take-NNN`, so a
rerun resumes at the first take not yet recorded. A take in which no hand was seen is not
kept: it is taken again (at most `retries` times), and said. The timing counts frames, not
the wall clock, so a video file can stand in for the camera (and does in the tests)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydantic import Field

from ..data.dataset import ManifestRow, id_part, unsafe_part
from ..data.video import open_frames
from ..data.writer import DatasetWriter
from ..errors import SignposeError
from ..progress import bar
from ..settings import Settings
from ..text import draw_caption
from .holistic import ExtractionConfig, HolisticExtractor


class RecordConfig(Settings):
    """How `record` takes each sign."""

    takes: int = Field(30, ge=1, le=1000, description="takes of each sign (the notebook's 30 sequences)")
    seconds: float = Field(2.0, ge=0.2, le=30, description="length of one take, in seconds")
    countdown: float = Field(2.0, ge=0, le=30, description="seconds to get ready before each take")
    retries: int = Field(3, ge=0, le=20, description="a take with no hand seen is taken again at most this often")


# What the preview is shown each frame: the frame (RGB), the points found (or None during a
# countdown), and a line of text (the sign, the take, the countdown).
Preview = Callable[[np.ndarray, "np.ndarray | None", "np.ndarray | None", str], None]


@dataclass
class RecordReport:
    out: Path
    recorded: int = 0  # takes written now
    resumed: int = 0  # takes already in the dataset
    retaken: list[str] = field(default_factory=list)  # takes without a hand, taken again
    missing: list[str] = field(default_factory=list)  # takes still without a hand after the retries

    def summary(self) -> str:
        line = f"{self.recorded} takes recorded, {self.resumed} already there -> {self.out}"
        if self.retaken:
            line += f"; {len(self.retaken)} taken again (no hand seen)"
        if self.missing:
            line += f"; {len(self.missing)} not kept (no hand seen in any try): rerun to record them"
        return line


def check_sign_names(signs: list[str]) -> list[str]:
    """Sign names from a person: each non-empty, one path component (no / or \\, not . or
    ..), each once. Arabic and any other script are kept as they are."""
    names = [s.strip() for s in signs]
    for name in names:
        if not name:
            raise SignposeError(
                "--signs: an empty sign name; give names separated by commas, e.g. --signs hello,thanks"
            )
        if unsafe_part(name):
            raise SignposeError(f"--signs: {name!r} cannot name a sign (no / or \\, not . or ..); choose another name")
    doubles = sorted({n for n in names if names.count(n) > 1})
    if doubles:
        raise SignposeError(f"--signs: {doubles[0]!r} is given twice; give each sign once")
    return names


def check_signer(signer: str) -> str:
    signer = signer.strip()
    if unsafe_part(signer):
        raise SignposeError(f"--signer: {signer!r} cannot name a person (no / or \\, not empty); choose another name")
    return signer


def take_id(signer: str, sign: str, take: int) -> str:
    return f"{id_part(signer)}/{id_part(sign)}/take-{take:03d}"


def record_signs(
    source: str | int,
    out: str | Path,
    signer: str,
    signs: list[str],
    config: RecordConfig | None = None,
    extraction: ExtractionConfig | None = None,
    preview: Preview | None = None,
    progress: bool = True,
) -> RecordReport:
    """Record `takes` takes of each sign from `source` (a camera index, a stream URL or a
    video file) into the dataset `out`; resumes where a previous run stopped."""
    config, extraction = config or RecordConfig(), extraction or ExtractionConfig()
    signer, signs = check_signer(signer), check_sign_names(signs)
    out = Path(out)
    frames = open_frames(source, fps=extraction.fps)
    meta = {"created_by": "record", "layout": "record", "extraction": extraction.model_dump()}
    report = RecordReport(out=out)
    with DatasetWriter(out, meta, {s: s for s in signs}, rebuild_broken_manifest=True) as writer:
        todo = [(s, k) for s in signs for k in range(1, config.takes + 1)]
        done = {take_id(signer, s, k) for s, k in todo} & {r for r, row in writer.rows.items() if row.status == "ok"}
        report.resumed = len(done)
        todo = [(s, k) for s, k in todo if take_id(signer, s, k) not in done]
        stream = iter(frames)
        take_frames = max(2, round(config.seconds * frames.fps))
        ready_frames = round(config.countdown * frames.fps)
        with (
            HolisticExtractor(extraction) as extractor,
            bar(total=len(todo), desc="takes", unit="take", enabled=progress) as pb,
        ):
            for sign, take in todo:
                sample = take_id(signer, sign, take)
                for _ in range(config.retries + 1):
                    label = f"{sign}: take {take} of {config.takes}"
                    _count_down(stream, ready_frames, frames.fps, label, preview)
                    seq = _take(stream, take_frames, frames.fps, extractor, label, preview)
                    if seq.hands_seen():
                        break
                    print(f"signpose: {sample}: no hand seen; taking it again", file=sys.stderr)
                    report.retaken.append(sample)
                else:
                    report.missing.append(sample)
                    continue
                row = ManifestRow(sample=sample, signer=signer, sign_id=sign, sign=sign, source=str(source))
                writer.add(row, seq)
                writer.flush()  # a take is never lost to a crash or Ctrl+C after it was kept
                report.recorded += 1
                pb.update(1)
    return report


def _frames(stream: Iterator[np.ndarray], n: int) -> Iterator[np.ndarray]:
    for _ in range(n):
        try:
            yield next(stream)
        except StopIteration:
            raise SignposeError("the camera or video ended before every take was recorded; rerun to resume") from None


def _count_down(stream, n: int, fps: float, label: str, preview: Preview | None) -> None:
    for i, rgb in enumerate(_frames(stream, n)):
        if preview is not None:
            preview(rgb, None, None, f"{label}: ready in {np.ceil((n - i) / fps):.0f}")


def _take(stream, n: int, fps: float, extractor: HolisticExtractor, label: str, preview: Preview | None):
    def show(rgb: np.ndarray, xyz: np.ndarray, present: np.ndarray) -> None:
        preview(rgb, xyz, present, f"{label}: signing")

    # the size is the frames' own (the extractor takes it from each frame)
    return extractor.extract(_frames(stream, n), fps, 0, 0, on_frame=show if preview is not None else None)


def preview_window(title: str = "signpose record") -> Preview:
    """A preview in an OpenCV window: the frame, the points found, the sign and take; `q` stops."""
    import cv2

    def show(rgb: np.ndarray, xyz: np.ndarray | None, present: np.ndarray | None, text: str) -> None:
        rgb = np.ascontiguousarray(rgb)
        if xyz is not None:
            for x, y in xyz[present][:, :2].astype(int):
                cv2.circle(rgb, (int(x), int(y)), 2, (0, 200, 0), -1)
        rgb, _ = draw_caption(rgb, text)
        cv2.imshow(title, rgb[..., ::-1])
        if cv2.waitKey(1) & 0xFF == ord("q"):
            raise KeyboardInterrupt

    return show
