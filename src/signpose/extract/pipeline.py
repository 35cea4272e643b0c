"""A whole folder of sign videos into a dataset folder: in parallel, resumable.

Each sample's `.pose` file is written atomically by the worker that extracted it; the
manifest is kept up to date every two seconds, so `kill -9` loses at most the videos in
flight, and rerunning the same command skips finished videos. A video that cannot be
read is recorded in the manifest with its error; the run goes on.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..data.dataset import POSES, ManifestRow, pose_path_for
from ..data.keypoints import KeypointSequence, pose_file_complete, read_pose, write_pose
from ..data.labels import read_labels
from ..data.layouts import SampleSpec, discover
from ..data.writer import DatasetWriter, check_dataset_target
from ..errors import SignposeError, environment_error, is_environment_error
from ..progress import bar
from ..util import natural_sorted
from .backends import run_jobs, worker_count, worker_extractor
from .holistic import ExtractionConfig


def _extract_guarded(path, start: int = 0, end: int = 0) -> tuple[KeypointSequence | None, str]:
    """Keypoints of one file (frames start to end, 0: to its end) with this worker's graph,
    or the error (without the path: whoever reports it names the file); never raises, so
    a broken codec or a MediaPipe failure cannot end a run."""
    try:
        return worker_extractor().extract_file(path, start, end), ""
    except SignposeError as e:
        return None, str(e).removeprefix(f"{path}: ")
    except Exception as e:
        return None, f"{type(e).__name__}: {e}"


def _extract_sample(job: tuple[SampleSpec, str]) -> dict:
    """Worker job: extract one sample and write its pose file; errors go into the result."""
    spec, out_root = job
    seq, error = _extract_guarded(spec.path, spec.start, spec.end)
    result = {
        "sample": spec.sample,
        "frames": 0,
        "fps": 0.0,
        "width": 0,
        "height": 0,
        "declared_frames": 0,
    }
    if seq is not None:
        result.update(
            frames=seq.frames,
            fps=seq.fps,
            width=seq.width,
            height=seq.height,
            declared_frames=worker_extractor().last_declared_frames,
        )
        parts = seq.part_present()
        if not (parts[:, 0].any() or parts[:, 2].any() or parts[:, 3].any()):
            error = "no person detected in any frame"
    if not error:
        try:
            write_pose(Path(out_root) / pose_path_for(spec.sample), seq)
        except OSError as e:
            if is_environment_error(e):  # the disk's fault, not the video's: never recorded as bad
                result["environment"] = str(environment_error(e))
            error = f"{type(e).__name__}: {e}"
    result.update(status="error" if error else "ok", error=error)
    return result


WORKER_DIED = "the extraction worker died on this video, twice (out of memory, or a crash inside MediaPipe)"


def _lost_sample(job: tuple[SampleSpec, str]) -> dict:
    return {
        "sample": job[0].sample,
        "frames": 0,
        "fps": 0.0,
        "width": 0,
        "height": 0,
        "declared_frames": 0,
        "status": "error",
        "error": WORKER_DIED,
    }


def _lost_path(path: str) -> tuple[str, None, str, dict]:
    return path, None, WORKER_DIED, {}


def _extract_path(path: str) -> tuple[str, KeypointSequence | None, str, dict]:
    """Worker job for `extract_many`: keypoints of one file, or its error."""
    seq, error = _extract_guarded(path)
    return path, seq, error, (worker_extractor().last_timing if seq is not None else {})


def extract_many(
    paths: list[str], config: ExtractionConfig | None = None, workers: int | None = None
) -> Iterator[tuple[str, KeypointSequence | None, str, dict]]:
    """Keypoints of many videos in parallel, yielded as they finish: (path, seq, error, timing)."""
    n = worker_count(workers, len(paths))
    yield from run_jobs(_extract_path, list(paths), config or ExtractionConfig(), n, lost=_lost_path)


@dataclass
class ExtractionReport:
    out: Path
    total: int
    done_before: int = 0
    extracted: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    truncated: list[tuple[str, int, int]] = field(default_factory=list)  # (sample, decoded, declared)
    redone: list[str] = field(default_factory=list)  # finished before, but their file was damaged
    frames: int = 0
    seconds: float = 0.0

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        lines = [
            f"{self.total} samples: {self.extracted} extracted now, {self.done_before} already done, "
            f"{len(self.failed)} failed; {self.frames} frames in {self.seconds:.1f} s "
            f"({self.frames_per_second:.1f} frames/s)",
        ]
        lines += [f"  failed: {sample}: {error}" for sample, error in self.failed]
        lines += [
            f"  warning: {sample}: decoded {n} of the {declared} frames the video declares (truncated?)"
            for sample, n, declared in self.truncated
        ]
        lines += [f"  redone: {sample}: its pose file was damaged" for sample in self.redone]
        lines.append(f"dataset: {self.out}")
        return "\n".join(lines)


def _row(spec: SampleSpec, root: Path, result: dict) -> ManifestRow:
    ok = result.get("status") == "ok"
    return ManifestRow(
        sample=spec.sample,
        signer=spec.signer,
        sign_id=spec.sign_id,
        file=pose_path_for(spec.sample) if ok else "",
        source=spec.path.relative_to(root).as_posix() if spec.path != root else spec.path.name,
        subset=spec.subset,
        repetition=spec.repetition,
        frames=int(result.get("frames", 0)),
        fps=float(result.get("fps", 0.0)),
        width=int(result.get("width", 0)),
        height=int(result.get("height", 0)),
        status="ok" if ok else "error",
        error=str(result.get("error", "")),
        declared_frames=int(result.get("declared_frames", 0)),
    )


def _recover_from_file(path: Path) -> dict | None:
    """A pose file written just before a crash, before the manifest caught up with it."""
    if not path.is_file():
        return None
    try:
        seq = read_pose(path)
    except SignposeError:
        path.unlink(missing_ok=True)  # cannot happen with atomic writes; redo it if it does
        return None
    return {
        "frames": seq.frames,
        "fps": seq.fps,
        "width": seq.width,
        "height": seq.height,
        "status": "ok",
    }


def extract_dataset(
    videos: str | Path,
    out: str | Path,
    layout: str = "folders",
    labels: str | Path | None = None,
    workers: int | None = None,
    config: ExtractionConfig | None = None,
    signer: str | None = None,
    retry_failed: bool = False,
    progress: bool = True,
    limit: int | None = None,
    backend: str = "local",
    address: str | None = None,
    append: bool = False,
    say=None,
) -> ExtractionReport:
    """Extract every sample under `videos` into the dataset folder `out` (resumable).
    `layout` is a registered layout's name, or auto (the one chosen is told to `say`).

    backend 'local' runs a process pool on this machine; 'ray' runs the same per-video
    work as Ray actors, locally or on the cluster at `address`. Into a dataset made from
    another source or with other MediaPipe settings only with `append`."""
    config = config or ExtractionConfig()
    root = Path(videos)
    out = Path(out)
    if limit is not None and limit < 1:
        raise SignposeError(f"--limit must be at least 1, not {limit}")
    check_dataset_target(out, (root,))
    specs = discover(root, layout, signer=signer, say=say)
    if limit:
        specs = specs[:limit]
    names = read_labels(labels) if labels else {}
    unknown = natural_sorted({s.sign_id for s in specs} - set(names)) if names else []
    names = {**{s.sign_id: s.name for s in specs if s.name}, **names}  # the layout's own names, then --labels
    if unknown:
        raise SignposeError(
            f"{labels}: sign ids {unknown[:10]} found under {root} are not in the label file; pass the full label file"
        )
    meta = {
        "created_by": "extract",
        "source_root": str(root.resolve()),
        "layout": layout,
        "labels": str(labels) if labels else None,
        "extraction": config.model_dump(),
    }
    with DatasetWriter(out, meta, names, append=append, rebuild_broken_manifest=True, sources=(root,)) as writer:
        for stale in (out / POSES).rglob(".*.tmp"):  # half-written files of a killed run: never read, removed
            stale.unlink(missing_ok=True)
        specs = [replace(s, sample=writer.qualify(s.sample)) for s in specs]
        report = ExtractionReport(out=out, total=len(specs))
        pending = []
        for spec in specs:
            prev = writer.rows.get(spec.sample)
            path = writer.pose_path(spec.sample)
            if prev and prev.status == "ok" and path.is_file() and not pose_file_complete(path, prev.frames):
                path.unlink()  # truncated or damaged since: extracted again below
                report.redone.append(spec.sample)
            if prev and prev.status == "ok" and path.is_file():
                writer.add(_row(spec, root, {**prev.as_dict(), "status": "ok"}))
            elif prev and prev.status == "error" and not retry_failed:
                writer.add(_row(spec, root, prev.as_dict()))
                report.failed.append((spec.sample, prev.error))
            elif (recovered := _recover_from_file(writer.pose_path(spec.sample))) is not None:
                writer.add(_row(spec, root, recovered))
            else:
                pending.append(spec)
                continue
            report.done_before += 1

        n = worker_count(workers, len(pending), backend, address)
        by_id = {s.sample: s for s in specs}
        start = last_flush = time.perf_counter()
        label = f"{n or 'all'} worker{'s' if n != 1 else ''}" + (", ray" if backend == "ray" else "")
        progress_bar = bar(
            total=len(specs),
            initial=report.done_before,
            unit="video",
            enabled=progress,
            desc=f"extract ({label})",
        )
        try:
            jobs = [(s, str(out)) for s in pending]
            for result in run_jobs(_extract_sample, jobs, config, n, backend, address, lost=_lost_sample):
                if "environment" in result:
                    raise SignposeError(result["environment"])
                row = writer.add(_row(by_id[result["sample"]], root, result))
                if row.truncated:
                    report.truncated.append((row.sample, row.frames, row.declared_frames))
                report.frames += int(result.get("frames", 0))
                if result["status"] == "ok":
                    report.extracted += 1
                else:
                    report.failed.append((result["sample"], result["error"]))
                elapsed = time.perf_counter() - start
                progress_bar.set_postfix(
                    frames_s=f"{report.frames / max(elapsed, 1e-9):.1f}", failed=len(report.failed)
                )
                progress_bar.update(1)
                if time.perf_counter() - last_flush > 2.0:  # keep the manifest close behind the files
                    writer.flush()
                    last_flush = time.perf_counter()
        finally:
            progress_bar.close()
            report.seconds = time.perf_counter() - start
    return report
