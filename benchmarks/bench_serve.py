"""The web app under load: N live clients at once, in both modes, and uploads against the
command line (issue: web app).

One `signpose serve` process (2 MediaPipe workers) on a run trained on the real WLASL clips.
Scripted clients (threads here, messages encoded before the clock starts) play:
  landmarks mode  recorded landmarks (from `extract`) at 30 frames/s, as the page sends them
  frames mode     the clips' frames as JPEG at 15 frames/s (the page's rate), the server
                  running MediaPipe; a frame arriving while its stream is busy is dropped
for BENCH_SECONDS (30) with N = 1, 2, 4, 8. Reported per N: frames processed per second per
client, dropped share, latency p50/p95 (frames: frame sent -> its landmarks back; landmarks:
the window's last frame sent -> its prediction back), the server's CPU seconds per
client-second and its memory before and after. Then one frames-mode client sending as fast
as answers come (closed loop) against `signpose live` on the same clips, and POST
/api/predict against `signpose predict` on the same clips.

    python benchmarks/bench_serve.py
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import OUT, report, require_shared  # noqa: E402

from signpose.data.dataset import Dataset  # noqa: E402
from signpose.extract.pipeline import extract_dataset  # noqa: E402
from signpose.learn.training import train  # noqa: E402
from signpose.model.config import TrainConfig  # noqa: E402
from signpose.serve.stream import landmark_messages  # noqa: E402

SECONDS = float(os.environ.get("BENCH_SECONDS", 30))
CLIENTS = [int(n) for n in os.environ.get("BENCH_CLIENTS", "1,2,4,8").split(",")]
RATE = {"landmarks": 30.0, "frames": 15.0}
WORK = OUT / "serve"


def prepare() -> tuple[Path, list[Path], list[list[str]], list[list[bytes]]]:
    """A run on the real clips, the clips, their landmarks messages and JPEG frames."""
    clips_root = require_shared("videos", "wlasl_mini")
    dataset = WORK / "wlasl"
    if not (dataset / "manifest.csv").is_file():
        extract_dataset(clips_root, dataset, layout="folders", progress=False)
    run = WORK / "run"
    if not (run / "model.pt").is_file():
        config = TrainConfig(split="mixed", recipe={"epochs": 20, "batch_size": 4})
        train(dataset, run, config, progress=False)
    ds = Dataset(dataset)
    clips, landmarks, jpegs = [], [], []
    for _, row in ds.rows.iterrows():
        clip = clips_root / f"{row['sample']}.mp4"
        seq = ds.read(row)
        messages = [json.dumps(m) for m in landmark_messages(seq)]
        cap, frames = cv2.VideoCapture(str(clip)), []
        while (got := cap.read())[0]:
            small = cv2.resize(got[1], (480, round(480 * got[1].shape[0] / got[1].shape[1])))
            frames.append(cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes())
        clips.append(clip)
        landmarks.append(messages)
        jpegs.append(frames)
    return run, clips, landmarks, jpegs


class ServerProcess:
    """`signpose serve` in its own process, with its CPU time and memory read from /proc."""

    def __init__(self, run: Path):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        cmd = [sys.executable, "-m", "signpose.cli", "serve", str(run), "--port", str(self.port), "--workers", "2"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.url = self.proc.stdout.readline().strip()
        import httpx

        for _ in range(600):
            try:
                if httpx.get(f"{self.url}api/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def client(url: str, mode: str, messages: list, seconds: float, rate: float | None, out: dict) -> None:
    """One live client: sends at `rate` (None: the next frame when the last is answered)."""
    from websockets.sync.client import connect

    sent_at: dict[int, float] = {}
    latencies, counts, errors = [], {}, 0
    with connect(f"{url.replace('http', 'ws')}ws/live?mode={mode}", max_size=None) as ws:
        json.loads(ws.recv())  # hello
        done = threading.Event()

        def receive():
            nonlocal errors
            while not done.is_set():
                try:
                    message = json.loads(ws.recv(timeout=0.5))
                except TimeoutError:
                    continue
                except Exception:
                    return
                now = time.time()
                if message["type"] == "error":
                    errors += 1
                if mode == "frames" and message["type"] == "landmarks":
                    latencies.append(now - message["sent"])
                    answered.set()
                elif mode == "landmarks" and message["type"] == "prediction" and message["frame"] in sent_at:
                    latencies.append(now - sent_at[message["frame"]])
                if "processed" in message:
                    counts.update({k: message[k] for k in ("received", "processed", "dropped")})

        answered = threading.Event()
        reader = threading.Thread(target=receive)
        reader.start()
        start, i = time.time(), 0
        while time.time() - start < seconds:
            ws.send(messages[i % len(messages)])
            sent_at[i] = time.time()  # frames are numbered from 0, as the server numbers them
            i += 1
            if rate is None:
                answered.wait(5)
                answered.clear()
            else:
                time.sleep(max(0.0, start + i / rate - time.time()))
        time.sleep(1.0)  # the last answers
        done.set()
        reader.join()
    out.update(sent=i, seconds=seconds, latencies=latencies, errors=errors, **counts)


def load(server: ServerProcess, mode: str, n: int, messages: list) -> dict:
    results = [{} for _ in range(n)]
    cpu, rss = server.cpu_seconds(), server.rss_mb()
    threads = [
        threading.Thread(target=client, args=(server.url, mode, messages[k % len(messages)], SECONDS, RATE[mode], r))
        for k, r in enumerate(results)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    cpu = server.cpu_seconds() - cpu
    latencies = np.concatenate([r["latencies"] for r in results]) * 1000 if results else np.zeros(1)
    processed = np.array([r.get("processed", 0) for r in results], float)
    sent = np.array([r["sent"] for r in results], float)
    return {
        "mode": mode,
        "clients": n,
        "sent per client per s": round(float(sent.mean() / SECONDS), 1),
        "processed per client per s": round(float(processed.mean() / SECONDS), 1),
        "dropped": f"{1 - processed.sum() / max(sent.sum(), 1):.1%}",
        "latency p50 ms": round(float(np.percentile(latencies, 50)), 1) if len(latencies) else None,
        "latency p95 ms": round(float(np.percentile(latencies, 95)), 1) if len(latencies) else None,
        "server CPU s per client-s": round(cpu / (n * SECONDS), 3),
        "errors": sum(r["errors"] for r in results),
        "RSS MB before -> after": f"{rss:.0f} -> {server.rss_mb():.0f}",
    }


def live_fps(run: Path, clips: list[Path]) -> float:
    """`signpose live` on the clips (as a file source: as fast as it goes), frames per second."""
    from signpose.recognise.recognizer import Recognizer

    rec, frames, start = Recognizer(run), 0, time.perf_counter()
    for clip in clips:
        session = rec.live(str(clip))
        for _ in session:
            pass
        frames += session.frames
    return frames / (time.perf_counter() - start)


def uploads(server: ServerProcess, run: Path, clips: list[Path]) -> dict:
    import httpx

    start = time.perf_counter()
    for clip in clips:
        files = {"video": (clip.name, clip.read_bytes(), "video/mp4")}
        assert httpx.post(f"{server.url}api/predict", files=files, timeout=300).status_code == 200
    api = time.perf_counter() - start
    start = time.perf_counter()
    cmd = [sys.executable, "-m", "signpose.cli", "predict", str(run), *map(str, clips), "--workers", "1", "--json"]
    subprocess.run(cmd, check=True, capture_output=True)
    cli = time.perf_counter() - start
    return {"clips": len(clips), "POST /api/predict s": round(api, 2), "signpose predict s": round(cli, 2)}


def main() -> None:
    logging.getLogger("lightning").setLevel(logging.ERROR)
    run, clips, landmarks, jpegs = prepare()
    server = ServerProcess(run)
    try:
        rows = [
            load(server, mode, n, {"landmarks": landmarks, "frames": jpegs}[mode]) for mode in RATE for n in CLIENTS
        ]
        report("serve_live", rows, {"seconds per client": SECONDS, "server workers": 2, "cores": os.cpu_count()})
        closed: dict = {}
        client(server.url, "frames", jpegs[0], SECONDS / 2, None, closed)
        served = closed.get("processed", 0) / closed["seconds"]
        live = live_fps(run, clips)
        report(
            "serve_vs_live",
            [
                {
                    "frames mode, one client, closed loop fps": round(served, 1),
                    "signpose live fps": round(live, 1),
                    "ratio": round(served / live, 2),
                    "latency p95 ms": round(float(np.percentile(np.array(closed["latencies"]) * 1000, 95)), 1),
                }
            ],
        )
        report("serve_uploads", [uploads(server, run, clips)])
    finally:
        server.close()


if __name__ == "__main__":
    main()
