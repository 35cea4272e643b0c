"""The web app's API and live WebSocket: the real app served by uvicorn on a free port,
driven over HTTP and WebSocket with real videos and landmarks (no mocks)."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import record_takes, running, shared, train_job_ended, video_frames

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
ws_client = pytest.importorskip("websockets.sync.client")

from signpose.data.dataset import Dataset  # noqa: E402
from signpose.data.keypoints import KeypointSequence  # noqa: E402
from signpose.recognise.recognizer import Recognizer  # noqa: E402
from signpose.serve.stream import landmark_messages  # noqa: E402


def clip(sign: str, n: int) -> Path:
    return shared("videos", "wlasl_mini", sign, f"{sign}_{n}.mp4")


def post_video(base: str, path: Path, name: str = "clip.mp4", annotate: bool = False, **kwargs):
    files = {"video": (name, path.read_bytes(), "video/mp4")}
    return httpx.post(f"{base}/api/predict", params={"annotate": int(annotate)}, files=files, timeout=120, **kwargs)


def receive_until(ws, kind: str, timeout: float = 60) -> list[dict]:
    """Messages up to and including the first of `kind`."""
    got, end = [], time.time() + timeout
    while time.time() < end:
        message = json.loads(ws.recv(timeout=end - time.time()))
        got.append(message)
        if message["type"] == kind:
            return got
    raise AssertionError(f"no {kind} message in {timeout}s: {got[-3:]}")


@pytest.mark.slow
def test_health_signs_and_page(small_run):
    from signpose.learn.evaluation import evaluate

    evaluate(small_run)  # metrics.json: the accuracy the page shows
    with running(small_run) as (base, _):
        health = httpx.get(f"{base}/api/health").json()
        assert health["status"] == "ok" and health["run"] == small_run.name and health["classes"] == 5
        assert health["model"] == "islr" and health["models"] == 1 and health["backend"] == "torch"
        assert health["version"]
        mediapipe = health["threads"]["pools"]["mediapipe"]  # started as work came (one graph made early)
        assert 1 <= mediapipe["threads"] <= mediapipe["cap"] == health["workers"]
        accuracy = json.loads((small_run / "metrics.json").read_text())["accuracy"]
        assert health["accuracy"]["accuracy"] == accuracy and health["accuracy"]["signer"] == "signer3"
        response = httpx.get(f"{base}/api/signs")
        assert "مرحبا hello".encode() in response.content  # UTF-8 on the wire, not \\u escapes
        assert response.json()[0] == {"sign_id": "1", "sign": "مرحبا hello"}
        page = httpx.get(f"{base}/")
        # relative URLs: the same page works at any path (and as an exported static site)
        assert page.status_code == 200 and 'id="start"' in page.text and 'src="static/app.js"' in page.text
        for asset in ("/static/app.js", "/static/device.js", "/static/style.css", "/font.ttf"):
            assert httpx.get(f"{base}{asset}").status_code == 200, asset
        if "landmarks" in health["modes"]:  # MediaPipe for the browser, served here, not from a CDN
            assert httpx.get(f"{base}/vendor/holistic/holistic.js").status_code == 200


def test_the_thread_census_counts_each_pool_apart_and_every_thread():
    """/api/health's threads: a pool's threads by its name (within its cap), other Python
    threads apart, the OS's count less the Python ones as native, and every thread by the
    OS's name. In a fresh interpreter: another test's threads ending would move the counts."""
    import subprocess
    import sys

    script = """
import json, threading
from concurrent.futures import ThreadPoolExecutor
from signpose.serve.server import thread_census
base, hold = thread_census(2), threading.Event()
plain = threading.Thread(target=hold.wait, name="someone's thread")
ours, loops = ThreadPoolExecutor(2, thread_name_prefix="mediapipe"), ThreadPoolExecutor(3, thread_name_prefix="asyncio")
with ours, loops:
    for _ in range(2):
        ours.submit(hold.wait)  # busy, so each submit starts a thread
    for _ in range(3):
        loops.submit(hold.wait)
    plain.start()
    census = thread_census(2)
    hold.set()
print(json.dumps([base, census]))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    base, census = json.loads(done.stdout)
    assert census["pools"]["mediapipe"] == {"threads": base["pools"]["mediapipe"]["threads"] + 2, "cap": 2}
    assert census["pools"]["asyncio"]["threads"] == base["pools"]["asyncio"]["threads"] + 3
    assert census["pools"]["anyio"] == base["pools"]["anyio"]
    assert census["python_other"] == base["python_other"] + 1
    if census["os_names"] is not None:  # Linux: six more threads, none of them native
        assert sum(census["os_names"].values()) == sum(base["os_names"].values()) + 6
        assert census["native"] == base["native"] >= 0


def test_the_page_gets_what_it_needs_to_classify_on_the_device(small_run):
    """/api/device describes the first stage and the signs; /api/model.onnx is the run's
    graph (ONNX Runtime gives the run's probabilities); ONNX Runtime Web is served here."""
    import onnxruntime as ort

    from signpose.recognise.recognizer import Recognizer
    from signpose.serve.site import ORT_WEB

    rec = Recognizer.from_run(small_run)
    with running(small_run, threshold=0.4) as (base, _):
        spec = httpx.get(f"{base}/api/device").json()
        assert spec["classes"] == rec.classes and spec["names"][0] == "مرحبا hello"
        assert spec["live"]["threshold"] == 0.4 and spec["fps"] == 30
        assert spec["features"]["frames"] == rec.pipeline.config.frames and len(spec["layout"]["mirror"]) == 543
        model = httpx.get(f"{base}/api/model.onnx", timeout=120)
        assert model.status_code == 200 and model.headers["content-type"] == "application/octet-stream"
        assert httpx.get(f"{base}/api/model.onnx").content == model.content  # exported once
        assert httpx.get(f"{base}/api/device?run=nope").status_code == 404
        if (ORT_WEB / "ort.wasm.min.js").is_file():
            assert httpx.get(f"{base}/vendor/ort/ort.wasm.min.js").status_code == 200
    session = ort.InferenceSession(model.content)
    pts = np.random.default_rng(1).normal(size=(2, *spec["inputs"]["points"][1:])).astype(np.float32)
    mask = np.ones(pts.shape[:3], bool)
    (logits,) = session.run(None, {"points": pts, "mask": mask})
    probs = np.exp(logits - logits.max(1, keepdims=True))
    np.testing.assert_allclose(probs / probs.sum(1, keepdims=True), rec.probabilities(pts, mask), atol=1e-5)


def test_predict_an_uploaded_real_video_and_its_annotated_playback(wlasl_run):
    video = clip("mother", 1)
    with running(wlasl_run) as (base, server):
        response = post_video(base, video, annotate=True)
        assert response.status_code == 200, response.text
        result = response.json()
        assert result["status"] == "ok" and result["frames"] == video_frames(video)[0]
        assert result["top"][0]["sign"] in ("brother", "mother") and len(result["top"]) == 2
        assert sum(t["probability"] for t in result["top"]) == pytest.approx(1, abs=1e-3)
        assert 0.3 < result["hands_share"] <= 1
        assert {"decode", "mediapipe", "classify", "total"} <= set(result["timing"])
        # the signs one after another, as `signpose transcribe` reads the same landmarks
        transcript = result["transcript"]
        assert transcript["duration"] == pytest.approx(result["frames"] / 25, abs=0.05)
        assert transcript["text"] == " ".join(s["sign"] for s in transcript["signs"])
        assert all(0 <= s["start"] < s["end"] <= transcript["duration"] + 1e-6 for s in transcript["signs"])
        annotated = httpx.get(base + result["annotated_url"], timeout=30)
        assert annotated.status_code == 200 and annotated.headers["content-type"] == "video/webm"
        played = Path(server.tmp) / "played.webm"
        played.write_bytes(annotated.content)
        assert video_frames(played)[0] == result["frames"]  # browsers play VP8 WebM
        assert httpx.get(f"{base}/api/annotated/nothing.webm").status_code == 404


def test_bad_uploads_get_a_json_error_and_leave_nothing_behind(wlasl_run, tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("this is a text file with a video's name")
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with running(wlasl_run, max_upload_mb=0.05) as (base, server):
        cases = {
            "not a video": (post_video(base, text), 415, "not a video"),
            "empty": (post_video(base, empty), 400, "empty"),
            "too large": (post_video(base, clip("mother", 1)), 413, "larger than 0.05 MB"),
            "no file field": (httpx.post(f"{base}/api/predict", data={"x": "1"}), 400, "field 'video'"),
            "not multipart": (httpx.post(f"{base}/api/predict", content=b"{}"), 400, "multipart"),
        }
        for name, (response, status, words) in cases.items():
            assert response.status_code == status, (name, response.text)
            assert words in response.json()["error"], name
        assert list(Path(server.tmp).iterdir()) == []  # every upload's folder was removed
        assert server.slots == server.config.workers


def test_predicts_at_once_all_answer_and_a_full_pool_says_retry(wlasl_run):
    videos = [clip("mother", 1), clip("brother", 1), clip("mother", 2), clip("brother", 2)]
    with running(wlasl_run, workers=4) as (base, _):
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda v: post_video(base, v), videos))
        assert [a.status_code for a in answers] == [200] * 4
        assert all(a.json()["top"][0]["sign"] in ("brother", "mother") for a in answers)
    with running(wlasl_run, workers=1) as (base, server):
        assert server.try_slot()  # the only MediaPipe slot, held: the pool is full
        try:
            busy = post_video(base, videos[0])
        finally:
            server.free_slot()
        assert busy.status_code == 503, busy.text
        assert busy.headers["retry-after"] == "2" and "busy" in busy.json()["error"]
        assert post_video(base, videos[0]).status_code == 200  # free again: answered
        assert server.slots == 1


def test_a_live_stream_ended_by_the_client_gets_its_open_sign_and_the_decoders_commits(wlasl_run, wlasl_extracted):
    """Segment mode (the default) over the WebSocket: the sign still open when the client
    sends end is decided then, and the commits are what the decoder gives the same points."""
    from signpose.recognise.decoder import LiveConfig
    from signpose.recognise.recognizer import Recognizer
    from signpose.recognise.transcribe import decode_sequence

    ds = Dataset(wlasl_extracted)
    seq = ds.read(ds.rows[ds.rows["sample"] == "mother/mother_1"].iloc[0])
    with (
        running(wlasl_run, threshold=0.3) as (base, _),
        ws_client.connect(base.replace("http", "ws") + "/ws/live?mode=landmarks") as ws,
    ):
        assert json.loads(ws.recv(timeout=10))["live"]["mode"] == "segment"
        ws.send(json.dumps({"type": "config", "fps": seq.fps}))
        receive_until(ws, "config")
        messages = list(landmark_messages(seq))
        for message in messages:
            ws.send(json.dumps(message))
        ws.send(json.dumps({"type": "end"}))
        got = receive_until(ws, "end")
    assert got[-1]["frames"] == len(messages)
    served = [(m["sign"], m["start_frame"], m["end_frame"]) for m in got if m["type"] == "commit"]
    rec = Recognizer.from_run(wlasl_run)
    events = decode_sequence(rec, seq, LiveConfig(threshold=0.3))
    expected = [(e["sign"], e["start_frame"], e["end_frame"]) for e in events if e["type"] == "commit"]
    assert served and served == expected


def test_live_landmarks_are_classified_and_committed(wlasl_run, wlasl_extracted):
    ds = Dataset(wlasl_extracted)
    seq = ds.read(ds.rows[ds.rows["sample"] == "mother/mother_1"].iloc[0])
    expected = None
    url = "/ws/live?mode=landmarks"
    with (
        running(wlasl_run, mode="hold", window=30, stride=5, hold=1) as (base, server),
        ws_client.connect(base.replace("http", "ws") + url) as ws,
    ):
        hello = json.loads(ws.recv(timeout=10))
        assert hello["type"] == "hello" and hello["mode"] == "landmarks"
        ws.send(json.dumps({"type": "config", "threshold": 0.0, "fps": 25}))
        reply = json.loads(ws.recv(timeout=10))
        assert reply["type"] == "config" and reply["threshold"] == 0.0 and reply["fps"] == 25
        for message in landmark_messages(seq):
            ws.send(json.dumps(message))
        got = receive_until(ws, "commit")
        prediction = next(m for m in got if m["type"] == "prediction")
        assert prediction["frame"] == 29 and prediction["hands"]  # numbered from 0, as `signpose live` does
        assert prediction["top"][0]["sign"] in ("brother", "mother")
        expected = prediction["top"][0]["sign"]
        assert got[-1]["sign"] == expected and got[-1]["processed"] >= 30
        assert got[-1]["time"] == pytest.approx(got[-1]["frame"] / 25)  # the client's frame rate
        assert server.live_clients == 1
    # the classifier saw what `predict` sees: the same window from the stored sequence
    first = KeypointSequence(seq.xyz[:30], seq.present[:30], seq.fps, seq.width, seq.height)
    assert Recognizer(wlasl_run).predict_sequence(first).top[0][1] == expected


def test_live_messages_are_validated_and_rate_limited(wlasl_run):
    good = {"type": "landmarks", "w": 640, "h": 480, "parts": {"pose": None}}
    bad = {
        "not JSON": "{oops",
        "a list": "[1, 2]",
        "wrong type": json.dumps({"type": "video"}),
        "short hand": json.dumps({**good, "parts": {"left_hand": [0.5] * 10}}),
        "NaN": json.dumps({**good, "parts": {"right_hand": [float("nan")] * 63}}),
        "text points": json.dumps({**good, "parts": {"right_hand": ["a"] * 63}}),
        "unknown part": json.dumps({**good, "parts": {"tail": [0.0] * 3}}),
        "no size": json.dumps({**good, "w": 0}),
        "bad threshold": json.dumps({"type": "config", "threshold": 7}),
        "bad fps": json.dumps({"type": "config", "fps": 0}),
    }
    with running(wlasl_run, max_live_fps=20) as (base, server):
        with ws_client.connect(base.replace("http", "ws") + "/ws/live") as ws:
            receive_until(ws, "hello")
            for name, text in bad.items():
                ws.send(text)
                reply = json.loads(ws.recv(timeout=10))
                assert reply["type"] == "error" and reply["message"], name
            ws.send(bad["short hand"])
            assert "left_hand: expected 63 numbers (21 points x 3)" in json.loads(ws.recv(timeout=10))["message"]
            for _ in range(200):  # ten seconds' worth at once: the bucket lets one second's through
                ws.send(json.dumps(good))
            ws.send(json.dumps({"type": "config", "threshold": 0.5}))
            reply = receive_until(ws, "config")[-1]
            assert reply["threshold"] == 0.5 and reply["processed"] <= 40 and reply["dropped"] >= 160
        with ws_client.connect(base.replace("http", "ws") + "/ws/live") as ws:  # too many errors: closed
            receive_until(ws, "hello")
            with pytest.raises(Exception, match="too many invalid messages"):
                for _ in range(30):
                    ws.send("{oops")
                    ws.recv(timeout=10)
        deadline = time.time() + 10
        while server.live_clients and time.time() < deadline:
            time.sleep(0.05)
        assert server.live_clients == 0


def test_live_frames_mode_runs_mediapipe_on_the_server_and_frees_it_on_disconnect(wlasl_run, wlasl_extracted):
    video = clip("mother", 1)
    cap = cv2.VideoCapture(str(video))
    jpegs = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        jpegs.append(cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes())
    with running(wlasl_run, mode="hold", window=30, stride=5, hold=1, threshold=0.0) as (base, server):
        with ws_client.connect(base.replace("http", "ws") + "/ws/live?mode=frames") as ws:
            receive_until(ws, "hello")
            drawn, predictions = [], []
            for jpeg in jpegs[:40]:  # one at a time: nothing dropped, every frame through MediaPipe
                ws.send(jpeg)
                got = receive_until(ws, "landmarks")
                drawn.append(got[-1])
                predictions += [m for m in got if m["type"] == "prediction"]
            predictions += [m for m in receive_until(ws, "prediction") if m["type"] == "prediction"]
            assert len(drawn) == 40 and drawn[-1]["processed"] == 40 and drawn[-1]["dropped"] == 0
            hands = [m for m in drawn if m["parts"]["left_hand"] or m["parts"]["right_hand"]]
            assert len(hands) > 20 and len(drawn[0]["parts"]["pose"]) == 33 * 3
            # the first window agrees with the same frames through `extract` (the other mode's points)
            ds = Dataset(wlasl_extracted)
            seq = ds.read(ds.rows[ds.rows["sample"] == "mother/mother_1"].iloc[0])
            window = KeypointSequence(seq.xyz[:30], seq.present[:30], seq.fps, seq.width, seq.height)
            stored = Recognizer(wlasl_run).predict_sequence(window, top_k=2).top
            assert predictions[0]["frame"] == 29 and predictions[0]["top"][0]["sign"] == stored[0][1]
            assert predictions[0]["top"][0]["probability"] == pytest.approx(stored[0][2], abs=0.05)
            for jpeg in jpegs[:20]:  # sent faster than MediaPipe runs: dropped, not queued
                ws.send(jpeg)
            ws.send(json.dumps({"type": "config", "threshold": 0.0}))
            counts = receive_until(ws, "config")[-1]
            assert counts["received"] == 61 and counts["dropped"] > 0
            ws.send(b"not a jpeg")  # a bad frame is an error message, not the end
            assert "JPEG" in receive_until(ws, "error")[-1]["message"]
        deadline = time.time() + 20
        while (server.live_clients or server.slots != server.config.workers) and time.time() < deadline:
            time.sleep(0.1)
        assert server.live_clients == 0 and server.slots == server.config.workers


def test_frames_mode_streams_are_bounded(wlasl_run):
    with running(wlasl_run, max_frame_streams=0) as (base, server):
        with ws_client.connect(base.replace("http", "ws") + "/ws/live?mode=frames") as ws:
            assert "full for frames mode" in json.loads(ws.recv(timeout=10))["message"]
            with pytest.raises(Exception, match="1013"):
                ws.recv(timeout=10)
        with ws_client.connect(base.replace("http", "ws") + "/ws/live?mode=landmarks") as ws:
            assert json.loads(ws.recv(timeout=10))["type"] == "hello"  # landmarks mode still open


def test_serve_on_a_port_in_use_is_one_line(wlasl_run):
    import socket
    import subprocess

    from conftest import cli

    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        done = subprocess.run(cli("serve", wlasl_run, "--port", port), capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        f"signpose: error: cannot listen on 127.0.0.1:{port} (Address already in use); choose another --port"
    ]


def test_every_error_has_one_shape_and_the_api_documents_itself_offline(small_run):
    with running(small_run) as (base, _):
        for response in (
            httpx.get(f"{base}/no/such/page"),  # FastAPI's 404
            httpx.get(f"{base}/api/predict"),  # 405
            httpx.post(f"{base}/api/predict?annotate=maybe", files={"video": ("a.mp4", b"x")}),  # 422
            httpx.post(f"{base}/api/predict", content=b"{}"),  # the app's own 400
        ):
            body = response.json()
            assert response.status_code >= 400 and list(body) == ["error"] and body["error"], response.text
        schema = httpx.get(f"{base}/openapi.json").json()
        body = schema["paths"]["/api/predict"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
        assert body["properties"]["video"]["format"] == "binary" and body["required"] == ["video"]
        # the replies as they are (the docs said 200 "string" and 422 {"detail"}), no page routes
        replies = schema["paths"]["/api/predict"]["post"]["responses"]
        shape = {
            code: r["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1] for code, r in replies.items()
        }
        assert shape.pop("200") == "PredictReply" and set(shape) >= {"400", "408", "413", "415", "422", "503", "507"}
        assert set(shape.values()) == {"ErrorReply"}
        assert {"top", "transcript", "hands_share"} <= set(
            schema["components"]["schemas"]["PredictReply"]["properties"]
        )
        assert "/" not in schema["paths"] and "/font.ttf" not in schema["paths"]
        assert all(op.get("description") for path in schema["paths"].values() for op in path.values())
        docs = httpx.get(f"{base}/docs").text
        assert "/vendor/swagger-ui/swagger-ui-bundle.js" in docs and "cdn" not in docs.lower()
        bundle = httpx.get(f"{base}/vendor/swagger-ui/swagger-ui-bundle.js")
        assert bundle.status_code == 200 and "SwaggerUIBundle" in bundle.text[:200_000]
        health = httpx.get(f"{base}/api/health").json()
        protocol = httpx.get(base + health["protocol"]).json()
        assert set(protocol["client"]) >= {"landmarks", "frame", "config", "reset"}
        assert set(protocol["server"]) >= {"hello", "prediction", "commit", "error"}
        assert protocol["client"]["landmarks"]["parts"]["left_hand"].startswith("63 numbers")


def test_several_runs_are_served_and_each_request_picks_one(small_run, wlasl_run):
    """`serve RUN1 RUN2`: /api/health lists them, ?run= picks one on every route (the first
    is the default), and a run not served is a 404 in the one error shape."""
    with running([small_run, wlasl_run]) as (base, _):
        health = httpx.get(f"{base}/api/health").json()
        assert health["runs"] == [small_run.name, wlasl_run.name] and health["run"] == small_run.name
        other = httpx.get(f"{base}/api/health", params={"run": wlasl_run.name}).json()
        assert other["run"] == wlasl_run.name and other["classes"] == 2 and health["classes"] == 5
        signs = httpx.get(f"{base}/api/signs", params={"run": wlasl_run.name}).json()
        assert [s["sign"] for s in signs] == ["brother", "mother"]
        files = {"video": ("clip.mp4", clip("mother", 1).read_bytes(), "video/mp4")}
        answer = httpx.post(f"{base}/api/predict", params={"run": wlasl_run.name}, files=files, timeout=120)
        assert answer.status_code == 200 and {t["sign"] for t in answer.json()["top"]} <= {"brother", "mother"}
        missing = httpx.get(f"{base}/api/signs", params={"run": "nope"})
        assert missing.status_code == 404 and "runs: " in missing.json()["error"]
        with ws_client.connect(base.replace("http", "ws") + f"/ws/live?run={wlasl_run.name}") as ws:
            assert json.loads(ws.recv(timeout=10))["type"] == "hello"
        with ws_client.connect(base.replace("http", "ws") + "/ws/live?run=nope") as ws:
            assert "no run 'nope'" in json.loads(ws.recv(timeout=10))["message"]


def test_the_record_view_writes_takes_into_a_dataset_and_deletes_them(small_run, wlasl_extracted, tmp_path):
    """serve --dataset: a take of landmarks becomes a sample whose points are what was sent;
    takes are numbered per signer and sign (a reload resumes the count); delete removes one;
    bad names and a take without hands are one-line refusals."""
    from signpose.serve.stream import landmarks_to_arrays

    ds = Dataset(wlasl_extracted)
    seq = ds.read(ds.rows[ds.rows["sample"] == "mother/mother_1"].iloc[0])
    frames = [{k: m[k] for k in ("w", "h", "parts")} for m in landmark_messages(seq)][:20]
    out = tmp_path / "mine"
    with running(small_run, dataset=str(out)) as (base, _):
        assert httpx.get(f"{base}/api/health").json()["recording"] is True
        take = {"signer": "me", "sign": "أم mother", "fps": 30, "frames": frames}
        first = httpx.post(f"{base}/api/record/takes", json=take, timeout=60)
        assert first.status_code == 201, first.text
        assert first.json()["sample"] == "me/أم mother/take-001" and first.json()["frames"] == 20
        assert httpx.post(f"{base}/api/record/takes", json=take, timeout=60).json()["take"] == 2
        listed = httpx.get(f"{base}/api/record").json()
        assert [t["take"] for t in listed["takes"]] == [1, 2] and listed["takes"][0]["sign"] == "أم mother"
        replay = httpx.get(f"{base}/api/record/frames", params={"sample": "me/أم mother/take-001"}).json()
        assert len(replay["frames"]) == 20 and replay["w"] == seq.width
        for bad, word in (({**take, "sign": "a/b"}, "--signs"), ({**take, "signer": ""}, "--signer"),
                          ({**take, "fps": True}, "fps"), ({**take, "frames": frames[:1]}, "frames")):  # fmt: skip
            refused = httpx.post(f"{base}/api/record/takes", json=bad)
            assert refused.status_code == 422 and word in refused.json()["error"], refused.text
        empty = [{**f, "parts": {**f["parts"], "left_hand": None, "right_hand": None}} for f in frames]
        refused = httpx.post(f"{base}/api/record/takes", json={**take, "frames": empty})
        assert refused.status_code == 422 and "no hand" in refused.json()["error"]
        gone = httpx.delete(f"{base}/api/record/takes", params={"sample": "me/أم mother/take-002"})
        assert gone.status_code == 200
        assert httpx.delete(f"{base}/api/record/takes", params={"sample": "me/أم mother/take-002"}).status_code == 404
        assert httpx.delete(f"{base}/api/record/takes", params={"sample": "../x"}).status_code == 400
    mine = Dataset(out)
    assert list(mine.rows["sample"]) == ["me/أم mother/take-001"] and len(list((out / "poses").rglob("*.pose"))) == 1
    written = mine.read(mine.rows.iloc[0])
    sent = [landmarks_to_arrays(f) for f in frames]
    np.testing.assert_allclose(written.xyz, np.stack([a[0] for a in sent]), atol=1e-3)  # the points sent
    np.testing.assert_array_equal(written.present, np.stack([a[1] for a in sent]))
    with running(small_run, dataset=str(out)) as (base, _):  # a restart resumes the count
        again = httpx.post(f"{base}/api/record/takes", json=take, timeout=60)
        assert again.json()["take"] == 2
    with running(small_run) as (base, _):  # no --dataset: every Record route says how to get one
        for reply in (httpx.get(f"{base}/api/record"), httpx.get(f"{base}/api/record/frames", params={"sample": "x"})):
            assert reply.status_code == 404 and "records no takes; start it with --dataset DIR" in reply.json()["error"]


def test_the_train_button_trains_one_job_at_a_time_and_serves_the_new_run(small_run, wlasl_extracted, tmp_path):
    """serve --dataset: training on the recorded takes runs as its own process with its
    progress; a second job is refused while one runs; the finished run is served and is an
    ordinary run folder; a job can be cancelled."""
    out = tmp_path / "mine"
    with running(small_run, dataset=str(out)) as (base, _):
        assert "record takes" in httpx.post(f"{base}/api/train", json={}).json()["error"]
        record_takes(base, wlasl_extracted)  # 2 signs x 3 takes of one person
        assert httpx.post(f"{base}/api/train", json={"epochs": 0}).status_code == 422
        started = httpx.post(f"{base}/api/train", json={"epochs": 2})
        assert started.status_code == 202 and started.json()["state"] == "running", started.text
        assert "held-out takes" in started.json()["split"]  # one signer: said so
        again = httpx.post(f"{base}/api/train", json={"epochs": 2})
        assert again.status_code == 409 and "running already" in again.json()["error"]
        state = train_job_ended(base)
        assert state["state"] == "done", state
        name = state["run"]
        health = httpx.get(f"{base}/api/health", params={"run": name}).json()
        assert health["run"] == name and health["classes"] == 2 and name in health["runs"]
        assert {s["sign"] for s in httpx.get(f"{base}/api/signs", params={"run": name}).json()} == {"brother", "mother"}
        assert (tmp_path / "mine-runs" / "run-1" / "run.json").is_file()
        second = httpx.post(f"{base}/api/train", json={"epochs": 200}).json()
        assert second["run"] == "run-2"
        cancelled = httpx.delete(f"{base}/api/train")
        assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
        assert httpx.delete(f"{base}/api/train").status_code == 409
    with running(small_run) as (base, _):  # no --dataset: the Train routes say how to get one
        for reply in (httpx.get(f"{base}/api/train"), httpx.delete(f"{base}/api/train")):
            assert reply.status_code == 404 and "trains nothing; start it with --dataset DIR" in reply.json()["error"]
