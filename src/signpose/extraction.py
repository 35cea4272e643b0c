"""MediaPipe Holistic keypoints from sign videos, into a dataset folder.

Unlike the seed notebook, every frame is kept (with its timestamp), absent parts are
marked absent, nothing is drawn, videos run in parallel processes, each video's file is
written atomically, and a rerun resumes where a crash left off. A video that cannot be
read is recorded in the manifest with its error; the run goes on.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .config import ExtractionConfig
from .dataset import (
    MANIFEST,
    POSES,
    natural_key,
    pose_path_for,
    read_table,
    write_manifest,
    write_meta,
    write_signs,
)
from .errors import SignposeError
from .keypoints import KeypointSequence, write_pose
from .layouts import SampleSpec, discover
from .schema import FACE, LEFT_HAND, N_POINTS, POSE, RIGHT_HAND
from .video import open_frames

# MediaPipe's C++ logging floods the terminal with INFO/WARNING lines; keep errors only.
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

_BLANK = np.full((256, 256, 3), 255, np.uint8)
_LANDMARK_TAGS = (0x0D, 0x15, 0x1D, 0x25, 0x2D)  # protobuf tags of x, y, z, visibility, presence


def _landmark_array(landmarks, n: int) -> np.ndarray:
    """A MediaPipe landmark list as an (n, k) float array (k = 3, or 5 with visibility).

    The list is decoded from its protobuf bytes in one numpy view: each landmark is a
    fixed-size record when all its fields are set, which MediaPipe does. A Python loop
    over the points is the fallback for anything else.
    """
    buf = landmarks.SerializeToString()
    rec = len(buf) // n if n else 0
    if rec in (17, 27) and len(buf) == n * rec:
        k = (rec - 2) // 5
        raw = np.frombuffer(buf, np.uint8).reshape(n, rec)
        fields = raw[:, 2:].reshape(n, k, 5)
        if (raw[:, 0] == 0x0A).all() and (raw[:, 1] == rec - 2).all() and (
            fields[:, :, 0] == np.array(_LANDMARK_TAGS[:k], np.uint8)
        ).all():
            return np.ascontiguousarray(fields[:, :, 1:]).view("<f4").reshape(n, k).astype(np.float32)
    return np.array([(p.x, p.y, p.z, p.visibility, p.presence) for p in landmarks.landmark], np.float32)


@contextmanager
def _quiet_native_stderr():
    """Silence C++ log lines (TFLite, absl) written straight to file descriptor 2 while
    MediaPipe builds its graph: they would break progress bars and say nothing useful."""
    import sys

    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class HolisticExtractor:
    """One MediaPipe Holistic graph in video mode, reused across videos (reset between)."""

    def __init__(self, config: ExtractionConfig | None = None):
        import mediapipe as mp_

        self.config = config or ExtractionConfig()
        with _quiet_native_stderr():
            self._holistic = mp_.solutions.holistic.Holistic(
                static_image_mode=False,
                model_complexity=self.config.model_complexity,
                min_detection_confidence=self.config.min_detection_confidence,
                min_tracking_confidence=self.config.min_tracking_confidence,
            )
            self._holistic.process(_BLANK)  # the first frame loads the models (and logs about it)
        self._quiet_next = True  # the first real frame logs once more

    def close(self) -> None:
        self._holistic.close()

    def __enter__(self) -> HolisticExtractor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _forget_tracking(self) -> None:
        """Start the next video fresh. A blank frame makes every tracker lose its target, so
        the next frame is detected from scratch; half the cost of `reset()`, which rebuilds
        the whole graph."""
        self._holistic.process(_BLANK)

    def process_frame(self, rgb: np.ndarray):
        """Raw MediaPipe results of one RGB frame (tracking continues from the last frame)."""
        if self._quiet_next:
            self._quiet_next = False
            with _quiet_native_stderr():
                return self._holistic.process(rgb)
        return self._holistic.process(rgb)

    def frame_arrays(self, results, width: int, height: int):
        """(xyz (543, 3) in pixels, present (543,), visibility (33,), world (33, 3))."""
        xyz = np.zeros((N_POINTS, 3), np.float32)
        present = np.zeros(N_POINTS, bool)
        visibility = np.zeros(POSE.size, np.float32)
        world = np.zeros((POSE.size, 3), np.float32)
        for part, lms in (
            (POSE, results.pose_landmarks),
            (FACE, results.face_landmarks),
            (LEFT_HAND, results.left_hand_landmarks),
            (RIGHT_HAND, results.right_hand_landmarks),
        ):
            if lms is None:
                continue
            values = _landmark_array(lms, part.size)
            if values.shape[0] != part.size:  # e.g. a refined 478-point face: keep the 468
                values = values[: part.size]
            xyz[part.slice] = values[:, :3]
            present[part.slice] = True
            if part is POSE and values.shape[1] > 3:
                visibility = values[:, 3]
        if results.pose_world_landmarks is not None:
            world = _landmark_array(results.pose_world_landmarks, POSE.size)[:, :3]
        xyz[:, 0] *= width
        xyz[:, 1] *= height
        return xyz, present, visibility, world

    def extract(self, frames: Iterable[np.ndarray], fps: float, width: int, height: int) -> KeypointSequence:
        """Keypoints of every frame of one sample. `last_timing` then holds the seconds
        spent decoding and in MediaPipe."""
        self._forget_tracking()
        xyz, present, vis, world = [], [], [], []
        started = time.perf_counter()
        in_mediapipe = 0.0
        for rgb in frames:
            h, w = rgb.shape[:2]
            t0 = time.perf_counter()
            results = self.process_frame(rgb)
            in_mediapipe += time.perf_counter() - t0
            a, b, c, d = self.frame_arrays(results, w, h)
            xyz.append(a)
            present.append(b)
            vis.append(c)
            world.append(d)
            width, height = w, h
        total = time.perf_counter() - started
        self.last_timing = {"decode": total - in_mediapipe, "mediapipe": in_mediapipe}
        if not xyz:
            raise SignposeError("no frames could be decoded")
        return KeypointSequence(
            xyz=np.stack(xyz),
            present=np.stack(present),
            fps=fps,
            width=width,
            height=height,
            visibility=np.stack(vis),
            world=np.stack(world),
        )


def extract_video(path: str | Path, config: ExtractionConfig | None = None) -> KeypointSequence:
    """Keypoints of one video file or frame folder (a fresh graph; for one-off use)."""
    config = config or ExtractionConfig()
    source = open_frames(path, fps=config.fps)
    with HolisticExtractor(config) as extractor:
        return extractor.extract(source, source.fps, source.width, source.height)


# ---------------------------------------------------------------------------------------
# A whole folder, in parallel, resumable
# ---------------------------------------------------------------------------------------

_worker: dict = {}


def _init_worker(config: ExtractionConfig) -> None:
    _worker["extractor"] = HolisticExtractor(config)
    _worker["config"] = config


def _extract_guarded(path, check=None) -> tuple[KeypointSequence | None, str]:
    """Keypoints of one file with this worker's graph, or the error; never raises, so a
    broken codec or a MediaPipe failure cannot end a run. `check` may reject the result."""
    extractor: HolisticExtractor = _worker["extractor"]
    seq = None
    try:
        source = open_frames(path, fps=_worker["config"].fps)
        seq = extractor.extract(source, source.fps, source.width, source.height)
        if check is not None:
            check(seq)
        return seq, ""
    except SignposeError as e:
        return seq, str(e)
    except Exception as e:
        return seq, f"{type(e).__name__}: {e}"


def _require_person(seq: KeypointSequence) -> None:
    parts = seq.part_present()
    if not (parts[:, 0].any() or parts[:, 2].any() or parts[:, 3].any()):
        raise SignposeError("no person detected in any frame")


def _run_one(job: tuple[SampleSpec, str]) -> dict:
    """Extract one sample in a worker and write its pose file; errors go into the row."""
    spec, out_root = job
    row = {"sample": spec.sample, "frames": 0, "fps": 0.0, "width": 0, "height": 0}
    seq, error = _extract_guarded(spec.path, _require_person)
    if seq is not None:
        row.update(frames=seq.frames, fps=seq.fps, width=seq.width, height=seq.height)
    if not error:
        try:
            write_pose(Path(out_root) / pose_path_for(spec.sample), seq)
        except Exception as e:  # e.g. a full disk: recorded like any other failure
            error = f"{type(e).__name__}: {e}"
    row.update(status="error" if error else "ok", error=error)
    return row


def _extract_one(path: str) -> tuple[str, KeypointSequence | None, str, dict]:
    """For `extract_many`: keypoints of one file, or its error."""
    seq, error = _extract_guarded(path)
    return path, (None if error else seq), error, (_worker["extractor"].last_timing if not error else {})


def extract_many(paths: list[str], config: ExtractionConfig | None = None, workers: int | None = None
                 ) -> Iterator[tuple[str, KeypointSequence | None, str, dict]]:  # fmt: skip
    """Keypoints of many videos in parallel, yielded as they finish: (path, seq, error, timing)."""
    workers = max(1, min(workers or os.cpu_count() or 1, len(paths)))
    yield from run_pool(_extract_one, list(paths), workers, config or ExtractionConfig())


@dataclass
class ExtractionReport:
    out: Path
    total: int
    done_before: int = 0
    extracted: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
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
        lines.append(f"dataset: {self.out}")
        return "\n".join(lines)


def _row_for(spec: SampleSpec, root: Path, names: dict[str, str], result: dict) -> dict:
    return {
        "sample": spec.sample,
        "file": pose_path_for(spec.sample) if result.get("status") == "ok" else "",
        "source": spec.path.relative_to(root).as_posix() if spec.path != root else spec.path.name,
        "signer": spec.signer,
        "sign_id": spec.sign_id,
        "sign": names.get(spec.sign_id, spec.sign_id),
        "subset": spec.subset,
        "repetition": spec.repetition,
        "frames": result.get("frames", 0),
        "fps": result.get("fps", 0.0),
        "width": result.get("width", 0),
        "height": result.get("height", 0),
        "status": result.get("status", "error"),
        "error": result.get("error", ""),
    }


def _previous_results(out: Path) -> dict[str, dict]:
    """Results of an earlier run: manifest rows, plus pose files the manifest missed."""
    results: dict[str, dict] = {}
    if (out / MANIFEST).is_file():
        for row in read_table(out / MANIFEST).to_dict("records"):
            results[row["sample"]] = row
    return results


def _recover_from_file(out: Path, sample: str) -> dict | None:
    """A pose file written just before a crash, before the manifest caught up with it."""
    from .keypoints import read_pose

    path = out / pose_path_for(sample)
    if not path.is_file():
        return None
    try:
        seq = read_pose(path)
    except SignposeError:
        path.unlink(missing_ok=True)  # cannot happen with atomic writes; redo it if it does
        return None
    return {"frames": seq.frames, "fps": seq.fps, "width": seq.width, "height": seq.height,
            "status": "ok", "error": ""}  # fmt: skip


def run_pool(fn, jobs: list, workers: int, config: ExtractionConfig) -> Iterator:
    """fn over jobs in `workers` processes with one MediaPipe graph each, yielded as they
    finish; in this process when one worker is enough."""
    if workers <= 1 or len(jobs) <= 1:
        _init_worker(config)
        try:
            for job in jobs:
                yield fn(job)
        finally:
            _worker.pop("extractor").close()
        return
    ctx = mp.get_context("spawn")  # a fresh interpreter per worker: no inherited graph state
    with ctx.Pool(processes=workers, initializer=_init_worker, initargs=(config,)) as pool:
        yield from pool.imap_unordered(fn, jobs, chunksize=1)


class _RayWorker:
    """A Ray actor: one MediaPipe graph per worker process, reused across videos."""

    def __init__(self, config: ExtractionConfig):
        _init_worker(config)

    def run(self, fn, job):
        return fn(job)


def run_ray(fn, jobs: list, workers: int | None, config: ExtractionConfig, address: str | None = None) -> Iterator:
    """fn over jobs on Ray actors, yielded as they finish. Starts a local Ray instance
    unless one is running or `address` names a cluster (signpose must be installed on
    every node, and the output folder must be on a filesystem they all share)."""
    try:
        import ray
        from ray.util import ActorPool
    except ImportError:
        raise SignposeError("the ray backend needs Ray: pip install 'signpose[ray]'") from None
    started = not ray.is_initialized()
    if started:
        # Ray starts its workers at niceness 15, so on a busy machine MediaPipe in them
        # runs several times slower than in our own pool; a local instance runs them at 0.
        os.environ.setdefault("RAY_worker_niceness", "0")
        ray.init(address=address, num_cpus=workers if address is None else None, include_dashboard=False,
                 log_to_driver=False, configure_logging=False)  # fmt: skip
    n = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
    actor = ray.remote(num_cpus=1)(_RayWorker)
    actors = [actor.remote(config) for _ in range(max(1, min(n, len(jobs))))]
    try:
        yield from ActorPool(actors).map_unordered(lambda a, job: a.run.remote(fn, job), jobs)
    finally:
        for a in actors:
            ray.kill(a)
        if started:
            ray.shutdown()


BACKENDS = ("local", "ray")


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
) -> ExtractionReport:
    """Extract every sample under `videos` into the dataset folder `out` (resumable).

    backend 'local' runs a process pool on this machine; 'ray' runs the same per-video
    work as Ray actors, locally or on the cluster at `address`."""
    if backend not in BACKENDS:
        raise SignposeError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    from tqdm import tqdm

    from .labels import read_labels

    config = config or ExtractionConfig()
    root = Path(videos)
    out = Path(out)
    specs = discover(root, layout, signer=signer)
    if limit:
        specs = specs[:limit]
    names = read_labels(labels) if labels else {}
    unknown = sorted({s.sign_id for s in specs} - set(names), key=natural_key) if names else []
    if unknown:
        raise SignposeError(
            f"{labels}: sign ids {unknown[:10]} found under {root} are not in the label file; "
            "pass the full label file"
        )
    out.mkdir(parents=True, exist_ok=True)
    (out / POSES).mkdir(exist_ok=True)
    for stale in (out / POSES).rglob(".*.tmp"):  # half-written files of a killed run: never read, removed
        stale.unlink(missing_ok=True)
    write_meta(out, {"created_by": "extract", "source_root": str(root.resolve()), "layout": layout,
                     "labels": str(labels) if labels else None, "extraction": asdict(config)})  # fmt: skip
    write_signs(out, {s.sign_id: names.get(s.sign_id, s.sign_id) for s in specs})

    previous = _previous_results(out)
    report = ExtractionReport(out=out, total=len(specs))
    rows: dict[str, dict] = {}
    pending = []
    for spec in specs:
        prev = previous.get(spec.sample)
        if prev and prev.get("status") == "ok" and (out / pose_path_for(spec.sample)).is_file():
            rows[spec.sample] = _row_for(spec, root, names, prev)
        elif prev and prev.get("status") == "error" and not retry_failed:
            rows[spec.sample] = _row_for(spec, root, names, prev)
            report.failed.append((spec.sample, prev.get("error", "")))
        elif (recovered := _recover_from_file(out, spec.sample)) is not None:
            rows[spec.sample] = _row_for(spec, root, names, recovered)
        else:
            pending.append(spec)
            continue
        report.done_before += 1

    if backend == "ray" and address is not None and workers is None:
        workers = 0  # all the cluster's CPUs (counted once Ray is connected)
    else:
        workers = max(1, min(workers or os.cpu_count() or 1, len(pending) or 1))
    by_id = {s.sample: s for s in specs}
    jobs = [(s, str(out)) for s in pending]
    start = time.perf_counter()
    last_flush = start
    label = f"{workers or 'all'} worker{'s' if workers != 1 else ''}" + (", ray" if backend == "ray" else "")
    bar = tqdm(total=len(specs), initial=report.done_before, unit="video", disable=not progress,
               desc=f"extract ({label})", dynamic_ncols=True)  # fmt: skip
    results = (run_ray(_run_one, jobs, workers or None, config, address) if backend == "ray" and jobs
               else run_pool(_run_one, jobs, workers, config))  # fmt: skip
    try:
        for result in results:
            spec = by_id[result["sample"]]
            rows[spec.sample] = _row_for(spec, root, names, result)
            report.frames += int(result.get("frames", 0))
            if result["status"] == "ok":
                report.extracted += 1
            else:
                report.failed.append((spec.sample, result["error"]))
            elapsed = time.perf_counter() - start
            bar.set_postfix(frames_s=f"{report.frames / max(elapsed, 1e-9):.1f}", failed=len(report.failed))
            bar.update(1)
            if time.perf_counter() - last_flush > 2.0:  # keep the manifest close behind the files
                write_manifest(out, rows.values())
                last_flush = time.perf_counter()
    finally:
        bar.close()
        write_manifest(out, rows.values())
        report.seconds = time.perf_counter() - start
    return report
