import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from signpose.config import FeatureConfig, TrainConfig, load_json
from signpose.errors import SignposeError
from signpose.evaluation import evaluate
from signpose.training import cross_validate, load_classifier, train


def test_run_folder_holds_everything_to_reproduce_and_recognise(small_run):
    for name in ("config.json", "run.json", "model.pt", "curves.png", "checkpoints/last.ckpt",
                 "logs/csv/metrics.csv"):
        assert (small_run / name).is_file(), name
    assert list((small_run / "logs" / "tensorboard").glob("events.out.tfevents.*"))
    config = load_json(TrainConfig, small_run / "config.json")
    assert config.model == "islr" and config.test_signer == "signer3"
    assert config.lr == 2e-3 and config.patience == 10  # resolved values are saved, not None
    info = json.loads((small_run / "run.json").read_text("utf-8"))
    assert info["train_signers"] == ["signer1", "signer2"]
    assert info["names"][0] == "مرحبا hello"
    assert all(s.startswith("signer3/") for s in info["test_samples"])
    metrics = pd.read_csv(small_run / "logs" / "csv" / "metrics.csv")
    assert {"train_loss", "val_acc"} <= set(metrics.columns)


def test_evaluate_writes_metrics_tables_and_confusion_image(small_run):
    summary = evaluate(small_run)
    assert summary["signer"] == "signer3" and summary["samples"] == 40
    assert 0 <= summary["accuracy"] <= summary["top5_accuracy"] <= 1
    table = pd.read_csv(small_run / "per_class.csv", dtype={"sign_id": str})
    assert list(table.sign_id) == ["1", "2", "3", "4", "5"] and table.support.sum() == 40
    assert table.sign[0] == "مرحبا hello"
    from PIL import Image

    assert Image.open(small_run / "confusion.png").size[0] > 300
    again = evaluate(small_run, signer="signer1")  # a training signer: should be easier
    assert again["accuracy"] >= summary["accuracy"] - 0.2


def test_the_model_learns_the_unseen_signer_above_chance(small_run):
    assert json.loads((small_run / "metrics.json").read_text())["accuracy"] > 0.4  # chance is 0.2


def test_finished_run_is_not_retrained_and_other_settings_are_refused(small_run, synth_small):
    config = load_json(TrainConfig, small_run / "config.json")
    before = (small_run / "model.pt").stat().st_mtime_ns
    train(synth_small, small_run, config, progress=False)
    assert (small_run / "model.pt").stat().st_mtime_ns == before
    classifier, info, _ = load_classifier(small_run)
    assert len(info["classes"]) == 5


def test_missing_signer_and_bad_run_folder(tmp_path, synth_small):
    with pytest.raises(SignposeError, match="not in the dataset"):
        train(synth_small, tmp_path / "r", TrainConfig(model="lstm", test_signer="nobody", epochs=1), progress=False)
    with pytest.raises(SignposeError, match="not a training run"):
        load_classifier(tmp_path)


def test_cross_validation_table(tmp_path, synth_small):
    config = TrainConfig(model="lstm", epochs=1, batch_size=64, lr=3e-3, features=FeatureConfig(features="hands"))
    table, results = cross_validate(synth_small, tmp_path / "cv", config, progress=False)
    assert list(table["test signer"]) == ["signer1", "signer2", "signer3", "mean ± std"]
    assert "±" in table.iloc[-1]["accuracy"]
    assert (tmp_path / "cv" / "cv.csv").is_file() and len(results) == 3


def test_training_killed_mid_run_resumes_from_its_last_checkpoint(tmp_path, synth_small):
    config = {"model": "islr", "epochs": 8, "patience": 50, "batch_size": 16, "lr": 1e-3, "test_signer": "signer3",
              "model_options": {"dim": 32, "groups": 1, "conv_blocks": 1}}
    (tmp_path / "config.json").write_text(json.dumps(config))
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "signpose.cli", "train", str(synth_small), "--out", str(run),
           "--config", str(tmp_path / "config.json")]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True)
    last = run / "checkpoints" / "last.ckpt"
    deadline = time.time() + 240
    while not last.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert last.exists(), "no checkpoint was written"
    os.killpg(proc.pid, signal.SIGKILL)  # kill -9, mid-training
    proc.wait()
    assert not (run / "model.pt").exists()
    import torch

    epoch_at_kill = torch.load(last, map_location="cpu", weights_only=True)["epoch"]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    info = json.loads((run / "run.json").read_text())
    assert info["epochs_run"] == 8 and epoch_at_kill < 8
    metrics = pd.read_csv(run / "logs" / "csv" / "metrics.csv")
    assert metrics.epoch.max() == 7
