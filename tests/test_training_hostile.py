"""Training and evaluation against hostile and careless input (the round-one probes D7, D10,
D12, D24, D26, D29, D36, D37): one trainer per run, time limits that continue, NaN losses,
whole checkpoints, damaged records, a training signer evaluated."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import cnn_run_config, copy_run

from signpose.data.dataset import Dataset
from signpose.data.writer import FolderLock
from signpose.errors import SignposeError
from signpose.learn.evaluation import evaluate
from signpose.learn.lightning import StopOnNonFiniteLoss
from signpose.learn.plots import plot_curves
from signpose.learn.runtime import RuntimeConfig
from signpose.learn.training import train
from signpose.model.features import FeatureConfig, FeaturePipeline
from signpose.recognise.recognizer import Recognizer


def test_d7_a_second_training_into_a_run_being_trained_is_refused(tmp_path, synth_small):
    out = tmp_path / "run"
    out.mkdir()
    lock = FolderLock(out, "run")
    lock.acquire()  # this (live) process trains there
    try:
        with pytest.raises(SignposeError, match="another signpose process .* is writing this run"):
            train(synth_small, out, cnn_run_config(), progress=False)
        assert sorted(p.name for p in out.iterdir()) == [".signpose.lock"]  # nothing else written
    finally:
        lock.release()


def test_d10_d12_a_time_limited_run_continues_and_keeps_its_log(tmp_path, synth_small):
    out = tmp_path / "run"
    first = train(synth_small, out, cnn_run_config(), RuntimeConfig(max_minutes=1e-4), progress=False)
    assert first.stopped_by == "time limit" and first.epochs_run < 4
    log = out / "logs" / "csv" / "metrics.csv"
    before = pd.read_csv(log)
    done = train(synth_small, out, cnn_run_config(), progress=False)  # the same command without the limit
    assert done.epochs_run == 4 and done.stopped_by == ""
    after = pd.read_csv(log)
    assert set(after.epoch.dropna()) == {0, 1, 2, 3}  # the earlier epochs are still in the log
    pd.testing.assert_frame_equal(
        after[after.epoch < before.epoch.max()].reset_index(drop=True),
        before[before.epoch < before.epoch.max()][after.columns].reset_index(drop=True),
        check_dtype=False,
    )
    assert train(synth_small, out, cnn_run_config(), progress=False).epochs_run == 4  # finished: nothing more to do


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


def test_d36_evaluating_a_training_signer_warns(small_run, tmp_path, capsys):
    run = copy_run(small_run, tmp_path / "run")
    evaluate(run, signer="signer1")
    assert "signer1 is one of the run's training signers" in capsys.readouterr().err


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


def test_the_progress_file_is_a_json_file_of_its_own_and_a_full_disk_stops_it_not_training(
    tmp_path, synth_small, capsys
):
    """--progress-file: a folder, another ending, a missing folder, a place inside the
    dataset or the run are one line before any work; where it is written it holds the last
    epoch; a disk that fills up costs the progress file, not the run."""
    from conftest import small_disk

    from signpose.cli import main

    out = tmp_path / "run"
    (tmp_path / "folder").mkdir()
    for bad, words in (
        (tmp_path / "folder", "is a folder"),
        (tmp_path / "progress.txt", "ending in .json"),
        (tmp_path / "missing" / "p.json", "does not exist"),
        (out / "p.json", "inside"),
        (Path(synth_small) / "p.json", "inside"),
    ):
        code = main(["train", str(synth_small), "--out", str(out), "--progress-file", str(bad), "--model", "cnn"])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and words in err[0], (bad, err)
        assert not out.exists()  # refused before any work
    progress = tmp_path / "progress.json"
    train(synth_small, out, cnn_run_config(), RuntimeConfig(progress_file=str(progress)), progress=False)
    assert json.loads(progress.read_text()) | {"epoch": 4, "epochs": 4} == json.loads(progress.read_text())
    with small_disk(tmp_path / "disk", "64k") as disk:
        (disk / "filler").write_bytes(b"x" * 64 * 1024)  # full
        again = tmp_path / "run2"
        info = train(
            synth_small, again, cnn_run_config(), RuntimeConfig(progress_file=str(disk / "p.json")), progress=False
        )
        assert info.epochs_run == 4 and (again / "model.pt").is_file()
        assert "progress is no longer written there, training goes on" in capsys.readouterr().err
