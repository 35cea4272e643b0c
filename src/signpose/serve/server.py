"""What the app holds: the run, the MediaPipe pool and its slots, the temporary folder,
and the work of one upload (bounded by frames, frame side and decoded pixels)."""

from __future__ import annotations

import atexit
import contextlib
import itertools
import json
import os
import queue
import shutil
import tempfile
import threading
import time
import uuid
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ..data.dataset import read_meta
from ..data.video import open_frames
from ..errors import SignposeError
from ..extract.holistic import HolisticExtractor
from ..recognise.annotate import annotate_video
from ..recognise.recognizer import Recognizer
from ..recognise.transcribe import transcribe_sequence
from .api import ApiError
from .config import ServeConfig

KEEP_ANNOTATED = 20  # annotated videos kept for playback; older ones are deleted


class Extractors:
    """MediaPipe graphs, built when first needed and reused: an upload holds one for its
    video, a frames-mode stream for its connection (tracking runs across its frames)."""

    def __init__(self, recognizer: Recognizer):
        self.config = recognizer.extraction
        self.free: queue.Queue[HolisticExtractor] = queue.Queue()
        self.made = 0
        self.lock = threading.Lock()

    def take(self) -> HolisticExtractor:
        try:
            return self.free.get_nowait()
        except queue.Empty:
            with self.lock:
                self.made += 1
            return HolisticExtractor(self.config)

    def give(self, extractor: HolisticExtractor) -> None:
        extractor.forget_tracking()  # the next user starts from a fresh detection
        self.free.put(extractor)

    def close(self) -> None:
        while not self.free.empty():
            self.free.get_nowait().close()


class UploadBudget:
    """An upload's limits: frames (--max-upload-frames), frame side (--max-frame-side, the
    same as frames mode's) and decoded pixels (--max-upload-megapixels); 413 past any."""

    def __init__(self, config: ServeConfig):
        self.config, self.frames = config, 0

    def frame(self, width: int, height: int, count: int = 1) -> None:
        side, frames = self.config.max_frame_side, self.config.max_upload_frames
        budget = self.config.max_upload_megapixels * 1e6
        if max(width, height) > side:
            raise ApiError(
                413,
                f"the video's frames are {width}x{height}, larger than {side} pixels a side "
                "(--max-frame-side); send a smaller video",
            )
        if count > frames:
            raise ApiError(413, f"the video is longer than {frames} frames (--max-upload-frames); send a shorter one")
        if count * width * height > budget:
            raise ApiError(
                413,
                f"the video holds {count * width * height / 1e6:,.0f} megapixels in {count} frames, more than "
                f"{budget / 1e6:,.0f} (--max-upload-megapixels); send a shorter or smaller video",
            )

    def decoded(self, frame: np.ndarray) -> None:
        """One more decoded frame, checked with the count so far."""
        self.frames += 1
        self.frame(frame.shape[1], frame.shape[0], self.frames)


class Server:
    """What the app holds: the runs (the first is the default), the MediaPipe pool and the
    temporary folder."""

    def __init__(self, runs: str | Path | list[str | Path], config: ServeConfig):
        import torch

        torch.set_num_threads(1)  # one request's classification is small; many run side by side
        self.config = config
        runs = [runs] if isinstance(runs, str | Path) else list(runs)
        self.recognizers: dict[str, Recognizer] = {}
        self.accuracies: dict[str, dict | None] = {}
        for run in runs:
            self.add_run(run)
        self.default = next(iter(self.recognizers))
        self.recognizer = self.recognizers[self.default]
        self.pool = ThreadPoolExecutor(config.workers, thread_name_prefix="mediapipe")
        self.slots = config.workers  # free MediaPipe slots (uploads and frames-mode frames)
        self.slot_lock = threading.Lock()
        self.extractors = Extractors(self.recognizer)
        self.pool.submit(lambda: self.extractors.give(self.extractors.take()))  # one graph ready early
        self.frame_streams = 0
        self.tmp = Path(tempfile.mkdtemp(prefix="signpose-serve-"))
        atexit.register(shutil.rmtree, self.tmp, True)  # also when the process ends without a clean shutdown
        self.annotated: OrderedDict[str, Path] = OrderedDict()
        self.live_clients = 0
        self.accuracy = self.accuracies[self.default]
        self.cancels: set[threading.Event] = set()  # one per upload in MediaPipe: set when it should stop
        self.closing = False  # Ctrl+C or SIGTERM came: uploads in MediaPipe stop at their next frame

    def add_run(self, run: str | Path) -> str:
        """Serve one more run (named by its folder: run, run~2 for a second of that name)."""
        name, base, k = Path(run).resolve().name, Path(run).resolve().name, 1
        while name in self.recognizers:
            k += 1
            name = f"{base}~{k}"
        rec = self.config.recognition.recognizer(run)
        if self.recognizers and rec.extraction != (first := next(iter(self.recognizers.values()))).extraction:
            raise SignposeError(
                f"{run}: its keypoints were extracted with other MediaPipe settings than {first.run}; "
                "serve runs of one extraction together (one MediaPipe pool serves them all)"
            )
        self.recognizers[name] = rec
        self.accuracies[name] = _measured_accuracy(Path(run), rec.info.dataset_path(Path(run)))
        return name

    def pick(self, name: str | None) -> tuple[str, Recognizer]:
        """The run a request names (?run=), or the default; 404 for a run not served."""
        if name is None or name == "":
            return self.default, self.recognizer
        if name not in self.recognizers:
            raise ApiError(404, f"no run {name!r} is served here; runs: {', '.join(self.recognizers)}")
        return name, self.recognizers[name]

    def workdir(self) -> Path:
        """A fresh folder for one upload; the server's temp folder is made again if something
        deleted it (a /tmp cleaner), instead of failing every upload from then on."""
        self.tmp.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(dir=self.tmp))

    def try_slot(self) -> bool:
        with self.slot_lock:
            if self.slots == 0:
                return False
            self.slots -= 1
            return True

    def free_slot(self) -> None:
        with self.slot_lock:
            self.slots += 1

    def stop_work(self) -> None:
        """The process is asked to end: every upload in MediaPipe stops at its next frame
        and answers 503 (waiting for a whole video would hold the exit for minutes)."""
        self.closing = True
        for cancel in list(self.cancels):
            cancel.set()

    def close(self) -> None:
        """Shut down without waiting for uploads in MediaPipe: they stop at their next frame."""
        self.stop_work()
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.extractors.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- uploads ---------------------------------------------------------------------------

    def predict_file(self, path: Path, annotate: bool, cancel: threading.Event, recognizer=None) -> dict:
        """Runs in the pool: the sign in one uploaded video, at most `max_upload_frames`
        frames long; stops at the next frame once `cancel` is set (the client left)."""
        rec = recognizer or self.recognizer
        unreadable = ApiError(415, "the upload is not a video this server can decode (no frame could be read)")
        try:
            source = open_frames(path, fps=rec.extraction.fps)
        except SignposeError:
            raise unreadable from None
        # What the container declares is checked before a single frame is decoded: a 3 MB
        # file can declare 16000x16000 frames, gigabytes once decoded.
        check = UploadBudget(self.config)
        check.frame(source.width, source.height, source.frame_count)
        decoded = iter(source)
        first = next(decoded, None)  # one capture, and its first frame decoded once
        if first is None:
            decoded.close()
            raise unreadable

        def frames():
            for frame in itertools.chain([first], decoded):
                if cancel.is_set():
                    if self.closing:
                        raise ApiError(503, "the server is shutting down; send the video again when it is back")
                    raise ApiError(499, "the client left before the result")
                check.decoded(frame)  # a container that declared less than it holds
                yield frame

        extractor = self.extractors.take()
        try:
            start = time.perf_counter()
            seq = extractor.extract(frames(), source.fps, source.width, source.height)
            timing = dict(extractor.last_timing)
        except (SignposeError, ApiError) as e:
            extractor.close()  # a graph stopped mid-video is not reused
            if isinstance(e, ApiError):
                raise
            raise ApiError(415, str(e).removeprefix(f"{path}: ")) from None
        else:
            self.extractors.give(extractor)
        pred = rec.predict_sequence(seq, top_k=self.config.recognition.top_k)
        hands = seq.hands_per_frame()
        transcript = transcribe_sequence(rec, seq, self.config.live, "upload").as_dict()
        result = {
            **pred.as_dict(),
            # the signs one after another, as `signpose transcribe` reads them
            "transcript": {k: transcript[k] for k in ("text", "signs", "no_sign", "duration")},
            "source": "upload",
            "hands_share": round(float(hands.mean()) if seq.frames else 0.0, 4),
            "timing": {**{k: round(v, 4) for k, v in {**timing, **pred.timing}.items()}},
        }
        if annotate:
            name = f"{uuid.uuid4().hex}.webm"
            self.tmp.mkdir(parents=True, exist_ok=True)
            annotate_video(path, seq, pred.label, self.tmp / name, fps=rec.extraction.fps)
            self.annotated[name] = self.tmp / name
            while len(self.annotated) > KEEP_ANNOTATED:
                self.annotated.popitem(last=False)[1].unlink(missing_ok=True)
            result["annotated_url"] = f"/api/annotated/{name}"
        result["timing"]["total"] = round(time.perf_counter() - start, 4)
        return result


# Thread pools of the server's process, by the name prefix their threads carry, and the
# most threads each may hold: a pool grows to its cap under load and stays there (not a
# leak), so a soak can only tell a leak apart when each pool is counted by itself.
POOLS = {
    "mediapipe": ("mediapipe_", None),  # Server.pool: --workers threads
    "asyncio": ("asyncio_", min(32, (os.cpu_count() or 1) + 4)),  # the loop's default executor (Python's default cap)
    "anyio": ("AnyIO worker thread", 40),  # Starlette's threadpool (anyio's default limiter)
}


def thread_census(workers: int) -> dict[str, dict[str, int] | int | None]:
    """The process's threads: each pool's count and cap, the other Python threads, and the
    native ones (MediaPipe's graphs, allocators; from /proc, None where there is none)."""
    names = [t.name for t in threading.enumerate()]
    pools = {
        pool: {"threads": sum(n.startswith(prefix) for n in names), "cap": workers if cap is None else cap}
        for pool, (prefix, cap) in POOLS.items()
    }
    by_name = _os_threads()
    return {
        "pools": pools,
        "python_other": len(names) - sum(p["threads"] for p in pools.values()),
        "native": None if by_name is None else sum(by_name.values()) - len(names),
        "os_names": by_name,  # every thread by the OS's name less its number (Python's share the process's)
    }


def _os_threads() -> dict[str, int] | None:
    """The process's threads by the name the OS knows them by, numbers dropped
    (`mediapipe/1234` -> `mediapipe`); None where there is no /proc."""
    names: dict[str, int] = {}
    try:
        for task in Path("/proc/self/task").iterdir():
            with contextlib.suppress(OSError):  # a thread that ended while being counted
                name = (task / "comm").read_text().strip().split("/")[0].rstrip("0123456789:-_ ")
                names[name] = names.get(name, 0) + 1
    except OSError:
        return None
    return dict(sorted(names.items()))


def _measured_accuracy(run: Path, dataset: Path) -> dict | None:
    """The run's accuracy on its unseen test signer, from metrics.json (None if absent),
    and what it was measured on: `data` is synthetic (made by `signpose synth`, as the
    demo's is), recorded, or unknown (the dataset is not where the run says)."""
    try:
        metrics = json.loads((run / "metrics.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(metrics, dict):  # damaged: the page just shows no accuracy
        return None
    keys = ("accuracy", "accuracy_ci95", "samples", "signer")
    try:
        made_by = read_meta(dataset).get("created_by") if dataset.is_dir() else None
        data = "unknown" if not dataset.is_dir() else "synthetic" if made_by == "synth" else "recorded"
    except SignposeError:
        data = "unknown"
    return {**{k: metrics.get(k) for k in keys}, "data": data}
