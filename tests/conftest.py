"""Shared fixtures. Tests that need the real recordings in ../shared/data skip cleanly
when that folder is absent (a user's machine); CI has it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SIGNPOSE_SHARED_DATA", ROOT.parent / "shared" / "data"))


def shared(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real test data not present: {path}")
    return path


def _reads_shared(function) -> bool:
    import inspect

    try:
        return "shared(" in inspect.getsource(function)
    except (OSError, TypeError):
        return False


# Fixtures that run MediaPipe over real clips, train on them or start browsers: the tests
# that use them take seconds to minutes, and are `slow` (not in `make test-fast`).
SLOW_FIXTURES = {
    "karsl_extracted",
    "wlasl_extracted",
    "wlasl_run",
    "ensemble_run",
    "karsl",
    "fingerspelling",
    "asl_signs",
    "people22",
    "recorders",
    "workdir",
    "camera_clip",
    "place",
}


def pytest_collection_modifyitems(items) -> None:
    """`real_data` on every test that reads ../shared/data: a `shared(...)` call in its
    body or in any fixture it uses, so that `-m "not real_data"` is what a user without
    the recordings runs (those tests would skip anyway). `slow` on every test that uses a
    slow fixture."""
    for item in items:
        functions = [getattr(item, "function", None)]
        for defs in item._fixtureinfo.name2fixturedefs.values():
            functions += [d.func for d in defs]
        if any(_reads_shared(f) for f in functions if f is not None):
            item.add_marker(pytest.mark.real_data)
        if SLOW_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.slow)


def cli(*args) -> list[str]:
    """The command line of `signpose ARGS` run as a new process with this Python."""
    return [sys.executable, "-m", "signpose.cli", *map(str, args)]


def video_frames(path) -> tuple[int, tuple]:
    """Frames OpenCV decodes from a video, and the shape of the last one."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    n, shape = 0, None
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        n, shape = n + 1, frame.shape
    cap.release()
    return n, shape


@pytest.fixture(scope="session")
def synth_small(tmp_path_factory) -> Path:
    from signpose.data.synth import synth_dataset

    return synth_dataset(tmp_path_factory.mktemp("synth") / "ds", signers=3, signs=5, reps=8, seed=1, progress=False)


@pytest.fixture(scope="session")
def karsl_extracted(tmp_path_factory) -> Path:
    """The real-frames KArSL-layout fixture, extracted once for the session."""
    from signpose.extract.pipeline import extract_dataset

    src = shared("karsl_layout")
    out = tmp_path_factory.mktemp("karsl") / "ds"
    extract_dataset(src, out, layout="karsl", labels=src / "labels.csv", workers=2, progress=False)
    return out


@pytest.fixture(scope="session")
def wlasl_extracted(tmp_path_factory) -> Path:
    """The six real WLASL clips (two signs), extracted once for the session."""
    from signpose.extract.pipeline import extract_dataset

    src = shared("videos", "wlasl_mini")
    out = tmp_path_factory.mktemp("wlasl") / "ds"
    extract_dataset(src, out, layout="folders", workers=2, progress=False)
    return out


@pytest.fixture(scope="session")
def small_run(tmp_path_factory, synth_small) -> Path:
    """A small ISLR model trained signer-independently on the synthetic data."""
    from signpose.learn.training import train

    out = tmp_path_factory.mktemp("runs") / "islr"
    train(synth_small, out, small_run_config(), progress=False)
    return out


def small_run_config(**changes):
    """The small run's settings (a small ISLR model, 6 epochs), with changes."""
    from signpose.model.config import TrainConfig

    values = {
        "model": "islr",
        "test_signer": "signer3",
        "features": {"features": "pose_hands"},
        "recipe": {"epochs": 6, "patience": 10, "batch_size": 32, "lr": 2e-3},
        "model_options": {"dim": 48, "groups": 1, "conv_blocks": 1},
    }
    return TrainConfig(**{**values, **changes})


def cnn_run_config(**changes):
    """A quick run's settings: the 1D-CNN on 16 frames, 4 epochs, signer3 held out."""
    from signpose.model.config import TrainConfig

    values = {"model": "cnn", "test_signer": "signer3", "features": {"frames": 16}, "recipe": {"epochs": 4}}
    return TrainConfig(**{**values, **changes})


RUN_FILES = ("config.json", "run.json", "model.pt", "checkpoints/last.ckpt")


def copy_run(run: Path, to: Path, files: tuple[str, ...] = RUN_FILES) -> Path:
    """A finished run's files (settings, record, weights, last checkpoint) in a new folder."""
    for name in files:
        (to / name).parent.mkdir(parents=True, exist_ok=True)
        (to / name).write_bytes((run / name).read_bytes())
    return to


@pytest.fixture(scope="session")
def wlasl_run(tmp_path_factory, wlasl_extracted) -> Path:
    """A small ISLR model on the six real WLASL clips (brother, mother; signer-dependent)."""
    from signpose.learn.training import train
    from signpose.model.config import TrainConfig

    out = tmp_path_factory.mktemp("wlasl-run") / "run"
    config = TrainConfig(
        model="islr",
        split="mixed",
        recipe={"epochs": 5, "batch_size": 4, "lr": 1e-3},
        features={"features": "pose_hands"},
        model_options={"dim": 32, "groups": 1, "conv_blocks": 1},
    )
    train(wlasl_extracted, out, config, progress=False)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running(run: Path, **settings):
    """The app on a free localhost port, in this process (so tests can look inside)."""

    from signpose.recognise.decoder import LiveConfig
    from signpose.serve.app import create_app, make_server
    from signpose.serve.config import ServeConfig

    live = {k: settings.pop(k) for k in list(settings) if k in LiveConfig.model_fields}
    config = ServeConfig(**{"port": free_port(), **settings}, live=live)
    app = create_app(run, config)
    server = make_server(app, config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 60
    while not server.started:
        assert thread.is_alive() and time.time() < deadline, "the app did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{config.port}", app.state.server
    finally:
        server.should_exit = True
        thread.join(30)


def record_takes(base: str, dataset: Path) -> None:
    """Every sample of an extracted dataset sent to a running app's Record view as one take
    of one person ("me"), its sign the sample's folder."""
    import httpx

    from signpose.data.dataset import Dataset
    from signpose.serve.stream import landmark_messages

    ds = Dataset(dataset)
    for _, row in ds.rows.iterrows():
        seq = ds.read(row)
        frames = [{k: m[k] for k in ("w", "h", "parts")} for m in landmark_messages(seq)]
        take = {"signer": "me", "sign": row["sample"].split("/")[0], "fps": seq.fps, "frames": frames}
        assert httpx.post(f"{base}/api/record/takes", json=take, timeout=60).status_code == 201


def train_job_ended(base: str, timeout: float = 600) -> dict:
    """The app's training job once it no longer runs (or as it is at the timeout)."""
    import httpx

    deadline = time.time() + timeout
    while (state := httpx.get(f"{base}/api/train").json())["state"] == "running" and time.time() < deadline:
        time.sleep(0.5)
    return state


@contextmanager
def small_disk(where: Path, size: str = "400k"):
    """A folder on a tmpfs of `size` (a disk that fills up); skips where mounting is not allowed."""
    import subprocess

    where.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({mounted.stderr.decode().strip()[:80]})")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


@contextmanager
def read_only(where: Path):
    """`where` made read-only by a bind mount (chmod does not stop root); skips where not allowed."""
    import subprocess

    steps = [["mount", "--bind", str(where), str(where)], ["mount", "-o", "remount,ro,bind", str(where)]]
    for step in steps:
        if subprocess.run(step, capture_output=True).returncode != 0:
            subprocess.run(["umount", str(where)], capture_output=True)
            pytest.skip("cannot make a read-only bind mount here")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def slice_npz(path: Path, n: int, **arrays) -> Path:
    """An .npz of the first `n` real seed-format sequences, with the given arrays beside X."""
    import numpy as np

    with np.load(shared("keypoints", "mp_data_3recorders_1662.npz")) as z:
        X = z["X"][:n]
    np.savez(path, X=X, **{k: np.asarray(v) for k, v in arrays.items()})
    return path


def files_under(root: Path) -> set[str]:
    """Every file under `root`, as paths relative to it."""
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def _chromium() -> str:
    """The system chromium; installed with apt where missing (root only), else skipped."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        steps = "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium"
        subprocess.run(["bash", "-c", steps], capture_output=True, timeout=1200)
        found = shutil.which("chromium")
    if not found:
        pytest.skip("chromium is not installed and could not be installed with apt (needs root and Debian)")
    return found


@pytest.fixture(scope="module")
def browser():
    """launch(video=None, allow_camera=True, locale=None) -> a new page in headless chromium
    whose fake camera plays `video` (a .y4m), in that browser language; the page's console
    errors are kept in page.errors."""
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = _chromium()
    with sync_api.sync_playwright() as p:
        launched = []

        def launch(video: Path | None = None, allow_camera: bool = True, locale: str | None = None):
            # A test's earlier pages go first: left open, their camera loops (MediaPipe on
            # software WebGL) would slow every later test of the module.
            while launched:
                launched.pop().close()
            b = p.chromium.launch(
                executable_path=executable,
                args=[
                    *(["--use-fake-ui-for-media-stream"] if allow_camera else []),
                    "--use-fake-device-for-media-stream",
                    *([f"--use-file-for-fake-video-capture={video}"] if video else []),
                    # WebGL 2 in software, for MediaPipe's GPU path
                    "--use-gl=angle",
                    "--use-angle=swiftshader",
                    "--enable-unsafe-swiftshader",
                    "--no-sandbox",
                ],
            )
            launched.append(b)
            page = b.new_page(viewport={"width": 1100, "height": 900}, **({"locale": locale} if locale else {}))
            page.errors = []  # the page's own console errors and uncaught exceptions
            page.on("console", lambda m, page=page: m.type == "error" and page.errors.append(m.text))
            page.on("pageerror", lambda e, page=page: page.errors.append(str(e)))
            return page

        yield launch
        for b in launched:
            b.close()


def write_y4m(frames: list[np.ndarray], path: Path, fps: int = 25) -> Path:
    """Frames (BGR) as the raw YUV4MPEG2 file Chromium's fake camera plays in a loop."""
    import cv2

    h, w = frames[0].shape[:2]
    with path.open("wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for bgr in frames:
            f.write(b"FRAME\n" + cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420).tobytes())
    return path


def clip_frames(path: Path) -> list[np.ndarray]:
    """A clip's frames, cropped to even sides (YUV 4:2:0 halves them)."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            return frames
        h, w = frame.shape[:2]
        frames.append(frame[: h // 2 * 2, : w // 2 * 2])


@pytest.fixture(scope="module")
def camera_clip(tmp_path_factory) -> Path:
    video = shared("videos", "wlasl_mini", "mother", "mother_1.mp4")
    return write_y4m(clip_frames(video), tmp_path_factory.mktemp("camera") / "mother_1.y4m")


SHOTS = ROOT / "test-output" / "browser"  # screenshots of each browser test's states
LIVE_QUICK = {"mode": "hold", "window": 8, "stride": 2, "hold": 1, "threshold": 0.0}  # a sign within a few slow frames
WAIT_MS = 300_000


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True, timeout=180_000)


def wait_count(page, key: str, at_least: int) -> None:
    page.wait_for_function(f"Number(document.body.dataset.{key}) >= {at_least}", timeout=WAIT_MS)


def no_errors(page, allowed: tuple[str, ...] = ()) -> None:
    """Nothing went wrong in the page (errors the browser itself logs for what is allowed aside)."""
    errors = [e for e in page.errors if not any(a in e for a in allowed)]
    assert not errors, errors
