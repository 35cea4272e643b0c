"""`train --seeds N`: one run folder that trains N models and recognises with their average."""

import json
import shutil
import subprocess

import httpx
import numpy as np
import pytest
from conftest import cli, running, small_run_config

from signpose.data.dataset import Dataset
from signpose.errors import SignposeError
from signpose.learn.evaluation import evaluate
from signpose.learn.training import train
from signpose.model.features import FeaturePipeline
from signpose.model.inference import predict_points
from signpose.model.runs import load_classifier, load_run_info
from signpose.recognise.recognizer import Recognizer

SETTINGS = small_run_config(seeds=2, recipe={"epochs": 3, "batch_size": 32, "lr": 2e-3})


@pytest.fixture(scope="module")
def ensemble_run(tmp_path_factory, synth_small):
    """Trained through the command line, as a user would; tests that change it copy it."""
    run = tmp_path_factory.mktemp("ensemble") / "run"
    config = tmp_path_factory.mktemp("ensemble-config") / "config.json"
    config.write_text(SETTINGS.model_dump_json())
    done = subprocess.run(
        cli("train", synth_small, "--out", run, "--config", config), capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    return run, done.stdout


def test_the_run_names_one_model_per_seed_and_reports_each_and_their_average(ensemble_run):
    run, stdout = ensemble_run
    info = load_run_info(run)
    assert info.members == ["seed42", "seed43"]
    configs = [json.loads((run / m / "config.json").read_text()) for m in info.members]
    assert [(c["seed"], c["seeds"]) for c in configs] == [(42, 1), (43, 1)]
    weights = [load_classifier(run / m)[0].state_dict() for m in info.members]
    name = "model.classifier.weight"
    assert not np.allclose(weights[0][name].numpy(), weights[1][name].numpy())  # two models, not one twice
    alone = [json.loads((run / m / "metrics.json").read_text())["accuracy"] for m in info.members]
    average = json.loads((run / "metrics.json").read_text())["accuracy"]
    assert "each alone: " + ", ".join(f"{a:.3f}" for a in alone) in stdout
    assert f"test signer signer3: accuracy {average:.3f}" in stdout


def test_evaluation_and_recognition_average_the_models_probabilities(ensemble_run, synth_small):
    run, _ = ensemble_run
    info = load_run_info(run)
    data = FeaturePipeline(SETTINGS.features).load(Dataset(synth_small))
    test = np.flatnonzero(np.array(data.rows.signer == "signer3"))
    probs = [predict_points(load_classifier(run / m)[0], data.points[test], data.mask[test]) for m in info.members]
    mean = (probs[0] + probs[1]) / 2
    labels = np.array([info.classes.index(s) for s in data.rows.sign_id.iloc[test]])
    assert evaluate(run).accuracy == pytest.approx(float((mean.argmax(1) == labels).mean()))

    seq = Dataset(synth_small).read(data.rows.iloc[test[0]])
    top = Recognizer(run).predict_sequence(seq, top_k=len(info.classes)).top
    recognised = {sign: p for sign, _, p in top}
    assert [recognised[c] for c in info.classes] == pytest.approx(mean[0].tolist(), abs=1e-5)


def test_the_exported_onnx_model_is_the_average_too(ensemble_run, tmp_path):
    run = shutil.copytree(ensemble_run[0], tmp_path / "run")
    torch_rec = Recognizer(run)
    torch_rec.export_onnx()
    assert json.loads((run / "features.json").read_text())["models"] == 2
    onnx_rec = Recognizer(run, backend="onnx")
    rng = np.random.default_rng(0)
    t, p = torch_rec.pipeline.config.frames, torch_rec.pipeline.n_points
    points = rng.normal(0, 0.5, (4, t, p, 2)).astype(np.float32)
    mask = rng.random((4, t, p)) > 0.1
    expected = np.mean([predict_points(c, points, mask) for c in torch_rec.models], axis=0)
    assert onnx_rec.probabilities(points, mask) == pytest.approx(expected, abs=1e-5)

    sidecar = json.loads((run / "features.json").read_text())
    (run / "features.json").write_text(json.dumps({**sidecar, "models": 1}))  # as a run exported before --seeds
    with pytest.raises(SignposeError, match="holds 1 model.*the run has 2.*export it again"):
        Recognizer(run, backend="onnx")


def test_an_interrupted_ensemble_resumes_training_only_what_is_missing(ensemble_run, tmp_path, synth_small):
    run = shutil.copytree(ensemble_run[0], tmp_path / "run")
    (run / "run.json").unlink()  # stopped while the second model trained
    shutil.rmtree(run / "seed43")
    first = (run / "seed42" / "model.pt").stat().st_mtime_ns
    info = train(synth_small, run, SETTINGS, progress=False)
    assert info.members == ["seed42", "seed43"] and (run / "seed43" / "model.pt").is_file()
    assert (run / "seed42" / "model.pt").stat().st_mtime_ns == first  # not trained again
    assert train(synth_small, run, SETTINGS, progress=False) == info  # finished: nothing to do


def test_an_ensemble_folder_is_not_overwritten_by_other_settings(ensemble_run, tmp_path, synth_small):
    run = shutil.copytree(ensemble_run[0], tmp_path / "run")
    before = {p: p.read_bytes() for p in run.rglob("*.json")}
    with pytest.raises(SignposeError, match="other settings \\(differing: seeds\\)"):
        train(synth_small, run, SETTINGS.replace(seeds=1), progress=False)
    assert {p: p.read_bytes() for p in run.rglob("*.json")} == before


def test_the_web_app_serves_the_ensemble(ensemble_run):
    run, _ = ensemble_run
    with running(run) as (base, _):
        health = httpx.get(f"{base}/api/health").json()
    assert health["models"] == 2 and health["weights"] == [0.5, 0.5]
    assert health["accuracy"]["accuracy"] == json.loads((run / "metrics.json").read_text())["accuracy"]
