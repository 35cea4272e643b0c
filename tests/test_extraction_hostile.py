"""Extraction against hostile and careless input (the round-one probes D4, D8, D9, D22, D31,
D32, D39): appended sources, a full disk, a broken manifest, a dead worker, phone
rotation, long names, mixed frame sizes."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from conftest import shared, slice_npz

from signpose.data.dataset import Dataset
from signpose.data.importers import import_npz
from signpose.errors import SignposeError
from signpose.extract.pipeline import extract_dataset


@pytest.mark.slow
def test_d4_extract_append_of_a_source_laid_out_alike_extracts_it(tmp_path):
    src = shared("karsl_layout", "01", "train")
    for name, sign in (("a", "0001"), ("b", "0002")):  # two roots with the same relative path
        sample = tmp_path / name / "01" / "train" / "0001" / "01_01_0001_sample1"
        shutil.copytree(src / sign / f"01_01_{sign}_sample1", sample)
    out = tmp_path / "ds"
    assert extract_dataset(tmp_path / "a", out, layout="karsl", workers=1, progress=False).extracted == 1
    report = extract_dataset(tmp_path / "b", out, layout="karsl", workers=1, progress=False, append=True)
    assert report.extracted == 1 and report.done_before == 0
    seqs, rows, _ = Dataset(out).load()
    assert len(rows) == 2 and seqs[0].frames != seqs[1].frames  # two different recordings kept
    again = extract_dataset(tmp_path / "b", out, layout="karsl", workers=1, progress=False, append=True)
    assert again.done_before == 1 and again.extracted == 0  # resumable as any source


@pytest.mark.slow
def test_d8_a_full_disk_stops_extraction_and_is_not_recorded_as_a_bad_video(tmp_path, monkeypatch):
    import errno

    import signpose.extract.pipeline as pipeline

    src = tmp_path / "src" / "01" / "train" / "0001"
    shutil.copytree(shared("karsl_layout", "01", "train", "0001"), src)
    written = pipeline.write_pose

    def full(path, seq):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(pipeline, "write_pose", full)
    with pytest.raises(SignposeError, match="No space left on device; free some space, then rerun"):
        extract_dataset(tmp_path / "src", tmp_path / "ds", layout="karsl", workers=1, progress=False)
    assert not (tmp_path / "ds" / "manifest.csv").is_file() or Dataset(tmp_path / "ds").all_rows.empty
    monkeypatch.setattr(pipeline, "write_pose", written)
    report = extract_dataset(tmp_path / "src", tmp_path / "ds", layout="karsl", workers=1, progress=False)
    assert report.extracted == 1 and not report.failed  # the rerun retries it


def _dies_on(job: str) -> str:
    """A worker job that kills its own process on one job, as the OOM killer would."""
    import os

    if job == "die":
        os._exit(9)
    return job.upper()


@pytest.mark.slow
def test_d22_a_dead_worker_costs_its_own_job_only():
    from signpose.extract.backends import run_jobs
    from signpose.extract.holistic import ExtractionConfig

    jobs = ["a", "die", "b", "c", "d"]
    results = list(run_jobs(_dies_on, jobs, ExtractionConfig(), 2, lost=lambda job: f"lost {job}"))
    assert sorted(results) == ["A", "B", "C", "D", "lost die"]


@pytest.mark.slow
def test_d32_a_long_file_name_is_extracted(tmp_path):
    name = "s" * 250  # a legal name; its pose file's name is 255 bytes, the temp file's must be shorter
    sample = tmp_path / "src" / "01" / "train" / "0001" / name
    shutil.copytree(shared("karsl_layout", "01", "train", "0001", "01_01_0001_sample1"), sample)
    report = extract_dataset(tmp_path / "src", tmp_path / "ds", layout="karsl", workers=1, progress=False)
    assert report.extracted == 1 and not report.failed


def test_d39_a_frame_folder_of_mixed_sizes_is_refused(tmp_path):
    import cv2

    from signpose.data.video import open_frames

    folder = tmp_path / "sample"
    shutil.copytree(shared("karsl_layout", "01", "train", "0001", "01_01_0001_sample1"), folder)
    last = sorted(folder.iterdir())[-1]
    cv2.imwrite(str(last), np.zeros((640, 320, 3), np.uint8))
    with pytest.raises(SignposeError, match="is 320x640, the sample's first frame 852x480"):
        list(open_frames(folder))


@pytest.mark.slow
def test_d9_rebuilding_a_broken_manifest_keeps_other_sources_rows(tmp_path):
    out = tmp_path / "ds"
    extract_dataset(shared("karsl_layout"), out, layout="karsl", limit=2, workers=1, progress=False)
    import_npz(slice_npz(tmp_path / "a.npz", 2, label=["x", "y"], signer=["a", "a"]), out, progress=False, append=True)
    assert len(Dataset(out).rows) == 4
    lines = (out / "manifest.csv").read_text("utf-8").splitlines()
    lines[2] = lines[2].replace(",", ',"', 1)  # an unbalanced quote on the second row
    (out / "manifest.csv").write_text("\n".join(lines) + "\n", "utf-8")
    extract_dataset(shared("karsl_layout"), out, layout="karsl", limit=2, workers=1, progress=False)
    ds = Dataset(out)
    assert len(ds.rows) == 4 and set(ds.rows.signer) == {"01", "a"} and not ds.check()


def test_d31_a_phone_clips_display_rotation_is_applied(tmp_path):
    """A portrait clip as phones store it (landscape pixels + a rotation tag) is read as
    players show it: the same frames as the clip that was upright to begin with."""
    import subprocess

    from signpose.data.video import open_frames

    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed (make installs it)")
    upright = shared("videos", "wlasl_mini", "mother", "mother_1.mp4")
    sideways, tagged = tmp_path / "sideways.mp4", tmp_path / "tagged.mp4"
    run = {"check": True, "capture_output": True}
    subprocess.run(["ffmpeg", "-y", "-i", upright, "-frames:v", "5", "-vf", "transpose=1", sideways], **run)
    subprocess.run(["ffmpeg", "-y", "-i", sideways, "-c", "copy", "-metadata:s:v:0", "rotate=90", tagged], **run)
    source = open_frames(tagged)
    frames = list(source)
    first = next(iter(open_frames(upright)))
    assert (source.width, source.height) == (first.shape[1], first.shape[0])  # landscape, as shown
    assert frames[0].shape == first.shape
    assert np.abs(frames[0].astype(int) - first.astype(int)).mean() < 12  # the same picture, re-encoded
