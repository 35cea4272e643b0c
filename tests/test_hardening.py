"""Data is never silently lost or rewritten, and every command says what happened."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from conftest import cli, shared

from signpose.data.dataset import Dataset, ManifestRow
from signpose.data.importers import import_kaggle, import_mpdata
from signpose.data.keypoints import pose_file_complete, read_pose
from signpose.data.synth import synth_dataset
from signpose.data.writer import DatasetWriter
from signpose.errors import SignposeError
from signpose.extract.holistic import ExtractionConfig
from signpose.extract.pipeline import extract_dataset
from signpose.learn.evaluation import evaluate
from signpose.learn.training import train
from signpose.model.config import TrainConfig

TINY = {"dim": 32, "groups": 1, "conv_blocks": 1}


@pytest.fixture
def karsl(tmp_path) -> Path:
    """The real KArSL-layout fixture extracted with its Arabic labels, in a folder of its own."""
    src = shared("karsl_layout")
    out = tmp_path / "ds"
    extract_dataset(src, out, layout="karsl", labels=src / "labels.csv", workers=2, progress=False)
    return out


def test_a_partial_rerun_without_labels_keeps_every_row_and_name(karsl):
    before = pd.read_csv(karsl / "manifest.csv", dtype=str)
    meta = (karsl / "dataset.json").read_text("utf-8")
    report = extract_dataset(shared("karsl_layout"), karsl, layout="karsl", limit=2, progress=False)
    assert report.done_before == 2 and report.extracted == 0
    after = pd.read_csv(karsl / "manifest.csv", dtype=str)
    pd.testing.assert_frame_equal(before, after)  # 8 rows, Arabic names intact
    assert after.set_index("sign_id").loc["3", "sign"] == "حرف C letter C"
    assert (karsl / "dataset.json").read_text("utf-8") == meta
    assert not Dataset(karsl).check()  # no orphaned pose file


def test_other_settings_need_append_and_are_then_recorded(karsl):
    with pytest.raises(SignposeError, match="made by extract from .*karsl_layout.*pass --append"):
        synth_dataset(karsl, signers=2, signs=2, reps=1, progress=False)
    with pytest.raises(SignposeError, match=r"other settings \(extraction\)"):
        extract_dataset(
            shared("karsl_layout"),
            karsl,
            layout="karsl",
            config=ExtractionConfig(fps=25),
            progress=False,
        )
    synth_dataset(karsl, signers=2, signs=2, reps=1, progress=False, append=True)
    ds = Dataset(karsl)
    assert len(ds.rows) == 8 + 4 and set(ds.signers) == {"01", "signer1", "signer2"}
    sources = json.loads((karsl / "dataset.json").read_text("utf-8"))["sources"]
    assert [s["created_by"] for s in sources] == ["extract", "synth"]


def test_a_stale_lock_is_taken_over_with_a_notice(karsl):
    dead = subprocess.Popen(["true"])
    dead.wait()
    (karsl / ".signpose.lock").write_text(f"{dead.pid} {os.uname().nodename} 0\n")
    done = subprocess.run(
        cli("extract", shared("karsl_layout"), "--layout", "karsl", "--out", karsl),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "taking over a stale lock" in done.stderr and "8 already done" in done.stdout
    assert not (karsl / ".signpose.lock").exists()


def test_a_damaged_pose_file_is_redone_on_rerun(karsl):
    rows = pd.read_csv(karsl / "manifest.csv", dtype=str)
    victim = karsl / rows.file[3]
    good = victim.read_bytes()
    assert pose_file_complete(victim, int(rows.frames[3]))
    victim.write_bytes(good[: len(good) // 2])
    assert not pose_file_complete(victim, int(rows.frames[3]))
    report = extract_dataset(shared("karsl_layout"), karsl, layout="karsl", progress=False)
    assert report.redone == [rows["sample"][3]] and report.extracted == 1 and report.done_before == 7
    assert read_pose(victim).frames == int(rows.frames[3])


def test_a_broken_manifest_is_kept_aside_and_rebuilt_by_extract(karsl, capsys):
    manifest = karsl / "manifest.csv"
    original = pd.read_csv(manifest, dtype=str)
    manifest.write_text(manifest.read_text("utf-8").replace(",01,", ',"01,', 1), "utf-8")
    with pytest.raises(SignposeError, match="unbalanced quote"):
        Dataset(karsl)
    report = extract_dataset(shared("karsl_layout"), karsl, layout="karsl", progress=False)
    assert "rebuilding the manifest" in capsys.readouterr().err
    assert report.done_before == 8 and report.extracted == 0  # recovered from the files, not redone
    rebuilt = pd.read_csv(manifest, dtype=str)
    assert list(rebuilt["sample"]) == list(original["sample"])
    assert rebuilt.set_index("sign_id").loc["3", "sign"] == "حرف C letter C"  # names from signs.csv
    assert len(list(karsl.glob("manifest.csv.broken-*"))) == 1


def test_a_duplicated_manifest_row_is_reported_and_counted_once(tmp_path, synth_small):
    ds = tmp_path / "ds"
    shutil.copytree(synth_small, ds)
    lines = (ds / "manifest.csv").read_text("utf-8").splitlines()
    (ds / "manifest.csv").write_text("\n".join([*lines, lines[1]]) + "\n", "utf-8")
    info = Dataset(ds).info()
    assert info.samples == len(lines) - 1
    assert any("appears more than once" in p.problem for p in info.problems)


@pytest.mark.slow
def test_a_truncated_video_is_extracted_with_a_warning(tmp_path):
    """Only half of this AVI is there: it decodes, but fewer frames than it declares."""
    cap = cv2.VideoCapture(str(shared("videos", "wlasl_mini", "mother", "mother_1.mp4")))
    frames = []
    while (got := cap.read())[0]:
        frames.append(got[1])
    video = tmp_path / "videos" / "mother" / "cut.avi"
    video.parent.mkdir(parents=True)
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 25, frames[0].shape[1::-1])
    for frame in frames:
        writer.write(frame)
    writer.release()
    video.write_bytes(video.read_bytes()[: video.stat().st_size // 2])
    shutil.copy(
        shared("videos", "wlasl_mini", "brother", "brother_1.mp4"),
        tmp_path / "videos" / "brother.mp4",
    )
    (tmp_path / "videos" / "brother").mkdir()
    shutil.move(tmp_path / "videos" / "brother.mp4", tmp_path / "videos" / "brother" / "b.mp4")
    report = extract_dataset(tmp_path / "videos", tmp_path / "ds", workers=1, progress=False)
    assert [(s, declared) for s, _, declared in report.truncated] == [("mother/cut", len(frames))]
    assert 0 < report.truncated[0][1] < len(frames)
    assert "decoded" in report.summary() and "truncated?" in report.summary()


@pytest.mark.slow
def test_unseen_signs_are_reported_where_the_user_looks(tmp_path, synth_small):
    ds = tmp_path / "ds"
    shutil.copytree(synth_small, ds)
    table = pd.read_csv(ds / "manifest.csv", dtype=str, keep_default_na=False)
    table.loc[(table.signer == "signer3") & (table.sign_id == "5"), "sign_id"] = "6"  # only signer3 signs 6
    table.to_csv(ds / "manifest.csv", index=False)
    config = ["--model", "lstm", "--features", "hands", "--epochs", "1", "--batch-size", "64"]
    done = subprocess.run(
        cli("train", ds, "--out", tmp_path / "run", *config),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "not evaluated (no training signer performed them): 6" in done.stdout
    assert "1/1" in done.stderr and "epoch" in done.stderr and "LeafSpec" not in done.stderr  # progress
    assert "|" not in done.stdout and "Epoch" not in done.stdout  # results only on stdout
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["signs_not_in_training"] == ["6"]
    again = subprocess.run(cli("evaluate", tmp_path / "run"), capture_output=True, text=True, timeout=300)
    assert "not evaluated (no training signer performed them): 6" in again.stdout


@pytest.mark.slow
def test_a_run_finds_its_dataset_from_anywhere_and_after_a_move(tmp_path, synth_small):
    tree = tmp_path / "project"
    shutil.copytree(synth_small, tree / "data")
    config = TrainConfig(model="lstm", features={"features": "hands"}, recipe={"epochs": 1, "batch_size": 64})
    cwd = os.getcwd()
    os.chdir(tree)
    try:
        train(Path("data"), Path("runs/r"), config, progress=False)  # relative paths, as typed
    finally:
        os.chdir(cwd)
    assert evaluate(tree / "runs" / "r").samples == 40  # from another directory
    shutil.move(tree, tmp_path / "moved")
    assert evaluate(tmp_path / "moved" / "runs" / "r").samples == 40  # the whole tree moved


@pytest.mark.slow
def test_import_says_how_many_failed_and_takes_kaggle_train_csv(tmp_path):
    src = tmp_path / "MP_Data" / "hello"
    for seq in ("1", "2"):
        (src / seq).mkdir(parents=True)
        for f in range(3):
            np.save(src / seq / f"{f}.npy", np.ones(1662))
    np.save(src / "2" / "x.npy", np.ones(1662))  # a frame file that is not numbered
    report = import_mpdata(tmp_path / "MP_Data", tmp_path / "ds", signer="me", progress=False)
    assert report.imported == 1 and len(report.failed) == 1
    assert "2 samples: 1 imported, 1 failed" in report.summary()
    kaggle = import_kaggle(shared("kaggle_asl_signs", "train.csv"), tmp_path / "k", progress=False)
    assert kaggle.imported == len(pd.read_csv(shared("kaggle_asl_signs", "train.csv")))


@pytest.mark.slow
def test_info_orders_signs_naturally_and_survives_a_closed_pipe(tmp_path):
    ds = synth_dataset(tmp_path / "ds", signers=2, signs=12, reps=1, progress=False)
    out = subprocess.run(cli("info", ds), capture_output=True, text=True, timeout=120)
    ids = [line.split()[0] for line in out.stdout.splitlines()[3:15]]
    assert ids == [str(i) for i in range(1, 13)]
    piped = subprocess.run(
        f"{sys.executable} -m signpose.cli info {ds} | head -1",
        shell=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert piped.returncode == 0 and piped.stderr == "" and piped.stdout.startswith("24 samples")
    empty = tmp_path / "empty"
    with DatasetWriter(empty, {"created_by": "test"}):
        pass
    out = subprocess.run(cli("info", empty), capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "0 samples (0 failed), 0 signers, 0 signs" and "DataFrame" not in out.stdout


@pytest.mark.slow
def test_progress_in_a_log_is_lines_not_carriage_returns(tmp_path):
    done = subprocess.run(
        cli("synth", "--out", tmp_path / "ds", "--signers", "2", "--signs", "20", "--reps", "10"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0
    assert "\r" not in done.stderr and "400/400" in done.stderr
    assert len(done.stderr.splitlines()) <= 5  # a line every few seconds, not one per update
    assert done.stdout.startswith("synthetic dataset:")  # results on stdout, progress on stderr


@pytest.mark.slow
def test_predict_reads_every_frame_image_kind_extract_reads(tmp_path, small_run):
    cap = cv2.VideoCapture(str(shared("videos", "fingerspelling_az", "B.mp4")))
    folder = tmp_path / "clip"
    folder.mkdir()
    n = 0
    while (got := cap.read())[0]:
        cv2.imwrite(str(folder / f"frame_{n}.bmp"), got[1])
        n += 1
    done = subprocess.run(cli("predict", small_run, tmp_path, "--json"), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    (result,) = json.loads(done.stdout)
    assert result["source"] == str(folder) and result["frames"] == n and result["status"] == "ok"


def test_writer_numbers_repetitions_and_keeps_manifest_typed(tmp_path):
    with DatasetWriter(tmp_path / "ds", {"created_by": "test"}, {"7": "سبعة seven"}) as writer:
        for sample in ("a/7/2", "a/7/10", "a/7/1"):
            writer.add(ManifestRow(sample, "a", "7", status="error", error="no frames"))
    rows = Dataset(tmp_path / "ds").all_rows
    assert list(rows["sample"]) == ["a/7/1", "a/7/2", "a/7/10"] and list(rows.repetition) == [
        1,
        2,
        3,
    ]
    assert set(rows.sign) == {"سبعة seven"} and rows.frames.dtype.kind == "i"


def test_a_full_disk_leaves_no_half_video_and_no_half_array(tmp_path, small_run, synth_small):
    """`predict --annotate` onto a full disk said "annotated video: ..." and exited 0 with
    an unplayable file; `export-arrays` left a truncated X.npy behind a traceback."""
    from conftest import small_disk

    clip = shared("videos", "wlasl_mini", "brother", "brother_1.mp4")
    with small_disk(tmp_path / "full", "400k") as full:
        done = subprocess.run(
            cli("predict", small_run, clip, "--annotate", full / "a.mp4"), capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 2, done.stderr[-1000:]
        assert done.stderr.strip().splitlines() == [
            f"signpose: error: {full / 'a.mp4'}: No space left on device; free some space, then rerun the same "
            "command (finished work is kept)"
        ]
        done = subprocess.run(
            cli("export-arrays", synth_small, "--out", full / "arrays"), capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 2 and "arrays/X.npy: No space left on device" in done.stderr, done.stderr[-1000:]
        assert len(done.stderr.strip().splitlines()) == 1
        assert not [p for p in full.rglob("*") if p.is_file()]  # nothing half-written, nothing under a temp name


def test_temporary_files_of_a_killed_writer_are_removed_by_the_next_write(tmp_path):
    """`kill -9` during `export` left a model-sized temp file in the run for good."""
    from signpose.util import atomic_write_json

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    orphan = tmp_path / f".{dead.pid}-x1y2z3.tmp"
    orphan.write_bytes(b"\0" * 1000)
    alive = tmp_path / f".{os.getpid()}-a1b2c3.tmp"  # a writer still at work: left alone
    alive.write_bytes(b"\0")
    users = tmp_path / ".notes.tmp"  # not a signpose temp name
    users.write_text("mine")
    atomic_write_json(tmp_path / "metrics.json", {"accuracy": 1.0})
    assert not orphan.exists() and alive.exists() and users.exists()
    assert json.loads((tmp_path / "metrics.json").read_text()) == {"accuracy": 1.0}


def test_a_manifest_path_that_leaves_the_dataset_is_refused_by_name(tmp_path, synth_small, capsys):
    """Hand-edited rows naming /etc/passwd or another dataset's file were read (and the
    warning advised deleting /etc/passwd)."""
    ds = tmp_path / "ds"
    shutil.copytree(synth_small, ds)
    table = pd.read_csv(ds / "manifest.csv", dtype=str, keep_default_na=False)
    table.loc[0, "file"] = f"../{synth_small.name}/{table.loc[1, 'file']}"
    table.loc[2, "file"] = "/etc/passwd"
    table.to_csv(ds / "manifest.csv", index=False)
    seqs, rows, problems = Dataset(ds).load()
    assert len(seqs) == len(table) - 2
    assert [p.sample for p in problems] == [table.loc[0, "sample"], table.loc[2, "sample"]]
    assert all("must lie inside" in p.problem and "fix that row of manifest.csv" in p.problem for p in problems)
    assert not any("delete" in p.problem for p in problems)


def test_advice_for_a_damaged_pose_file_names_the_command_that_made_the_dataset(tmp_path, synth_small):
    ds = tmp_path / "ds"
    shutil.copytree(synth_small, ds)
    first = Dataset(ds).rows.file[0]
    (ds / first).write_bytes(b"damaged")
    _, _, problems = Dataset(ds).load()
    assert len(problems) == 1 and "made by `signpose synth`: run it again" in problems[0].problem
    assert "extraction" not in problems[0].problem


def test_evaluate_on_a_read_only_run_prints_its_metrics_and_can_write_elsewhere(tmp_path, small_run):
    """A published run on a read-only mount could not be evaluated at all."""
    from conftest import read_only

    copy = tmp_path / "published" / "run"
    shutil.copytree(small_run, copy)
    with read_only(tmp_path / "published"):
        done = subprocess.run(cli("evaluate", copy), capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-1000:]
        assert "test signer signer3: accuracy" in done.stdout
        assert "could not be saved" in done.stderr and "pass --out DIR" in done.stderr
        done = subprocess.run(cli("evaluate", copy, "--out", tmp_path / "metrics"), capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-1000:]
    saved = json.loads((tmp_path / "metrics" / "metrics.json").read_text())
    assert saved["signer"] == "signer3" and (tmp_path / "metrics" / "confusion.png").is_file()


def test_extract_exits_non_zero_when_every_sample_failed(tmp_path):
    """`extract` said "0 extracted now, 1 failed" and exited 0, unlike `import`."""
    (tmp_path / "src" / "hello").mkdir(parents=True)
    (tmp_path / "src" / "hello" / "a.mp4").write_text("not a video")
    done = subprocess.run(
        cli("extract", tmp_path / "src", "--layout", "folders", "--out", tmp_path / "ds"),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1 and "0 extracted now, 0 already done, 1 failed" in done.stdout, done.stderr[-500:]
