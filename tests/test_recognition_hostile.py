"""Recognition and export against hostile and careless input (the round-one probes D6, D29):
an export names its own sidecar, an ONNX model of another run is refused, a damaged
metrics file costs the accuracy line only."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import cnn_run_config, copy_run

from signpose.errors import SignposeError
from signpose.learn.training import train
from signpose.recognise.recognizer import Recognizer


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


def test_d29_an_onnx_model_of_another_run_is_refused(tmp_path, small_run, synth_small):
    run = copy_run(small_run, tmp_path / "run")
    other = tmp_path / "other"
    train(synth_small, other, cnn_run_config(), progress=False)  # 16 frames, other features
    Recognizer.from_run(other).export_onnx()
    shutil.copy(other / "model.onnx", run / "model.onnx")
    with pytest.raises(SignposeError, match="an ONNX model of another run"):
        Recognizer.from_run(run, backend="onnx")
    Recognizer.from_run(run).export_onnx()
    assert Recognizer.from_run(run, backend="onnx").classes  # its own export loads


def test_d29_a_metrics_file_that_is_no_object_costs_the_accuracy_line_only(tmp_path):
    from signpose.serve.server import _measured_accuracy

    (tmp_path / "metrics.json").write_text("[0.9]")
    assert _measured_accuracy(tmp_path, tmp_path / "no dataset") is None
