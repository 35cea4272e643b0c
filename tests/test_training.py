import json
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import cli, copy_run, small_run_config

from signpose.errors import SignposeError
from signpose.learn.evaluation import evaluate
from signpose.learn.runtime import RuntimeConfig
from signpose.learn.training import cross_validate, train
from signpose.model.config import TrainConfig
from signpose.model.runs import load_classifier, load_config
from signpose.settings import build


def test_run_folder_holds_everything_to_reproduce_and_recognise(small_run):
    for name in (
        "config.json",
        "run.json",
        "model.pt",
        "curves.png",
        "checkpoints/last.ckpt",
        "logs/csv/metrics.csv",
    ):
        assert (small_run / name).is_file(), name
    assert list((small_run / "logs" / "tensorboard").glob("events.out.tfevents.*"))
    config = load_config(small_run)
    assert config.model == "islr" and config.test_signer == "signer3"
    assert config.recipe.name == "islr" and config.recipe.lr == 2e-3 and config.recipe.patience == 10
    # from the islr recipe: resolved values are saved
    assert config.recipe.optimizer == "adamw" and config.recipe.label_smoothing == 0.1 and config.recipe.keep == "last"
    info = json.loads((small_run / "run.json").read_text("utf-8"))
    assert info["train_signers"] == ["signer1", "signer2"] and info["test_signer"] == "signer3"
    assert info["names"][0] == "مرحبا hello"
    assert all(s.startswith("signer3/") for s in info["test_samples"])
    assert Path(info["dataset"]).is_absolute() and not Path(info["dataset_from_run"]).is_absolute()
    metrics = pd.read_csv(small_run / "logs" / "csv" / "metrics.csv")
    # the islr recipe trains fixed epochs and keeps the last weights: no validation people
    assert config.val_fraction == 0.0 and "train_loss" in metrics.columns and "val_acc" not in metrics.columns


def test_evaluate_writes_metrics_tables_and_confusion_image(small_run):
    result = evaluate(small_run)
    assert result.signer == "signer3" and result.samples == 40
    assert 0 <= result.accuracy <= result.top5_accuracy <= 1
    table = pd.read_csv(small_run / "per_class.csv", dtype={"sign_id": str})
    assert list(table.sign_id) == ["1", "2", "3", "4", "5"] and table.support.sum() == 40
    assert table.sign[0] == "مرحبا hello"
    from PIL import Image

    assert Image.open(small_run / "confusion.png").size[0] > 300
    own = (small_run / "metrics.json").read_bytes()
    other = evaluate(small_run, signer="signer1")  # another signer: written apart
    assert Path(other.out) == small_run / "eval" / "signer1" and other.samples == 40
    assert json.loads((small_run / "eval" / "signer1" / "metrics.json").read_text())["signer"] == "signer1"
    assert (small_run / "metrics.json").read_bytes() == own  # the run's own test is untouched


def test_the_model_learns_the_unseen_signer_above_chance(small_run):
    assert evaluate(small_run).accuracy > 0.4  # chance is 0.2


def test_finished_run_is_not_retrained_and_other_settings_are_refused(small_run, synth_small):
    config = load_config(small_run)
    before = (small_run / "model.pt").stat().st_mtime_ns
    info = train(synth_small, small_run, config, RuntimeConfig(devices="1", num_workers=1), progress=False)
    assert (small_run / "model.pt").stat().st_mtime_ns == before  # other runtime settings: same run
    assert info.classes == ["1", "2", "3", "4", "5"]
    with pytest.raises(SignposeError, match="other settings \\(differing: seed\\)"):
        train(synth_small, small_run, config.replace(seed=7), progress=False)
    classifier, info, _ = load_classifier(small_run)
    assert len(info.classes) == 5


def test_a_finished_run_without_its_checkpoints_is_still_protected(small_run, synth_small, tmp_path):
    """Checkpoints are the large part of a run and the first thing deleted to save space;
    the run's record still marks it finished, so other settings must not overwrite it."""
    run = copy_run(small_run, tmp_path / "run", files=("config.json", "run.json", "model.pt"))
    config = load_config(run)
    with pytest.raises(SignposeError, match="other settings \\(differing: seed\\)"):
        train(synth_small, run, config.replace(seed=7), progress=False)
    before = (run / "model.pt").read_bytes()
    assert train(synth_small, run, config, progress=False).classes == ["1", "2", "3", "4", "5"]
    assert (run / "model.pt").read_bytes() == before and not (run / "checkpoints").exists()


def test_bad_settings_and_splits_fail_before_a_run_folder_exists(tmp_path, synth_small):
    with pytest.raises(SignposeError, match="not in the dataset"):
        train(
            synth_small,
            tmp_path / "r",
            TrainConfig(model="lstm", test_signer="nobody", recipe={"epochs": 1}),
            progress=False,
        )
    assert not (tmp_path / "r").exists()
    with pytest.raises(SignposeError, match="recipe.epochs \\(--epochs\\) must be >= 1"):
        build(TrainConfig, {"recipe": {"epochs": 0}})
    with pytest.raises(SignposeError, match="unknown model 'lsmt'; choose one of lstm, tcn, transformer, islr"):
        build(TrainConfig, {"model": "lsmt"})
    with pytest.raises(SignposeError, match="not a training run"):
        load_classifier(tmp_path)


def test_a_mixed_split_run_evaluates_on_its_own_test_samples(tmp_path, synth_small):
    config = TrainConfig(
        model="lstm",
        split="mixed",
        features={"features": "hands"},
        recipe={"epochs": 1, "batch_size": 64, "lr": 3e-3},
    )
    info = train(synth_small, tmp_path / "mixed", config, progress=False)
    assert info.test_signer is None and info.split == "mixed"
    result = evaluate(tmp_path / "mixed")
    assert result.samples == info.samples["test"] == len(info.test_samples) and result.signer is None
    by_signer = evaluate(tmp_path / "mixed", signer="signer2")
    assert by_signer.samples == 40 and Path(by_signer.out).name == "signer2"
    said = subprocess.run(cli("evaluate", tmp_path / "mixed"), capture_output=True, text=True, timeout=300).stdout
    assert said.startswith("mixed split (signer-dependent): accuracy") and "None" not in said  # was "test signer None"


@pytest.mark.slow
def test_cross_validation_table(tmp_path, synth_small):
    config = TrainConfig(
        model="lstm",
        features={"features": "hands"},
        recipe={"epochs": 1, "batch_size": 64, "lr": 3e-3},
    )
    table, results = cross_validate(synth_small, tmp_path / "cv", config, progress=False)
    assert list(table["test signer"]) == ["signer1", "signer2", "signer3", "mean ± std"]
    accuracies = [r.accuracy for r in results]
    assert table.iloc[-1]["accuracy"] == f"{np.mean(accuracies):.3f} ± {np.std(accuracies):.3f}"
    assert all(len(value.split(".")[1]) == 3 for value in table["accuracy"][:3])  # one number format
    assert (tmp_path / "cv" / "cv.csv").is_file() and len(results) == 3


@pytest.mark.slow
def test_training_killed_mid_run_resumes_from_its_last_checkpoint(tmp_path, synth_small):
    config = {
        "model": "islr",
        "test_signer": "signer3",
        "recipe": {"epochs": 8, "patience": 50, "batch_size": 16, "lr": 1e-3},
        "model_options": {"dim": 32, "groups": 1, "conv_blocks": 1},
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    run = tmp_path / "run"
    cmd = cli("train", synth_small, "--out", run, "--config", tmp_path / "config.json")
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
    # resumed with other runtime settings: they are not part of the run's identity
    done = subprocess.run(
        [*cmd, "--num-workers", "1", "--devices", "1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    info = json.loads((run / "run.json").read_text())
    assert info["epochs_run"] == 8 and epoch_at_kill < 8
    metrics = pd.read_csv(run / "logs" / "csv" / "metrics.csv")
    assert metrics.epoch.max() == 7


def test_wilson_interval_is_honest_about_few_samples():
    from signpose.learn.evaluation import wilson_interval

    low, high = wilson_interval(20, 20)  # 100% on 20 samples is not certainty
    assert high == 1.0 and 0.83 < low < 0.84
    low, high = wilson_interval(500, 1000)
    assert high - low == pytest.approx(2 * 1.96 * np.sqrt(0.25 / 1000), abs=1e-3)
    assert wilson_interval(0, 0) == (0.0, 1.0)


@pytest.mark.slow
def test_test_time_views_and_ensembles_are_written_apart_and_average_probabilities(small_run, tmp_path, synth_small):
    from signpose.data.dataset import Dataset
    from signpose.model.features import FeaturePipeline
    from signpose.model.inference import predict_points
    from signpose.recognise.recognizer import Recognizer

    own = (small_run / "metrics.json").read_bytes()
    single = evaluate(small_run)
    views = evaluate(small_run, tta=3)
    assert Path(views.out) == small_run / "eval" / "signer3-tta3" and views.samples == single.samples
    # the views are the sign seen slightly rotated and scaled: probabilities move, a little
    classifier, info, config = load_classifier(small_run)
    data = FeaturePipeline(config.features).load(Dataset(synth_small))
    test = np.array(data.rows.signer == "signer3")
    one = predict_points(classifier, data.points[test], data.mask[test])
    three = predict_points(classifier, data.points[test], data.mask[test], tta=3)
    assert 0 < np.abs(one - three).max() < 0.5 and np.allclose(three.sum(1), 1, atol=1e-5)
    # an ensemble of a run with itself is the run
    twice = evaluate(small_run, ensemble=[small_run])
    assert Path(twice.out) == small_run / "eval" / "signer3-ensemble2" and twice.accuracy == single.accuracy
    assert (small_run / "metrics.json").read_bytes() == own  # the run's own test is untouched
    rec = Recognizer(small_run, ensemble=[small_run], tta=2)
    assert len(rec._others) == 1 and rec.tta == 2

    # a member that trained on the tested signer would leak it: refused, as are other signs
    seen = tmp_path / "seen"
    train(synth_small, seen, small_run_config(test_signer="signer1"), progress=False)
    with pytest.raises(SignposeError, match="was trained on signer signer3"):
        evaluate(small_run, ensemble=[seen])
    with pytest.raises(SignposeError, match="tta must be between 1 and 9"):
        evaluate(small_run, tta=10)


def test_the_same_seed_trains_the_same_model_and_another_seed_another(tmp_path, synth_small):
    """The seed fixes the initial weights as well as the split and augmentation."""
    import torch

    config = {
        "model": "cnn",
        "test_signer": "signer3",
        "features": {"features": "hands"},
        "recipe": {"epochs": 1},
        "model_options": {"channels": 16},
    }
    weights = {}
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        train(synth_small, tmp_path / name, build(TrainConfig, {**config, "seed": seed}), progress=False)
        weights[name] = torch.load(tmp_path / name / "model.pt", weights_only=True)
    assert all(torch.equal(weights["a"][k], weights["b"][k]) for k in weights["a"])
    assert not all(torch.equal(weights["a"][k], weights["c"][k]) for k in weights["a"])


def _cnn_run(**changes) -> TrainConfig:
    values = {"model": "cnn", "test_signer": "signer3", "features": {"frames": 16}, "recipe": {"epochs": 4}}
    return TrainConfig(**{**values, **changes})


def test_without_validation_data_nothing_is_validated_and_the_last_weights_are_kept(tmp_path, synth_small):
    out = tmp_path / "run"
    info = train(synth_small, out, _cnn_run(val_fraction=0.0), progress=False)
    log = pd.read_csv(out / "logs" / "csv" / "metrics.csv")
    # earlier versions validated on the training samples and logged that as validation accuracy
    assert not any(c.startswith("val_") for c in log.columns) and set(log.epoch) == {0, 1, 2, 3}
    assert info.monitor == "" and info.best_score is None and info.samples["val"] == 0
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["last.ckpt"]
    assert (out / "curves.png").is_file()
    import torch

    last = torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    kept = torch.load(out / "model.pt", weights_only=True)
    assert all(torch.equal(kept[k], last[f"classifier.{k}"]) for k in kept)
    report = subprocess.run(cli("train", str(synth_small), "--out", str(out)), capture_output=True, text=True)
    assert report.returncode == 2  # the CLI's settings differ from the run's (validation): refused, not retrained
    # a recipe that needs validation is refused before anything is written
    seed = _cnn_run(val_fraction=0.0, recipe={"name": "seed", "epochs": 4})
    with pytest.raises(SignposeError, match="leaves no validation data, and the seed recipe stops early"):
        train(synth_small, tmp_path / "seed", seed, progress=False)
    assert not (tmp_path / "seed").exists()


@pytest.mark.parametrize("moved", [False, True])
def test_a_continued_run_keeps_the_weights_of_its_last_epoch(tmp_path, synth_small, moved):
    import shutil

    import torch

    first = train(synth_small, tmp_path / "a", _cnn_run(), RuntimeConfig(max_minutes=1e-4), progress=False)
    assert first.stopped_by == "time limit" and first.epochs_run < 4
    run = tmp_path / "a"
    if moved:  # Lightning's saved checkpoint state names the old folder
        run = Path(shutil.move(run, tmp_path / "b"))
    done = train(synth_small, run, _cnn_run(), progress=False)
    assert done.epochs_run == 4
    checkpoints = run / "checkpoints"
    assert not list(checkpoints.glob("*-v*.ckpt"))  # a moved run wrote last-v1.ckpt beside the stale one
    # on Lightning 2.6, last.ckpt was written only when validation improved: the kept "last"
    # weights were those of the last improvement, here the epoch the time limit stopped
    last = torch.load(checkpoints / "last.ckpt", weights_only=True)
    assert last["epoch"] == 3  # saved in the fourth epoch (counted from 0)
    kept = torch.load(run / "model.pt", weights_only=True)
    assert all(torch.equal(kept[k], last["state_dict"][f"classifier.{k}"]) for k in kept)


def test_a_run_started_from_another_keeps_its_body_and_the_rows_of_signs_both_know(tmp_path, small_run, synth_small):
    """`train --init-from RUN` on another vocabulary: the body is the source's, the signs
    both know keep their classifier rows, and --freeze-epochs trains the new layer alone."""
    import shutil

    import pandas as pd
    import torch

    from signpose.learn.finetune import head_name
    from signpose.model.runs import load_classifier

    ds = tmp_path / "fewer-signs"  # signs 3-5 only, and one that the source never saw
    shutil.copytree(synth_small, ds)
    table = pd.read_csv(ds / "manifest.csv", dtype=str, keep_default_na=False)
    table = table[table.sign_id.isin(["3", "4", "5"])].copy()
    table.loc[table.sign_id == "5", "sign_id"] = "new"
    table.to_csv(ds / "manifest.csv", index=False)
    source, source_info, _ = load_classifier(small_run)
    config = small_run_config(init_from=str(small_run), freeze_epochs=2, recipe={"epochs": 2, "batch_size": 32})
    info = train(ds, tmp_path / "tuned", config, progress=False)
    tuned, _, _ = load_classifier(tmp_path / "tuned")
    head = head_name(tuned)
    theirs, ours = source.state_dict(), tuned.state_dict()
    body = [k for k in ours if not k.startswith(head + ".") and ours[k].dtype.is_floating_point and "running" not in k]
    assert body and all(torch.equal(ours[k], theirs[k]) for k in body)  # frozen for both epochs
    assert info.classes == ["3", "4", "new"]
    weight, known = f"{head}.weight", [source_info.classes.index(c) for c in ("3", "4")]
    assert not torch.equal(ours[weight][:2], theirs[weight][known])  # the layer alone trained
    from signpose.learn.finetune import init_from_run
    from signpose.model.architectures import SignClassifier
    from signpose.model.features import FeaturePipeline

    fresh = SignClassifier(config.model, FeaturePipeline(config.features), 3, config.model_options)
    note = init_from_run(fresh, small_run, ["3", "4", "new"], config)
    assert "classifier layer: 2 signs kept, 1 new" in note
    assert torch.equal(fresh.state_dict()[weight][:2], theirs[weight][known])  # the rows of the signs both know
    other = small_run_config(model="cnn", model_options=None, init_from=str(small_run))
    with pytest.raises(SignposeError, match="was trained with other --model"):
        train(ds, tmp_path / "other", other, progress=False)
    with pytest.raises(SignposeError, match="freeze_epochs keeps a started body: give --init-from"):
        small_run_config().replace(freeze_epochs=3)  # checked like any input: one line
