"""Scale and resilience: Ray, several processes for training, and processes really killed."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
from conftest import cli, shared

from signpose.data.dataset import Dataset
from signpose.data.keypoints import read_pose
from signpose.extract.pipeline import extract_dataset
from signpose.model.features import FeatureConfig, FeaturePipeline
from signpose.model.runs import load_classifier


def _clips(tmp_path, n):
    src = tmp_path / "clips"
    for video in sorted(shared("videos", "fingerspelling_az").glob("*.mp4"))[:n]:
        (src / video.stem).mkdir(parents=True)
        os.symlink(video, src / video.stem / video.name)
    return src


def _same_dataset(a, b):
    da, db = Dataset(a), Dataset(b)
    assert list(da.rows["sample"]) == list(db.rows["sample"])
    assert list(da.rows.frames) == list(db.rows.frames)
    for x, y in zip(da.load()[0], db.load()[0], strict=True):
        np.testing.assert_array_equal(x.present, y.present)
        np.testing.assert_allclose(x.xyz, y.xyz, atol=1e-3)


@pytest.mark.slow
def test_ray_backend_writes_the_same_dataset_as_the_local_pool(tmp_path):
    ray = pytest.importorskip("ray")
    src = _clips(tmp_path, 4)
    extract_dataset(src, tmp_path / "local", workers=2, progress=False)
    os.environ.setdefault("RAY_worker_niceness", "0")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        report = extract_dataset(src, tmp_path / "ray", workers=2, progress=False, backend="ray")
    finally:
        ray.shutdown()
    assert report.extracted == 4 and not report.failed
    assert sorted(p.name for p in (tmp_path / "ray").rglob("*.pose")) == sorted(
        p.name for p in (tmp_path / "local").rglob("*.pose")
    )
    _same_dataset(tmp_path / "local", tmp_path / "ray")


@pytest.mark.slow
def test_extraction_killed_mid_run_resumes_to_the_same_dataset(tmp_path):
    src = _clips(tmp_path, 8)
    extract_dataset(src, tmp_path / "whole", workers=2, progress=False)
    out = tmp_path / "killed"
    cmd = cli("extract", src, "--out", out, "--workers", 2)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 180
    while len(list(out.rglob("*.pose"))) < 2 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the process and its workers, mid-run
    proc.wait()
    finished = {p.relative_to(out): p.stat().st_mtime_ns for p in out.rglob("*.pose")}
    assert 2 <= len(finished) < 8
    for path in finished:  # whatever exists is complete
        assert read_pose(out / path).frames > 0
    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    for path, mtime in finished.items():  # finished before the kill: kept, not redone
        assert (out / path).stat().st_mtime_ns == mtime
    assert not list(out.rglob("*.tmp"))
    _same_dataset(tmp_path / "whole", out)


@pytest.mark.slow
def test_damaged_datasets_are_reported_by_name(tmp_path, synth_small, capsys):
    import shutil

    ds = tmp_path / "ds"
    shutil.copytree(synth_small, ds)
    rows = pd.read_csv(ds / "manifest.csv", dtype=str, keep_default_na=False)
    corrupt, missing = rows.file[0], rows.file[1]
    (ds / corrupt).write_bytes((ds / corrupt).read_bytes()[:100])
    (ds / missing).unlink()
    orphan = ds / "poses" / "extra" / "lost.pose"
    orphan.parent.mkdir()
    shutil.copy(ds / rows.file[2], orphan)
    problems = [p.problem for p in Dataset(ds).info().problems]
    assert any(corrupt in p and "unreadable pose file" in p for p in problems)
    assert any(missing in p and "missing" in p for p in problems)
    assert any("poses/extra/lost.pose has no manifest row" in p for p in problems)
    capsys.readouterr()
    data = FeaturePipeline(FeatureConfig()).load(Dataset(ds))
    assert len(data) == len(rows) - 2
    messages = capsys.readouterr().err
    assert rows["sample"][0] in messages and rows["sample"][1] in messages
    info = subprocess.run(cli("info", ds), capture_output=True, text=True)
    assert info.returncode == 0 and info.stderr.count("warning:") == 3 and "warning" not in info.stdout


@pytest.mark.slow
def test_training_on_two_processes_matches_one(tmp_path, synth_small):
    config = {
        "model": "islr",
        "model_options": {"dim": 32, "groups": 1, "conv_blocks": 1},
        "test_signer": "signer3",
        "features": {"features": "hands"},
        "recipe": {"epochs": 4, "patience": 50, "lr": 2e-3},
    }

    def run(name, devices, strategy, batch):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps({**config, "recipe": {**config["recipe"], "batch_size": batch}}))
        cmd = cli(
            "train",
            synth_small,
            "--out",
            tmp_path / name,
            "--config",
            path,
            "--devices",
            devices,
            "--strategy",
            strategy,
            "--accelerator",
            "cpu",
        )
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        log = pd.read_csv(tmp_path / name / "logs" / "csv" / "metrics.csv")
        per_epoch = log.groupby("epoch").max(numeric_only=True)
        return json.loads((tmp_path / name / "metrics.json").read_text()), per_epoch

    single, single_log = run("single", 1, "auto", 32)
    ddp, ddp_log = run("ddp", 2, "ddp", 16)  # two processes of 16: the same 32 samples per step
    load_classifier(tmp_path / "ddp")  # the checkpoint written by rank 0 loads
    # the same optimizer steps per epoch: the work really was split between two processes
    assert list(ddp_log.index) == list(single_log.index) == [0, 1, 2, 3]
    np.testing.assert_array_equal(ddp_log["step"].to_numpy(), single_log["step"].to_numpy())
    for log in (single_log, ddp_log):  # and both learned: the training loss fell
        assert log["train_loss"].iloc[-1] < log["train_loss"].iloc[0], log
    assert abs(single["accuracy"] - ddp["accuracy"]) <= 0.15, (single, ddp)


@pytest.mark.skipif(not shutil.which("taskset"), reason="taskset (util-linux) is not installed")
def test_a_process_pinned_to_one_core_counts_one_cpu_for_threads_and_workers():
    """Two jobs pinned to a core each must not start a thread per machine CPU each (training
    sets torch's threads to `available_cpus()`): they would contend for one core and slow
    both down many times over."""
    code = (
        "from signpose.util import available_cpus; from signpose.extract.backends import worker_count; "
        "print(available_cpus(), worker_count(None, 8))"
    )
    done = subprocess.run(["taskset", "-c", "0", sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-1000:]
    assert done.stdout.split() == ["1", "1"]
