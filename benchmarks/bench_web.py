"""The page on the signer's device against the server (issue: the page on the device).

One run trained on the real WLASL clips (the default model, islr at its default size), its
site exported (`export --web`). In headless Chromium (Debian's, driven by Playwright):
  browser, 1 thread    one reading on the device: the page's stage 1 (device.js) and the
                       graph through ONNX Runtime Web (WebAssembly, one thread)
  browser, 2 threads   the same on a cross-origin-isolated page (COOP/COEP headers), which
                       ONNX Runtime Web needs for threads
against
  server round trip    `signpose serve` in landmarks mode (hold mode, stride 1, window 30):
                       a frame's landmarks sent over the WebSocket -> its reading back, with
                       the server's Python stage 1 and torch, on the same machine
  python, in process   `Recognizer.sign_probabilities` on the same windows (no network)
on the same windows of a real clip; then the model's and the site's size, the first load
(page to a model ready to classify) and the offline reload (the service worker's cache,
network off). Medians over BENCH_READINGS (60) readings after 5 warm-up ones.

    python benchmarks/bench_web.py
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import OUT, report, require_shared  # noqa: E402

from signpose.data.dataset import Dataset  # noqa: E402
from signpose.data.keypoints import KeypointSequence  # noqa: E402
from signpose.extract.pipeline import extract_dataset  # noqa: E402
from signpose.learn.training import train  # noqa: E402
from signpose.model.config import TrainConfig  # noqa: E402
from signpose.recognise.recognizer import Recognizer  # noqa: E402
from signpose.serve.site import export_site  # noqa: E402
from signpose.serve.stream import landmark_messages, landmarks_to_arrays  # noqa: E402

READINGS = int(os.environ.get("BENCH_READINGS", 60))
WARM = 5
WORK = OUT / "web"
WINDOW = 30


def prepare() -> tuple[Path, Path, list[dict]]:
    """A run on the real clips, its site, and a real clip's landmark messages."""
    dataset = WORK / "wlasl"
    if not (dataset / "manifest.csv").is_file():
        extract_dataset(require_shared("videos", "wlasl_mini"), dataset, layout="folders", progress=False)
    run = WORK / "run"
    if not (run / "model.pt").is_file():
        train(dataset, run, TrainConfig(split="mixed", recipe={"epochs": 3, "batch_size": 4}), progress=False)
    site = WORK / "site"
    export_site(run, site)
    ds = Dataset(dataset)
    seq = ds.read(ds.rows[ds.rows["sample"] == "mother/mother_1"].iloc[0])
    while seq.frames < WINDOW + READINGS + WARM:  # the clip looped: one window per reading
        seq = KeypointSequence(
            np.concatenate([seq.xyz, seq.xyz]), np.concatenate([seq.present, seq.present]), seq.fps, seq.width,
            seq.height,
        )  # fmt: skip
    return run, site, landmark_messages(seq)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Handler(http.server.SimpleHTTPRequestHandler):
    isolated = False

    def end_headers(self) -> None:
        if self.isolated:  # what SharedArrayBuffer, so WebAssembly threads, needs
            self.send_header("Cross-Origin-Opener-Policy", "same-origin")
            self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        super().end_headers()

    def log_message(self, *args) -> None:
        pass


def static_server(root: Path, isolated: bool):
    handler = functools.partial(type("H", (Handler,), {"isolated": isolated}), directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


TIME_IN_PAGE = """async ([messages, size, warm, n]) => {
  const { signs, spec } = await window.signpose.loadDevice();
  const frames = messages.map((m) => SignposeDevice.frameFromParts(m.parts, m.w, m.h, spec.layout));
  const times = [];
  for (let i = 0; i < warm + n; i++) {
    const t0 = performance.now();
    await signs.classify(frames.slice(i, i + size), messages[0].w, messages[0].h);
    if (i >= warm) times.push(performance.now() - t0);
  }
  return { times, threads: signs.threads, isolated: self.crossOriginIsolated };
}"""


def browser_readings(page, messages: list[dict]) -> dict:
    return page.evaluate(TIME_IN_PAGE, [messages, WINDOW, WARM, READINGS])


def server_round_trips(run: Path, messages: list[dict]) -> list[float]:
    """Landmarks over the WebSocket to `signpose serve` (hold, stride 1): each frame after
    the first window is read, and its reading comes back before the next frame is sent."""
    from websockets.sync.client import connect

    port = free_port()
    cmd = [sys.executable, "-m", "signpose.cli", "serve", str(run), "--port", str(port), "--mode", "hold",
           "--window", str(WINDOW), "--stride", "1", "--hold", "100", "--max-live-fps", "1000"]  # fmt: skip
    server = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        deadline = time.time() + 120
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.time() > deadline or server.poll() is not None:
                    raise SystemExit("signpose serve did not start") from None
                time.sleep(0.3)
        times = []
        with connect(f"ws://127.0.0.1:{port}/ws/live?mode=landmarks", max_size=None) as ws:
            ws.recv(timeout=30)  # hello
            encoded = [json.dumps(m) for m in messages]
            for i, text in enumerate(encoded[: WINDOW + WARM + READINGS]):
                t0 = time.perf_counter()
                ws.send(text)
                if i < WINDOW - 1:
                    continue
                while json.loads(ws.recv(timeout=30))["type"] != "prediction":
                    pass
                if i >= WINDOW - 1 + WARM:
                    times.append((time.perf_counter() - t0) * 1000)
        return times
    finally:
        server.terminate()
        server.wait(30)


def python_readings(run: Path, messages: list[dict]) -> list[float]:
    rec = Recognizer.from_run(run)
    arrays = [landmarks_to_arrays(m) for m in messages]
    times = []
    for i in range(WARM + READINGS):
        part = arrays[i : i + WINDOW]
        seq = KeypointSequence(np.stack([a[0] for a in part]), np.stack([a[1] for a in part]), 30.0, *part[0][2:])
        t0 = time.perf_counter()
        rec.sign_probabilities(seq)
        if i >= WARM:
            times.append((time.perf_counter() - t0) * 1000)
    return times


def loads(browser_type, executable: str, site: Path) -> dict:
    """First visit (page to a model ready) and an offline reload from the worker's cache."""
    server, base = static_server(site, isolated=False)
    browser = browser_type.launch(executable_path=executable, args=["--no-sandbox"])
    try:
        page = browser.new_page()
        t0 = time.perf_counter()
        page.goto(f"{base}/")
        page.wait_for_selector("#vocab li")
        page.evaluate("window.signpose.loadDevice().then(() => true)")
        first = time.perf_counter() - t0
        page.wait_for_function("navigator.serviceWorker.controller !== null || (location.reload(), false)",
                               timeout=120_000)  # fmt: skip
        page.evaluate("navigator.serviceWorker.ready.then(() => true)")
        server.shutdown()
        page.context.set_offline(True)
        t0 = time.perf_counter()
        page.reload()
        page.wait_for_selector("#vocab li")
        page.evaluate("window.signpose.loadDevice().then(() => true)")
        offline = time.perf_counter() - t0
        return {"first": first, "offline": offline}
    finally:
        browser.close()
        server.server_close()


def main() -> None:
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if not executable:
        raise SystemExit("bench_web needs Debian's chromium (apt-get install chromium)")
    run, site, messages = prepare()
    results = {}
    with sync_playwright() as p:
        for threads, isolated in ((1, False), (2, True)):
            server, base = static_server(site, isolated)
            browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
            try:
                page = browser.new_page()
                page.goto(f"{base}/?threads={threads}")
                page.wait_for_selector("#vocab li")
                results[threads] = browser_readings(page, messages)
            finally:
                browser.close()
                server.shutdown()
                server.server_close()
        load = loads(p.chromium, executable, site)
    server_ms = server_round_trips(run, messages)
    python_ms = python_readings(run, messages)
    server_median = float(np.median(server_ms))

    def row(where: str, times: list[float]) -> dict:
        ms = float(np.median(times))
        return {
            "where": where,
            "ms per reading (median)": ms,
            "p95": float(np.percentile(times, 95)),
            "server round trip / this": server_median / ms,
        }

    two = results[2]
    rows = [
        row("browser, ONNX Runtime Web, 1 thread", results[1]["times"]),
        row(f"browser, ONNX Runtime Web, {two['threads']} threads (isolated: {two['isolated']})", two["times"]),
        row("server round trip (WebSocket, Python stage 1 + torch)", server_ms),
        row("python in process (no network)", python_ms),
    ]
    files = [f for f in site.rglob("*") if f.is_file()]
    notes = {
        "readings": f"{READINGS} windows of {WINDOW} frames of a real clip (after {WARM} warm-up)",
        "model.onnx (MB)": (site / "model.onnx").stat().st_size / 1e6,
        "site (MB, files)": f"{sum(f.stat().st_size for f in files) / 1e6:.1f} MB, {len(files)} files",
        "first load, page to model ready (s)": load["first"],
        "offline reload from the service worker (s)": load["offline"],
        "machine": f"{os.cpu_count()} cores, headless Chromium, no GPU",
    }
    report("web_device", rows, notes)


if __name__ == "__main__":
    main()
