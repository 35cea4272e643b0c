"""`signpose transcribe`: the signs of a recording, one after another, with their times.

A recording (a video, a frame folder or a `.pose` file) goes frame by frame through the
stream decoder (`recognise.decoder`, the same as `live` and the web app), and its signs are
written as JSON and WebVTT captions, and optionally as a video with the running
transcript drawn.

    rec = Recognizer.from_run("runs/islr")
    transcript = transcribe_sequence(rec, seq)       # or transcribe_many(rec, paths, "out/")
    [(s["sign"], s["start"], s["end"]) for s in transcript.signs]
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..data.keypoints import KeypointSequence, read_pose
from ..data.video import open_frames
from ..errors import SignposeError, environment_error
from ..extract.pipeline import extract_many
from ..progress import bar
from ..settings import build, load_json
from ..text import is_rtl_paragraph
from ..util import atomic_write_bytes, atomic_write_json
from .annotate import blend, caption, draw_landmarks, video_writer
from .decoder import LiveConfig

if TYPE_CHECKING:
    from .recognizer import Recognizer

TRANSCRIPT_FORMAT = 1
RLM = "\u200f"  # right-to-left mark: a cue of Arabic (or Hebrew) reads right to left everywhere


@dataclass
class Transcript:
    """The signs of one recording: each with its span (`start`, `end`, seconds) and the
    time it was decided (`time`); segments where hands came up but no sign passed the
    threshold are `no_sign`."""

    source: str
    status: str = "ok"  # ok | error
    message: str = ""
    frames: int = 0
    fps: float = 0.0
    signs: list[dict] = field(default_factory=list)
    no_sign: list[dict] = field(default_factory=list)
    settings: dict = field(default_factory=dict)

    @property
    def text(self) -> str:
        return " ".join(s["sign"] for s in self.signs)

    def as_dict(self) -> dict:
        keep = ("sign_id", "sign", "probability", "start", "end", "time", "start_frame", "end_frame", "frame")
        return {
            "format": TRANSCRIPT_FORMAT,
            "source": self.source,
            "status": self.status,
            "message": self.message,
            "frames": self.frames,
            "fps": self.fps,
            "duration": round(self.frames / self.fps, 4) if self.fps else 0.0,
            "text": self.text,
            "signs": [{k: _rounded(s[k]) for k in keep} for s in self.signs],
            "no_sign": [
                {"start": _rounded(e["start"]), "end": _rounded(e["end"]), "best": e["best"]} for e in self.no_sign
            ],
            "settings": self.settings,
        }

    def webvtt(self, min_seconds: float = 0.5) -> str:
        """WebVTT captions: each sign shown over its own span (at least `min_seconds`, and
        until the next sign starts when that is sooner than the minimum)."""
        lines = ["WEBVTT", ""]
        for i, sign in enumerate(self.signs):
            end = max(sign["end"], sign["start"] + min_seconds)
            if i + 1 < len(self.signs):
                end = max(sign["end"], min(end, self.signs[i + 1]["start"]))
            text = _vtt_text(sign["sign"])
            lines += [str(i + 1), f"{_timestamp(sign['start'])} --> {_timestamp(end)}", text, ""]
        return "\n".join(lines)


def _rounded(value):
    return round(value, 4) if isinstance(value, float) else value


def _timestamp(seconds: float) -> str:
    ms = int(round(seconds * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def _vtt_text(name: str) -> str:
    """A cue's text: WebVTT's three special characters escaped, one line, and a
    right-to-left mark first where the name reads right to left."""
    text = re.sub(r"\s+", " ", name).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return RLM + text if is_rtl_paragraph(name) else text


def decode_sequence(recognizer: Recognizer, seq: KeypointSequence, config: LiveConfig | None = None) -> list[dict]:
    """Every event of the decoder over a whole sequence, as a stream would give them."""
    decoder = recognizer.decoder(build(LiveConfig, config), seq.fps, top_k=1)
    events = []
    for xyz, present in zip(seq.xyz, seq.present, strict=True):
        events += decoder.push(xyz, present, seq.width, seq.height)
    return events + decoder.finish()


def transcribe_sequence(
    recognizer: Recognizer, seq: KeypointSequence, config: LiveConfig | None = None, source: str = ""
) -> Transcript:
    config = build(LiveConfig, config)
    if not seq.fps > 0:
        raise SignposeError(f"{source or 'the sequence'}: no frame rate; times need one")
    events = decode_sequence(recognizer, seq, config)
    return Transcript(
        source,
        frames=seq.frames,
        fps=seq.fps,
        signs=[e for e in events if e["type"] == "commit"],
        no_sign=[e for e in events if e["type"] == "no_sign"],
        settings=config.model_dump(),
    )


# -- many recordings into a folder ----------------------------------------------------------


def output_names(sources: list[str]) -> dict[str, str]:
    """A file stem for each input, unique in one output folder: its own stem, or with its
    parent folders' names in front where two inputs share one."""
    paths = [Path(s) for s in sources]

    def stem(p: Path, depth: int) -> str:
        name = p.stem if p.suffix else p.name
        return "-".join([*p.parent.parts[len(p.parent.parts) - depth :], name]) if depth else name

    names: dict[str, str] = {}
    for depth in range(0, 1 + max((len(p.parts) for p in paths), default=0)):
        counts: dict[str, int] = {}
        for p in paths:
            counts[stem(p, depth)] = counts.get(stem(p, depth), 0) + 1
        for s, p in zip(sources, paths, strict=True):
            if s not in names and counts[stem(p, depth)] == 1:
                names[s] = stem(p, depth).lstrip("-/") or "recording"
    for s in sources:  # the same path twice: numbered
        names.setdefault(s, f"{Path(s).stem}-{sources.index(s)}")
    return names


def _done(json_path: Path, config: LiveConfig, annotate: Path | None) -> bool:
    """A transcript already written by these settings (and its video, if asked for)."""
    if not json_path.is_file() or (annotate is not None and not annotate.is_file()):
        return False
    try:
        old = load_json(json_path)
    except SignposeError:
        return False
    return old.get("format") == TRANSCRIPT_FORMAT and old.get("settings") == config.model_dump()


def transcribe_many(
    recognizer: Recognizer,
    sources: list[str],
    out: str | Path,
    config: LiveConfig | None = None,
    annotate: bool = False,
    workers: int | None = None,
    progress: bool = True,
) -> Iterator[Transcript]:
    """Each recording's transcript as `<name>.json` and `<name>.vtt` in `out` (and
    `<name>.mp4` with `annotate`); yields them as they are done. A recording already
    transcribed with the same settings is read back, not redone; one that cannot be read
    is a Transcript with status "error" (its message one line), and the rest go on."""
    config = build(LiveConfig, config)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise SignposeError(f"{out}: is a file; --out must be a folder for the transcripts")
    if out.resolve() == Path(recognizer.run).resolve():
        raise SignposeError(f"{out}: is the run's own folder; give --out a folder of its own")
    names = output_names(sources)
    video_of = {s: (out / f"{names[s]}.mp4") if annotate else None for s in sources}
    inputs = {Path(s).resolve() for s in sources}
    for s in sources:  # a recording in --out is never overwritten by its own transcript or video
        for target in (out / f"{names[s]}.json", out / f"{names[s]}.vtt", video_of[s]):
            if target is not None and target.resolve() in inputs:
                raise SignposeError(f"{target}: is one of the recordings; give --out another folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:  # a place that cannot hold a folder (not only a full or read-only disk)
        raise environment_error(e) from None
    todo = [s for s in sources if not _done(out / f"{names[s]}.json", config, video_of[s])]
    progress_bar = bar(total=len(sources), unit="recording", desc="transcribe", enabled=progress)
    try:
        for s in sources:
            if s not in todo:
                old = load_json(out / f"{names[s]}.json")
                progress_bar.update(1)
                yield Transcript(
                    old["source"], old["status"], old["message"], old["frames"], old["fps"], old["signs"],
                    old["no_sign"], old["settings"],
                )  # fmt: skip
        poses = [s for s in todo if Path(s).suffix.lower() == ".pose"]
        videos = [s for s in todo if s not in poses]

        def read() -> Iterator[tuple[str, KeypointSequence | None, str]]:
            for s in poses:
                try:
                    yield s, read_pose(s, own=False), ""
                except SignposeError as e:
                    yield s, None, str(e).removeprefix(f"{s}: ")
            if videos:
                for path, seq, error, _ in extract_many(videos, recognizer.extraction, workers):
                    yield path, seq, error or ""

        for path, seq, error in read():
            if seq is None:
                transcript = Transcript(path, status="error", message=error)
            else:
                try:
                    transcript = transcribe_sequence(recognizer, seq, config, path)
                except SignposeError as e:
                    transcript = Transcript(path, status="error", message=str(e).removeprefix(f"{path}: "))
            if transcript.status == "ok":
                name = names[path]
                if annotate:
                    annotate_transcript(path, seq, transcript, video_of[path])
                atomic_write_bytes(out / f"{name}.vtt", transcript.webvtt().encode("utf-8"))
                atomic_write_json(out / f"{name}.json", transcript.as_dict())  # last: it marks the work done
            progress_bar.update(1)
            yield transcript
    finally:
        progress_bar.close()


# -- the running transcript on video --------------------------------------------------------


def running_text(transcript: Transcript, frame: int, last: int = 6) -> str:
    """What a viewer has seen decided by `frame`: the last few signs committed so far."""
    shown = [s["sign"] for s in transcript.signs if s["frame"] <= frame]
    return " ".join(shown[-last:])


def annotate_transcript(source: str, seq: KeypointSequence, transcript: Transcript, out: Path) -> Path:
    """The recording with its landmarks and the running transcript drawn (each sign appears
    when it was decided, as a live viewer would see it). A `.pose` file is drawn on a blank
    canvas of its frame size."""
    if Path(source).suffix.lower() == ".pose":
        frames, fps, size, scale = None, seq.fps, _canvas_size(seq), _canvas_scale(seq)
    else:
        frames = open_frames(source, fps=seq.fps)
        fps, size, scale = frames.fps, (seq.width, seq.height), 1.0
    patches: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    source_frames = iter(frames) if frames is not None else None
    with video_writer(out, fps, size) as writer:
        for i in range(seq.frames):
            if source_frames is not None:
                rgb = next(source_frames, None)
                if rgb is None:
                    break
                bgr = np.ascontiguousarray(rgb[..., ::-1])
            else:
                bgr = np.zeros((size[1], size[0], 3), np.uint8)
            xyz = seq.xyz[i].copy()
            xyz[:, :2] *= scale
            draw_landmarks(bgr, xyz, seq.present[i])
            text = running_text(transcript, i)
            if text:
                if text not in patches:
                    patches[text] = caption(text, "", size[0])
                blend(bgr, *patches[text], bottom=True)  # the transcript runs along the bottom, like captions
            writer.write(bgr)
    return out


def _canvas_size(seq: KeypointSequence) -> tuple[int, int]:
    """A frame size to draw a .pose file on: its own, or 640 x 480 for image-normalised points."""
    return (seq.width, seq.height) if min(seq.width, seq.height) >= 64 else (640, 480)


def _canvas_scale(seq: KeypointSequence) -> float | np.ndarray:
    w, h = _canvas_size(seq)
    return np.array([w / seq.width, h / seq.height], np.float32)
