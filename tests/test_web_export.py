"""The page on the signer's device: `export --web` (a static site with the model inside),
and the page's own stage 1 and stream decoder (static/device.js) held to the Python on the
same recorded landmark stream, in a real browser with ONNX Runtime Web."""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import subprocess
import threading
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from conftest import LIVE_QUICK, cli, copy_run, free_port, no_errors, shot, wait_count

from signpose.data.dataset import Dataset
from signpose.data.keypoints import KeypointSequence
from signpose.data.schema import LEFT_HAND, RIGHT_HAND
from signpose.recognise.decoder import LiveConfig, signing_frames
from signpose.recognise.recognizer import Recognizer
from signpose.serve.site import ORT_WEB, export_site
from signpose.serve.stream import landmark_messages, landmarks_to_arrays

needs_assets = pytest.mark.skipif(
    not (ORT_WEB / "ort.wasm.min.js").is_file(), reason="ONNX Runtime Web is not installed (make web)"
)


def stream_of(ds_path: Path, samples: list[str], rest: int = 20) -> KeypointSequence:
    """Real clips one after another with `rest` frames of nobody between them (hands down)."""
    ds = Dataset(ds_path)
    seqs = [ds.read(ds.rows[ds.rows["sample"] == s].iloc[0]) for s in samples]
    xyz, present = [], []
    for seq in seqs:
        xyz += [seq.xyz, np.zeros((rest, *seq.xyz.shape[1:]), np.float32)]
        present += [seq.present, np.zeros((rest, seq.present.shape[1]), bool)]
    first = seqs[0]
    return KeypointSequence(np.concatenate(xyz), np.concatenate(present), first.fps, first.width, first.height)


def run_cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run(cli(*args), capture_output=True, text=True, timeout=600)


def python_events(run: Path, messages: list[dict], live: LiveConfig) -> list[dict]:
    """What the server's decoder gives for these messages (the graph through ONNX Runtime)."""
    rec = Recognizer.from_run(run, backend="onnx")
    decoder = rec.decoder(live, 30.0, top_k=5)
    events = []
    for message in messages:
        events += decoder.push(*landmarks_to_arrays(message))
    return events + decoder.finish()


@contextmanager
def static_server(root: Path):
    """Any static file server: Python's own, as the README suggests."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@needs_assets
def test_export_web_writes_a_static_site_and_refuses_in_one_line(wlasl_run, tmp_path):
    site = tmp_path / "site"
    out = run_cli("export", wlasl_run, "--web", site, "--threshold", "0.3")
    assert out.returncode == 0, out.stderr
    assert "web site" in out.stdout and "python -m http.server" in out.stdout
    for name in ("index.html", "static/app.js", "static/device.js", "model.onnx", "model.json", "sw.js",
                 "manifest.webmanifest", "vendor/holistic/holistic.js", "vendor/ort/ort.wasm.min.js"):  # fmt: skip
        assert (site / name).is_file(), name
    # of MediaPipe's three pose models, only the one the run's extraction used (full)
    assert sorted(p.name for p in site.glob("vendor/holistic/*.tflite")) == ["pose_landmark_full.tflite"]
    page = (site / "index.html").read_text("utf-8")
    assert 'name="signpose-site"' in page and 'src="/' not in page and 'href="/' not in page  # relative: any path
    spec = json.loads((site / "model.json").read_text("utf-8"))
    rec = Recognizer.from_run(wlasl_run)
    assert spec["classes"] == rec.classes and spec["names"] == rec.names and spec["live"]["threshold"] == 0.3
    assert spec["points"] == [int(i) for i in rec.pipeline.set.points] and len(spec["layout"]["mirror"]) == 543
    worker = (site / "sw.js").read_text("utf-8")
    assert '"model.onnx"' in worker and '"vendor/ort/ort-wasm-simd-threaded.wasm"' in worker
    # the exported graph is the run's: ONNX Runtime gives the torch model's probabilities
    import onnxruntime as ort

    pts = np.random.default_rng(0).normal(size=(1, *spec["inputs"]["points"][1:])).astype(np.float32)
    mask = np.ones(pts.shape[:3], bool)
    (logits,) = ort.InferenceSession(str(site / "model.onnx")).run(None, {"points": pts, "mask": mask})
    torch_probs = rec.probabilities(pts, mask)
    np.testing.assert_allclose(np.exp(logits) / np.exp(logits).sum(-1, keepdims=True), torch_probs, atol=1e-5)
    # a re-export replaces the site; a folder of other files is refused in one line
    assert run_cli("export", wlasl_run, "--web", site).returncode == 0
    assert json.loads((site / "model.json").read_text("utf-8"))["live"]["threshold"] == 0.5
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    refused = run_cli("export", wlasl_run, "--web", other)
    assert refused.returncode == 2 and "not a site signpose exported" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert (other / "notes.txt").read_text() == "mine" and len(list(other.iterdir())) == 1
    for bad in (["--web", tmp_path / "x", "--out", tmp_path / "m.onnx"], ["--threshold", "0.3"]):
        refused = run_cli("export", wlasl_run, *bad)
        assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr


@pytest.fixture(scope="module")
def site(tmp_path_factory, wlasl_run):
    if not (ORT_WEB / "ort.wasm.min.js").is_file():
        pytest.skip("ONNX Runtime Web is not installed (make web)")
    run = copy_run(wlasl_run, tmp_path_factory.mktemp("run") / "run")
    Recognizer.from_run(run).export_onnx()  # the Python side reads the same graph through ONNX Runtime
    out = export_site(run, tmp_path_factory.mktemp("site") / "site")
    return run, Path(out["out"])


DECODE_IN_PAGE = """async ([messages, live]) => {
  const { signs, spec } = await window.signpose.loadDevice();
  const stream = new SignposeDevice.DeviceStream(signs, { ...spec, live }, 30);
  const events = [];
  for (const m of messages) events.push(...(await stream.push(m.parts, m.w, m.h)));
  events.push(...(await stream.finish()));
  return events;
}"""


@pytest.mark.browser
@pytest.mark.parametrize(
    "live",
    [
        LiveConfig(threshold=0.3),
        LiveConfig(threshold=0.3, arms=False),
        LiveConfig(mode="hold", window=8, stride=2, hold=2, threshold=0.3),
    ],
    ids=["segment", "segment-hands-only", "hold"],
)
def test_the_page_decodes_a_stream_on_the_device_as_python_does(browser, site, wlasl_extracted, live):
    """Parity: the same recorded landmark stream (two real signs, rest between them) gives
    the same readings and commits in the browser (device.js + ONNX Runtime Web) as in
    Python (the server's decoder + ONNX Runtime); probabilities within 1e-4. In segment
    mode the hand model loses the first sign's hands for 0.5 s while the arms stay up."""
    run, root = site
    seq = stream_of(wlasl_extracted, ["mother/mother_1", "brother/brother_1"])
    if live.mode == "segment":
        up = np.flatnonzero(signing_frames(seq.xyz, seq.present, live.rest_line))
        lost = slice(up[0] + 8, up[0] + 23)
        seq.present[lost, LEFT_HAND.slice] = seq.present[lost, RIGHT_HAND.slice] = False
        assert signing_frames(seq.xyz[lost], seq.present[lost], live.rest_line, arms=True).any()
    messages = landmark_messages(seq)
    expected = python_events(run, messages, live)
    with static_server(root) as base:
        page = browser(root / "index.html")  # no camera needed: the stream is fed to the decoder
        page.goto(f"{base}/")
        page.wait_for_selector("#vocab li")
        got = page.evaluate(DECODE_IN_PAGE, [messages, live.model_dump()])
    commits = [e for e in expected if e["type"] == "commit"]
    assert commits, "the stream should commit signs"
    for mine, theirs in zip(got, expected, strict=False):
        for key in ("type", "frame", "start_frame", "end_frame", "sign_id", "sign", "status", "hands"):
            assert mine.get(key) == theirs.get(key), (key, mine, theirs)
        if "probability" in theirs:
            assert abs(mine["probability"] - theirs["probability"]) < 1e-4
        for a, b in zip(mine.get("top", []), theirs.get("top", []), strict=True):
            assert a["sign_id"] == b["sign_id"] and abs(a["probability"] - b["probability"]) < 1e-4, (mine, theirs)
    assert len(got) == len(expected)


STAGE1_IN_PAGE = """async ([messages, first, last]) => {
  const { signs, spec } = await window.signpose.loadDevice();
  const frames = messages.slice(first, last + 1)
    .map((m) => SignposeDevice.frameFromParts(m.parts, m.w, m.h, spec.layout));
  const { points, mask } = SignposeDevice.sequencePoints(frames, messages[0].w, messages[0].h, spec);
  const probs = await signs.probabilities(points, mask);
  return { points: Array.from(points), mask: Array.from(mask), probs };
}"""


@pytest.mark.browser
def test_the_pages_first_stage_and_probabilities_equal_pythons(browser, site, wlasl_extracted):
    """A window (with gaps and a left-leading hand mirrored as the run's rule says): the
    page's prepared points equal `FeaturePipeline.points` (1e-5) and ONNX Runtime Web's
    probabilities equal ONNX Runtime's in Python on them (1e-4)."""
    run, root = site
    seq = stream_of(wlasl_extracted, ["brother/brother_1"], rest=0)
    messages = landmark_messages(seq)
    rec = Recognizer.from_run(run, backend="onnx")
    with static_server(root) as base:
        page = browser(root / "index.html")
        page.goto(f"{base}/")
        page.wait_for_selector("#vocab li")
        for first, last in ((0, len(messages) - 1), (3, 17)):
            got = page.evaluate(STAGE1_IN_PAGE, [messages, first, last])
            arrays = [landmarks_to_arrays(m) for m in messages[first : last + 1]]
            window = KeypointSequence(
                np.stack([a[0] for a in arrays]), np.stack([a[1] for a in arrays]), 30.0, arrays[0][2], arrays[0][3]
            )
            pts, mask = rec.pipeline.points(window)
            np.testing.assert_array_equal(np.array(got["mask"], bool).reshape(mask.shape), mask)
            np.testing.assert_allclose(np.array(got["points"]).reshape(pts.shape), pts, atol=1e-5)
            expected = rec.probabilities(pts[None], mask[None])[0]
            np.testing.assert_allclose(got["probs"], expected, atol=1e-4)


@pytest.mark.browser
def test_the_exported_site_recognises_from_the_camera_with_no_server_then_offline(
    browser, wlasl_run, camera_clip, tmp_path
):
    """The site on a plain static file server: the camera's signs are committed with no
    signpose server; after the first visit the service worker serves it with the network
    off, and it still recognises."""
    root = Path(export_site(wlasl_run, tmp_path / "site", LiveConfig(**LIVE_QUICK))["out"])
    with static_server(root) as base:
        page = browser(camera_clip)
        page.goto(f"{base}/?mode=landmarks")
        page.wait_for_selector("#vocab li")
        assert page.is_hidden("#upload") and page.text_content("#conn") == "on this device"
        # the worker has cached the whole site (MediaPipe, ONNX Runtime, the model)
        page.wait_for_function("navigator.serviceWorker.controller !== null || (location.reload(), false)",
                               timeout=120_000)  # fmt: skip
        page.context.set_offline(True)
    page.reload()
    page.wait_for_selector("#vocab li")
    page.click("#start")
    wait_count(page, "commits", 1)
    assert page.text_content("#sentence .word span").strip() in ("brother", "mother")
    assert "classified on this device" in page.text_content("#mode")
    shot(page, "site-offline-sign-recognised")
    no_errors(page)


@pytest.mark.browser
def test_the_site_works_from_a_sub_path_and_a_missing_or_damaged_model_is_said_in_words(browser, site, tmp_path):
    _, root = site
    www = tmp_path / "www"
    here = www / "apps" / "signs"
    shutil.copytree(root, here)
    classes = len(json.loads((root / "model.json").read_text("utf-8"))["classes"])
    load = "window.signpose.loadDevice().then((d) => d.spec.classes.length, (e) => e.message)"
    with static_server(www) as base:
        page = browser()
        page.goto(f"{base}/apps/signs/")
        page.wait_for_selector("#vocab li")
        assert page.evaluate(load) == classes  # the model runs from the sub-path
        no_errors(page)
        (here / "model.onnx").write_bytes(b"not a model at all")
        page = browser()  # a fresh browser: nothing cached
        page.goto(f"{base}/apps/signs/?mode=landmarks")
        page.wait_for_selector("#vocab li")
        page.click("#start")
        page.wait_for_function("document.getElementById('status').textContent.includes('damaged')", timeout=300_000)
        status = page.text_content("#status")
        assert "model is damaged" in status and "signpose export RUN --web DIR" in status, status
        (here / "model.onnx").unlink()
        page = browser()
        page.goto(f"{base}/apps/signs/")
        page.wait_for_selector("#vocab li")
        assert "model is missing" in page.evaluate(load)
        (here / "model.json").unlink()
        page = browser()
        page.goto(f"{base}/apps/signs/")
        page.wait_for_function("document.getElementById('model-line').textContent.includes('model.json')")
        line = page.text_content("#model-line")
        assert "model.json is missing" in line and "signpose export" in line and page.is_disabled("#start")
