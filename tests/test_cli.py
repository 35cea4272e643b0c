"""The command line: thin, and bad input gives one clear line and a non-zero exit."""

import json
import re
import subprocess

import pytest
from conftest import cli, shared


def signpose(*args, timeout=600):
    return subprocess.run(
        cli(*args),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _one_line_error(result, text):
    assert result.returncode == 2
    lines = [line for line in result.stderr.strip().splitlines() if line.startswith("signpose: error:")]
    assert len(lines) == 1 and text in lines[0], result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_bad_inputs_are_one_line_errors(tmp_path):
    _one_line_error(signpose("extract", tmp_path / "missing", "--out", tmp_path / "o"), "no such folder")
    (tmp_path / "empty").mkdir()
    _one_line_error(
        signpose("extract", tmp_path / "empty", "--out", tmp_path / "o"),
        "no sign videos or frame folders",
    )
    _one_line_error(signpose("info", tmp_path / "empty"), "not a signpose dataset")
    _one_line_error(signpose("train", tmp_path / "empty", "--out", tmp_path / "r"), "not a signpose dataset")
    _one_line_error(signpose("predict", tmp_path / "empty", "x.mp4"), "not a training run")


@pytest.mark.slow
def test_info_and_models(synth_small):
    out = signpose("info", synth_small)
    assert out.returncode == 0 and "120 samples" in out.stdout and "مرحبا hello" in out.stdout
    info = json.loads(signpose("info", synth_small, "--json").stdout)
    assert info["signers"] == ["signer1", "signer2", "signer3"] and info["counts"]["signer1"]["1"] == 8
    models = signpose("models", "--features", "pose_hands")  # the notebook's 150 inputs
    assert "212,804" in models.stdout and "927,812" in models.stdout


@pytest.mark.slow
def test_extract_then_info_on_real_karsl_layout(tmp_path):
    src = shared("karsl_layout")
    out = signpose(
        "extract",
        src,
        "--out",
        tmp_path / "ds",
        "--layout",
        "karsl",
        "--labels",
        src / "labels.csv",
        "--workers",
        "2",
        "--limit",
        "2",
    )
    assert out.returncode == 0, out.stderr[-1000:]
    assert "2 extracted now" in out.stdout
    info = signpose("info", tmp_path / "ds")
    assert "حرف A letter A" in info.stdout


@pytest.mark.slow
def test_predict_json_and_live_headless(small_run, tmp_path):
    bad = tmp_path / "notes.mp4"
    bad.write_text("hello")
    video = shared("videos", "fingerspelling_az", "B.mp4")
    out = signpose("predict", small_run, bad, video, "--json", "--workers", "1")
    assert out.returncode == 1  # one input failed; the other still got its result
    results = json.loads(out.stdout)
    assert [r["status"] for r in results] == ["error", "ok"]
    assert str(bad) not in results[0]["message"]  # the source is named once, in its own field
    assert len(results[1]["top"]) == 5 and results[1]["top"][0]["sign"]
    live = signpose(
        "live", small_run, "--source", video, "--headless", "--threshold", "0", "--mode", "hold", "--window", "10"
    )
    assert live.returncode == 0
    *events, summary = live.stdout.strip().splitlines()
    assert events and all(line[:2].isdigit() and line[2] == ":" for line in events)
    assert "windows classified" in summary and f"{len(events)} signs" in summary
    # with a threshold nothing passes, it still says what it saw
    quiet = signpose(
        "live", small_run, "--source", video, "--headless", "--threshold", "1", "--mode", "hold", "--window", "10"
    )
    assert quiet.returncode == 0
    assert re.fullmatch(
        r"\d+ frames, \d+ windows classified: no sign passed the threshold 1 for 3 windows; "
        r"best was .+ at 0\.\d\d\n",
        quiet.stdout,
    )
