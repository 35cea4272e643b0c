"""Recognition on real videos with a model trained on real keypoints (WLASL clips)."""

import json
import shutil

import cv2
import numpy as np
import pytest
from conftest import shared, video_frames

from signpose.data.dataset import Dataset
from signpose.errors import SignposeError
from signpose.recognise.decoder import LiveConfig
from signpose.recognise.recognizer import Recognizer


def test_predict_a_real_video(wlasl_run, wlasl_extracted):
    rec = Recognizer.from_run(wlasl_run)
    video = shared("videos", "wlasl_mini", "mother", "mother_1.mp4")
    pred = rec.predict(video, top_k=1)
    assert pred.status == "ok" and pred.frames == video_frames(video)[0]
    assert len(pred.top) == 1 and pred.top[0][0] in ("brother", "mother")
    # the same clip through `extract` and its stored .pose file gives the same answer
    ds = Dataset(wlasl_extracted)
    stored = rec.predict_sequence(ds.read(ds.rows[ds.rows["sample"] == "mother/mother_1"].iloc[0]), top_k=2)
    assert stored.top[0][0] == pred.top[0][0]
    assert stored.top[0][2] == pytest.approx(pred.top[0][2], abs=1e-3)
    assert sum(p for _, _, p in stored.top) == pytest.approx(1.0, abs=1e-5)
    assert set(pred.timing) == {"decode", "mediapipe", "classify"}
    assert json.dumps(pred.as_dict())


def test_annotated_video_keeps_frame_count_and_size(wlasl_run, tmp_path):
    video = shared("videos", "wlasl_mini", "brother", "brother_3.mp4")
    out = tmp_path / "annotated.mp4"
    pred = Recognizer.from_run(wlasl_run).predict(video, annotate=out)
    assert pred.status == "ok"
    assert video_frames(out) == video_frames(video)


def test_batch_goes_on_past_bad_inputs(wlasl_run, tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_text("this is not a video")
    blank = tmp_path / "blank.mp4"
    writer = cv2.VideoWriter(str(blank), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 64))
    for _ in range(5):
        writer.write(np.zeros((64, 64, 3), np.uint8))
    writer.release()
    good = shared("videos", "wlasl_mini", "brother", "brother_1.mp4")
    videos = [str(bad), str(good), str(blank)]
    found = {p.source: p for p in Recognizer.from_run(wlasl_run).predict_many(videos, workers=2, progress=False)}
    preds = [found[v] for v in videos]
    assert [p.status for p in preds] == ["error", "ok", "no_sign"]
    assert "cannot open" in preds[0].message or "no frames" in preds[0].message
    assert preds[2].message.startswith("no sign recognised")


def test_onnx_matches_torch_on_real_sequences(wlasl_run, wlasl_extracted):
    torch_rec = Recognizer.from_run(wlasl_run)
    path = torch_rec.export_onnx()
    sidecar = json.loads(path.with_name("features.json").read_text("utf-8"))
    assert sidecar["classes"] == ["brother", "mother"] and len(sidecar["points"]) == 75
    onnx_rec = Recognizer.from_run(wlasl_run, backend="onnx")
    seqs, _, _ = Dataset(wlasl_extracted).load()
    pts, mask = torch_rec.pipeline.prepare(seqs)
    p_torch = torch_rec.probabilities(pts, mask)
    p_onnx = onnx_rec.probabilities(pts, mask)
    np.testing.assert_allclose(p_onnx, p_torch, atol=1e-4)
    assert (p_onnx.argmax(1) == p_torch.argmax(1)).all()


def test_live_on_a_video_file_reports_signs_once_with_timestamps(wlasl_run):
    rec = Recognizer.from_run(wlasl_run)
    video = shared("videos", "wlasl_mini", "mother", "mother_1.mp4")
    frames = []
    config = LiveConfig(mode="hold", window=20, stride=5, threshold=0.0, hold=1, cooldown=0)
    session = rec.live(str(video), config, on_frame=lambda f, e: frames.append(e))
    events = list(session)
    n = video_frames(video)[0]
    assert len(frames) == n and session.frames == n
    assert session.decoder.windows == (n - 20) // 5 + 1
    assert events and events[0]["frame"] == 19 and events[0]["time"] == pytest.approx(19 / 25)
    assert all((e["frame"] - 19) % 5 == 0 for e in events)  # on the stride grid
    assert all(a["sign"] != b["sign"] for a, b in zip(events, events[1:], strict=False))  # never twice in a row
    assert all(e["sign"] in ("brother", "mother") and 0 <= e["probability"] <= 1 for e in events)
    assert session.summary().startswith(f"{n} frames, {session.decoder.windows} windows classified")
    # the web app's stream is the same window: the same frames give the same commits
    from signpose.data.video import open_frames
    from signpose.extract.holistic import HolisticExtractor
    from signpose.serve.stream import LiveStream

    stream, served = LiveStream(rec, config, top_k=1, fps=25.0), []
    with HolisticExtractor(rec.extraction) as extractor:
        for rgb in open_frames(str(video)):
            h, w = rgb.shape[:2]
            served += stream.push(*extractor.frame_arrays(extractor.process_frame(rgb), w, h)[:2], w, h)
    commits = [{k: m[k] for k in ("frame", "time", "sign")} for m in served if m["type"] == "commit"]
    assert commits == [{k: e[k] for k in ("frame", "time", "sign")} for e in events]


def test_live_server_and_transcribe_give_the_same_commits_on_one_video(wlasl_run, tmp_path):
    """The default (segment) decoder over a real video: `live`, the server's stream and
    `transcribe` decode the same landmarks into the same signs."""
    from signpose.data.video import open_frames
    from signpose.extract.holistic import HolisticExtractor
    from signpose.recognise.transcribe import transcribe_many
    from signpose.serve.stream import LiveStream

    rec = Recognizer.from_run(wlasl_run)
    video = shared("videos", "wlasl_mini", "mother", "mother_1.mp4")
    config = LiveConfig(threshold=0.3)
    live = list(rec.live(str(video), config))
    stream, served = LiveStream(rec, config, top_k=1, fps=25.0), []
    with HolisticExtractor(rec.extraction) as extractor:
        for rgb in open_frames(str(video)):
            h, w = rgb.shape[:2]
            served += stream.push(*extractor.frame_arrays(extractor.process_frame(rgb), w, h)[:2], w, h)
    served += stream.finish()
    (transcript,) = transcribe_many(rec, [str(video)], tmp_path, config, progress=False)
    keys = ("frame", "sign", "start_frame", "end_frame")
    assert live, "the video's sign is committed"
    expected = [{k: e[k] for k in keys} for e in live]
    assert [{k: m[k] for k in keys} for m in served if m["type"] == "commit"] == expected
    assert [{k: s[k] for k in keys} for s in transcript.signs] == expected


def test_run_folder_problems_are_clear(wlasl_run, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(wlasl_run, broken)
    (broken / "model.pt").unlink()
    with pytest.raises(SignposeError, match="model.pt is missing"):
        Recognizer.from_run(broken)
    info = json.loads((broken / "run.json").read_text())
    info["format"] = 99
    (broken / "run.json").write_text(json.dumps(info))
    with pytest.raises(SignposeError, match="run format 99 is not supported"):
        Recognizer.from_run(broken)
    (broken / "model.onnx").unlink(missing_ok=True)
    info["format"] = 1
    (broken / "run.json").write_text(json.dumps(info))
    shutil.copy(wlasl_run / "model.pt", broken / "model.pt")
    with pytest.raises(SignposeError, match="no ONNX model"):
        Recognizer.from_run(broken, backend="onnx")
