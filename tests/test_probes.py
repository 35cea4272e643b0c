"""The hostile-user probes (../shared/probes/reliability-probes.md), one test per defect
found, on its own reproduction: ids from file contents, outputs over inputs, damaged
inputs. Each failed on signpose 0.2."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import copy_run, shared

from signpose.data.dataset import Dataset, check_sample_id, sample_id
from signpose.data.importers import import_kaggle, import_mpdata, import_npz, import_pose
from signpose.data.writer import FolderLock
from signpose.errors import SignposeError
from signpose.extract.pipeline import extract_dataset
from signpose.learn.config import RuntimeConfig, TrainConfig
from signpose.learn.evaluation import evaluate
from signpose.learn.features import FeatureConfig, FeaturePipeline
from signpose.learn.lightning import StopOnNonFiniteLoss
from signpose.learn.plots import plot_curves
from signpose.learn.training import train
from signpose.recognise.recognizer import Recognizer


def _npz(path: Path, n: int, **arrays) -> Path:
    with np.load(shared("keypoints", "mp_data_3recorders_1662.npz")) as z:
        X = z["X"][:n]
    np.savez(path, X=X, **{k: np.asarray(v) for k, v in arrays.items()})
    return path


def _files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def test_d1_ids_from_file_contents_never_leave_the_dataset(tmp_path):
    src = _npz(tmp_path / "t.npz", 3, label=["../../../ESCAPED", "/abs", ".."], signer=["a", "..", "b/c"])
    out = tmp_path / "work" / "ds"
    report = import_npz(src, out, progress=False)
    assert report.imported == 3
    assert _files(tmp_path) - {"t.npz"} == {f"work/ds/{f}" for f in _files(out)}  # nothing outside --out
    for row in Dataset(out).rows.itertuples():
        assert (out / row.file).resolve().is_relative_to((out / "poses").resolve())
    assert set(Dataset(out).rows.sign_id) == {"../../../ESCAPED", "/abs", ".."}  # the names themselves are kept


def test_d1_kaggle_and_pose_mapping_ids_stay_inside(tmp_path, synth_small):
    src = tmp_path / "kag"
    shutil.copytree(shared("kaggle_asl_signs"), src)
    table = pd.read_csv(src / "train.csv", dtype=str).iloc[:2]
    table.loc[0, "participant_id"] = "../../ESCAPED_K"
    table.loc[1, "sequence_id"] = "../../../x"
    table.to_csv(src / "train.csv", index=False)
    out = tmp_path / "k" / "ds"
    assert import_kaggle(src, out, progress=False).imported == 2
    assert not (tmp_path / "ESCAPED_K").exists() and all(f.startswith("ds/") for f in _files(tmp_path / "k"))
    pose = synth_small / Dataset(synth_small).rows.file.iloc[0]
    (tmp_path / "p").mkdir()
    shutil.copy(pose, tmp_path / "p" / "good.pose")
    pd.DataFrame({"file": ["good.pose", "../outside.pose"], "signer": ["../../PIMP", "s"], "sign": ["a", "b"]}).to_csv(
        tmp_path / "map.csv", index=False
    )
    report = import_pose(tmp_path / "p", tmp_path / "pd" / "ds", tmp_path / "map.csv", progress=False)
    assert report.imported == 1 and "without '..'" in report.failed[0][1]
    assert not (tmp_path / "PIMP").exists() and all(f.startswith("ds/") for f in _files(tmp_path / "pd"))


def test_sample_id_rule():
    assert sample_id("../x", "..", ".", "a/b\\c") == ".._x/__/_/a_b_c"
    long = sample_id("y" * 400)
    assert len(long.encode()) <= 200 and long != sample_id("y" * 399)  # shortened, still distinct
    for bad in ("../a", "/a", "a//b", "a/./b", "a\\b", ""):
        with pytest.raises(SignposeError, match="outside the dataset"):
            check_sample_id(bad)


def test_d2_ids_given_twice_are_both_kept_and_counted(tmp_path):
    src = _npz(tmp_path / "dup.npz", 4, label=["hello"] * 4, recorder=["a"] * 4, seq=np.zeros(4, int))
    report = import_npz(src, tmp_path / "ds", progress=False)
    assert report.imported == 4 and len(report.renamed) == 3 and "given twice" in report.summary()
    rows = Dataset(tmp_path / "ds").rows
    assert len(rows) == 4 and rows["sample"].is_unique
    seqs = Dataset(tmp_path / "ds").load()[0]
    assert len({s.xyz.tobytes() for s in seqs}) == 4  # four different recordings, none overwritten


def test_d3_append_never_overwrites_another_sources_samples(tmp_path):
    first = _npz(tmp_path / "a.npz", 2, label=["1", "1"], signer=["signer1"] * 2, seq=[1, 2])
    out = tmp_path / "ds"
    import_npz(first, out, progress=False)
    before = {f: (out / "poses" / f).read_bytes() for f in _files(out / "poses")}
    (tmp_path / "other").mkdir()
    with np.load(shared("keypoints", "mp_data_3recorders_1662.npz")) as z:
        np.savez(tmp_path / "other" / "a.npz", X=z["X"][10:12], label=["1", "1"], signer=["signer1"] * 2, seq=[1, 2])
    with pytest.raises(SignposeError, match="--append"):
        import_npz(tmp_path / "other" / "a.npz", out, progress=False)
    report = import_npz(tmp_path / "other" / "a.npz", out, progress=False, append=True)
    assert report.imported == 2
    assert {f: (out / "poses" / f).read_bytes() for f in before} == before  # the first source's files untouched
    assert len(Dataset(out).rows) == 4
    import_npz(tmp_path / "other" / "a.npz", out, progress=False, append=True)  # a rerun updates, adds nothing
    assert len(Dataset(out).rows) == 4 and len(Dataset(out).meta["sources"]) == 2


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


def test_d27_d35_kaggle_cells_that_do_not_fit_fail_their_sample(tmp_path):
    src = tmp_path / "kag"
    shutil.copytree(shared("kaggle_asl_signs"), src)
    table = pd.read_csv(src / "train.csv", dtype=str).iloc[:3]
    table.loc[0, "path"] = ""
    for i, index in ((1, 21), (2, -1)):  # a hand has points 0-20
        path = src / table.loc[i, "path"]
        df = pd.read_parquet(path)
        df.loc[df.index[df.type == "right_hand"][0], "landmark_index"] = index
        df.to_parquet(path)
    table.to_csv(src / "train.csv", index=False)
    report = import_kaggle(src, tmp_path / "ds", progress=False)
    errors = [e for _, e in report.failed]
    assert report.imported == 0 and errors[0] == "empty path cell"
    assert "landmark_index 21 is outside right_hand's 0-20" in errors[1]
    assert "landmark_index -1 is outside right_hand's 0-20" in errors[2]


def test_d34_import_pose_does_not_advise_deleting_the_users_file(tmp_path):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "mine.pose").write_bytes(b"not a pose file")
    pd.DataFrame({"file": ["mine.pose"], "signer": ["s"], "sign": ["a"]}).to_csv(tmp_path / "map.csv", index=False)
    report = import_pose(tmp_path / "p", tmp_path / "ds", tmp_path / "map.csv", progress=False)
    assert "delete" not in report.failed[0][1] and "holistic .pose file" in report.failed[0][1]
    assert (tmp_path / "p" / "mine.pose").read_bytes() == b"not a pose file"


def _cnn(**changes) -> TrainConfig:
    values = {"model": "cnn", "test_signer": "signer3", "features": {"frames": 16}, "recipe": {"epochs": 4}}
    return TrainConfig(**{**values, **changes})


def test_d7_a_second_training_into_a_run_being_trained_is_refused(tmp_path, synth_small):
    out = tmp_path / "run"
    out.mkdir()
    lock = FolderLock(out, "run")
    lock.acquire()  # this (live) process trains there
    try:
        with pytest.raises(SignposeError, match="another signpose process .* is writing this run"):
            train(synth_small, out, _cnn(), progress=False)
        assert sorted(p.name for p in out.iterdir()) == [".signpose.lock"]  # nothing else written
    finally:
        lock.release()


def test_d10_d12_a_time_limited_run_continues_and_keeps_its_log(tmp_path, synth_small):
    out = tmp_path / "run"
    first = train(synth_small, out, _cnn(), RuntimeConfig(max_minutes=1e-4), progress=False)
    assert first.stopped_by == "time limit" and first.epochs_run < 4
    log = out / "logs" / "csv" / "metrics.csv"
    before = pd.read_csv(log)
    done = train(synth_small, out, _cnn(), progress=False)  # the same command without the limit
    assert done.epochs_run == 4 and done.stopped_by == ""
    after = pd.read_csv(log)
    assert set(after.epoch.dropna()) == {0, 1, 2, 3}  # the earlier epochs are still in the log
    pd.testing.assert_frame_equal(
        after[after.epoch < before.epoch.max()].reset_index(drop=True),
        before[before.epoch < before.epoch.max()][after.columns].reset_index(drop=True),
        check_dtype=False,
    )
    assert train(synth_small, out, _cnn(), progress=False).epochs_run == 4  # finished: nothing more to do


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


def test_d24_a_nan_loss_stops_training_with_one_line():
    import torch

    class Trainer:
        current_epoch = 2

    with pytest.raises(SignposeError, match="the training loss became nan in epoch 3"):
        StopOnNonFiniteLoss().on_train_batch_end(Trainer(), None, {"loss": torch.tensor(float("nan"))}, None, 0)


def test_d29_a_damaged_training_log_costs_the_curves_not_the_command(tmp_path, capsys):
    (tmp_path / "logs" / "csv").mkdir(parents=True)
    (tmp_path / "logs" / "csv" / "metrics.csv").write_text('epoch,train_loss\n1,"0.5\n2,0.4,surplus\n')
    assert plot_curves(tmp_path) is None
    assert "cannot draw the training curves" in capsys.readouterr().err


def test_d6_export_elsewhere_names_its_own_sidecar(tmp_path, small_run):
    run = copy_run(small_run, tmp_path / "run")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "features.json").write_text("mine")
    path = Recognizer.from_run(run).export_onnx(tmp_path / "out" / "signs.onnx")
    assert (tmp_path / "out" / "features.json").read_text() == "mine"
    assert json.loads((tmp_path / "out" / "signs.features.json").read_text())["classes"]
    with pytest.raises(SignposeError, match="exists; pass --force"):
        Recognizer.from_run(run).export_onnx(path)
    Recognizer.from_run(run).export_onnx(path, force=True)


def test_d36_evaluating_a_training_signer_warns(small_run, tmp_path, capsys):
    run = copy_run(small_run, tmp_path / "run")
    evaluate(run, signer="signer1")
    assert "signer1 is one of the run's training signers" in capsys.readouterr().err


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


def test_d29_damaged_run_and_cache_files_are_one_line_or_rebuilt(tmp_path, small_run, synth_small):
    run = copy_run(small_run, tmp_path / "run")
    record = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**record, "names": record["names"][:-1]}))
    with pytest.raises(SignposeError, match="damaged run record .*4 names for 5 classes"):
        Recognizer.from_run(run)
    (run / "run.json").write_text("[1, 2]")
    with pytest.raises(SignposeError, match="run.json: .*one JSON object"):
        evaluate(run)
    ds = tmp_path / "ds"
    shutil.copytree(synth_small, ds)
    pipeline = FeaturePipeline(FeatureConfig(features="hands"))
    first = pipeline.load(Dataset(ds))
    (cache,) = (ds / "cache").glob(f"points-{pipeline.cache_key()}-*.npz")
    cache.write_bytes(cache.read_bytes()[:100])  # truncated
    np.testing.assert_array_equal(pipeline.load(Dataset(ds)).points, first.points)  # rebuilt


@pytest.mark.slow
def test_d32_a_long_file_name_is_extracted(tmp_path):
    name = "s" * 250  # a legal name; its pose file's name is 255 bytes, the temp file's must be shorter
    sample = tmp_path / "src" / "01" / "train" / "0001" / name
    shutil.copytree(shared("karsl_layout", "01", "train", "0001", "01_01_0001_sample1"), sample)
    report = extract_dataset(tmp_path / "src", tmp_path / "ds", layout="karsl", workers=1, progress=False)
    assert report.extracted == 1 and not report.failed


def test_d33_an_empty_first_sequence_folder_does_not_change_the_layout(tmp_path):
    src = tmp_path / "MP_Data"
    shutil.copytree(shared("mp_data", "recorder_c", "MP_Data"), src)
    first_sign = sorted(p for p in src.iterdir() if p.is_dir())[0]
    (first_sign / "0").mkdir(exist_ok=True)  # "0" sorts first; empty
    for f in (first_sign / "0").iterdir():
        f.unlink()
    report = import_mpdata(src, tmp_path / "ds", signer="c", progress=False)
    assert report.imported >= 89 and Dataset(tmp_path / "ds").signers == ["c"]


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
    import_npz(_npz(tmp_path / "a.npz", 2, label=["x", "y"], signer=["a", "a"]), out, progress=False, append=True)
    assert len(Dataset(out).rows) == 4
    lines = (out / "manifest.csv").read_text("utf-8").splitlines()
    lines[2] = lines[2].replace(",", ',"', 1)  # an unbalanced quote on the second row
    (out / "manifest.csv").write_text("\n".join(lines) + "\n", "utf-8")
    extract_dataset(shared("karsl_layout"), out, layout="karsl", limit=2, workers=1, progress=False)
    ds = Dataset(out)
    assert len(ds.rows) == 4 and set(ds.rows.signer) == {"01", "a"} and not ds.check()


def test_d29_an_onnx_model_of_another_run_is_refused(tmp_path, small_run, synth_small):
    run = copy_run(small_run, tmp_path / "run")
    other = tmp_path / "other"
    train(synth_small, other, _cnn(), progress=False)  # 16 frames, other features
    Recognizer.from_run(other).export_onnx()
    shutil.copy(other / "model.onnx", run / "model.onnx")
    with pytest.raises(SignposeError, match="an ONNX model of another run"):
        Recognizer.from_run(run, backend="onnx")
    Recognizer.from_run(run).export_onnx()
    assert Recognizer.from_run(run, backend="onnx").classes  # its own export loads


def test_d26_a_checkpoint_is_replaced_whole_or_not_at_all(tmp_path, monkeypatch):
    import errno

    import torch

    import signpose.util as util
    from signpose.learn.lightning import AtomicCheckpointIO

    path = tmp_path / "checkpoints" / "best.ckpt"
    AtomicCheckpointIO().save_checkpoint({"epoch": 1, "w": torch.ones(1000)}, path)
    before = path.read_bytes()

    def full(_fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(util.os, "fsync", full)
    with pytest.raises(OSError, match="No space left"):
        AtomicCheckpointIO().save_checkpoint({"epoch": 2, "w": torch.zeros(1000)}, path)
    assert path.read_bytes() == before and sorted(p.name for p in path.parent.iterdir()) == ["best.ckpt"]


def test_d26_a_read_only_or_full_place_is_one_line(tmp_path, monkeypatch, capsys):
    import errno

    import signpose.data.keypoints as keypoints
    from signpose.cli import main

    def read_only(path, payload):
        raise OSError(errno.EROFS, "Read-only file system", str(path))

    monkeypatch.setattr(keypoints, "atomic_write_bytes", read_only)
    assert main(["synth", "--out", str(tmp_path / "s"), "--signers", "2", "--signs", "2", "--reps", "1"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err  # the progress bar, then one line
    assert err.strip().splitlines()[-1].startswith("signpose: error: ")
    assert "Read-only file system; choose a place you can write to" in err.strip().splitlines()[-1]


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


@pytest.mark.slow
@pytest.mark.parametrize("val_fraction", ["0.2", "0"])  # with validation people, and without (cnn's default)
def test_d37_a_resume_that_only_writes_the_weights_reports_a_real_epoch(tmp_path, synth_small, capsys, val_fraction):
    from signpose.cli import main

    args = [
        "train",
        str(synth_small),
        "--out",
        str(tmp_path / "r"),
        "--model",
        "cnn",
        "--epochs",
        "2",
        "--frames",
        "16",
        "--val-fraction",
        val_fraction,
    ]
    import torch

    assert main(args) == 0
    (tmp_path / "r" / "model.pt").unlink()
    (tmp_path / "r" / "run.json").unlink()
    last = tmp_path / "r" / "checkpoints" / "last.ckpt"
    checkpoint = torch.load(last, weights_only=True)
    checkpoint["epoch"] = 2  # as the checkpoint saved when fitting ends counts: past the last epoch index
    torch.save(checkpoint, last)
    capsys.readouterr()
    assert main(args) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("trained cnn"))
    if val_fraction == "0":
        assert "2 epochs, no validation data" in line, line
        return
    epoch, total = (int(n) for n in line.split("at epoch ")[1].split(" of "))
    assert 1 <= epoch <= total == 2


def test_d29_a_metrics_file_that_is_no_object_costs_the_accuracy_line_only(tmp_path):
    from signpose.serve.server import _measured_accuracy

    (tmp_path / "metrics.json").write_text("[0.9]")
    assert _measured_accuracy(tmp_path, tmp_path / "no dataset") is None
