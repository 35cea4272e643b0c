"""`signpose record`: one's own signs from a camera into a dataset. A frame folder stands
in for the camera (the timing counts frames, so it is the same loop)."""

from __future__ import annotations

import subprocess

import cv2
import numpy as np
import pytest
from conftest import cli, clip_frames, shared

from signpose.data.dataset import Dataset
from signpose.extract.record import RecordConfig, record_signs

pytestmark = pytest.mark.slow  # MediaPipe on every frame of every take


@pytest.fixture(scope="module")
def camera(tmp_path_factory):
    """A real signer's clip, looped, as a folder of frames (30 frames/s)."""
    frames = clip_frames(shared("videos", "wlasl_mini", "mother", "mother_1.mp4"))
    folder = tmp_path_factory.mktemp("camera") / "frames"
    folder.mkdir()
    for i, frame in enumerate(frames * 6):
        cv2.imwrite(str(folder / f"{i:05d}.jpg"), frame)
    return folder


def run(*args) -> subprocess.CompletedProcess:
    return subprocess.run(cli(*args), capture_output=True, text=True, timeout=900)


def test_takes_are_recorded_as_samples_and_a_rerun_resumes(camera, tmp_path):
    out = tmp_path / "mine"
    config = RecordConfig(takes=2, seconds=0.5, countdown=0.2)
    shown = []  # what a preview window would draw: the text, and the points of each take frame

    def preview(rgb, xyz, present, text):
        shown.append((text, None if xyz is None else xyz[present]))

    report = record_signs(camera, out, "me", ["مرحبا", "thanks"], config, preview=preview, progress=False)
    assert report.recorded == 4 and not report.missing
    countdown = [t for t, points in shown if points is None]
    signing = [(t, points) for t, points in shown if points is not None]
    tries = 4 + len(report.retaken)
    assert len(countdown) == tries * 6 and all("ready in" in t for t in countdown)  # 0.2 s at 30 frames/s
    assert len(signing) == tries * 15 and all(t.endswith(": signing") for t, _ in signing)
    assert signing[0][0].startswith("مرحبا: take 1 of 2") and all(len(p) >= 33 for _, p in signing)  # the body at least
    ds = Dataset(out)
    assert sorted(ds.rows["sample"]) == sorted(f"me/{s}/take-00{k}" for s in ("مرحبا", "thanks") for k in (1, 2))
    assert set(ds.rows["sign"]) == {"مرحبا", "thanks"} and set(ds.rows["signer"]) == {"me"}
    seq = ds.read(ds.rows.iloc[0])
    assert seq.frames == 15 and seq.fps == 30 and seq.hands_seen()  # 0.5 s at 30 frames/s
    first = {r: (out / f).read_bytes() for r, f in zip(ds.rows["sample"], ds.rows["file"], strict=True)}
    # a rerun finds every take; more takes asked for adds only the missing ones
    again = record_signs(camera, out, "me", ["مرحبا", "thanks"], config, progress=False)
    assert (again.recorded, again.resumed) == (0, 4)
    more = record_signs(camera, out, "me", ["مرحبا", "thanks"], config.replace(takes=3), progress=False)
    assert (more.recorded, more.resumed) == (2, 4)
    ds = Dataset(out)
    assert len(ds.rows) == 6
    for sample, file in zip(ds.rows["sample"], ds.rows["file"], strict=True):
        if sample in first:
            assert (out / file).read_bytes() == first[sample]  # kept as it was
    info = run("info", out, "--json")
    assert info.returncode == 0 and "مرحبا" in info.stdout


def test_bad_names_and_a_short_source_are_one_line_and_keep_what_was_done(camera, tmp_path):
    for signs in ("a/b,c", "..,c", "a,,c", "a,a"):
        refused = run("record", "--camera", camera, "--signer", "me", "--signs", signs, "--out", tmp_path / "x",
                      "--headless")  # fmt: skip
        assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
        assert "--signs" in refused.stderr and not (tmp_path / "x").exists()
    refused = run("record", "--camera", camera, "--signer", "../me", "--signs", "a", "--out", tmp_path / "x")
    assert refused.returncode == 2 and "--signer" in refused.stderr
    for flag in (["--takes", "0"], ["--seconds", "0"]):
        refused = run("record", "--camera", camera, "--signer", "me", "--signs", "a", "--out", tmp_path / "x", *flag)
        assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1
    # the source ends in the third take: one line, and the two takes done are kept
    short = tmp_path / "short"
    short.mkdir()
    for frame in sorted(camera.iterdir())[:40]:
        (short / frame.name).write_bytes(frame.read_bytes())
    out = tmp_path / "kept"
    ended = run("record", "--camera", short, "--signer", "me", "--signs", "hello", "--takes", "3", "--seconds", "0.5",
                "--countdown", "0.1", "--out", out, "--headless")  # fmt: skip
    assert ended.returncode == 2 and "rerun to resume" in ended.stderr
    errors = [line for line in ended.stderr.splitlines() if not line.startswith("takes:")]  # the progress bar aside
    assert errors == ["signpose: error: the camera or video ended before every take was recorded; rerun to resume"]
    assert len(Dataset(out).rows) == 2


def test_a_take_without_hands_is_taken_again_then_left_for_a_rerun(tmp_path):
    blank = tmp_path / "blank"
    blank.mkdir()
    for i in range(60):
        cv2.imwrite(str(blank / f"{i:05d}.jpg"), np.full((240, 320, 3), 90, np.uint8))
    out = tmp_path / "none"
    done = run("record", "--camera", blank, "--signer", "me", "--signs", "hello", "--takes", "1", "--seconds", "0.3",
               "--countdown", "0", "--retries", "2", "--out", out, "--headless")  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert done.stderr.count("no hand seen; taking it again") == 3 and "not kept" in done.stdout
