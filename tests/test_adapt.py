"""Adapting a trained model to a new person without labels (AdaBN): the statistics are
the person's, the trained model is untouched, and `evaluate --adapt batchnorm` uses them."""

from __future__ import annotations

import subprocess

import numpy as np
import pandas as pd
import torch
from conftest import cli, small_run_config

from signpose.data.dataset import Dataset
from signpose.learn.evaluation import evaluate
from signpose.model.adapt import adapt_batchnorm, batchnorm_layers
from signpose.model.runs import load_classifier


def test_adabn_takes_the_persons_statistics_and_leaves_the_model_alone(small_run, synth_small):
    loaded = load_classifier(small_run)
    data = loaded.pipeline.load(Dataset(synth_small))
    person = (data.rows.signer == "signer3").to_numpy()
    pts, mask = data.points[person], data.mask[person]
    before = {k: v.clone() for k, v in loaded.classifier.state_dict().items()}
    adapted = adapt_batchnorm(loaded.classifier, pts, mask, batch_size=len(pts))
    for k, v in loaded.classifier.state_dict().items():  # the trained model is untouched
        assert torch.equal(v, before[k]), k
    first = batchnorm_layers(adapted)[0]
    seen = []
    hook = batchnorm_layers(loaded.classifier)[0].register_forward_hook(lambda m, i, o: seen.append(i[0]))
    with torch.no_grad():
        loaded.classifier(torch.from_numpy(pts), torch.from_numpy(mask))
    hook.remove()
    x = seen[0].transpose(0, 1).reshape(seen[0].shape[1], -1)  # (channels, batch x time)
    torch.testing.assert_close(first.running_mean, x.mean(1), atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(first.running_var, x.var(1), atol=1e-5, rtol=1e-3)
    assert not torch.allclose(first.running_mean, batchnorm_layers(loaded.classifier)[0].running_mean)
    # in batches, every sample weighs the same: the mean over batches of 5 is the whole mean
    chunked = batchnorm_layers(adapt_batchnorm(loaded.classifier, pts, mask, batch_size=5))[0]
    torch.testing.assert_close(chunked.running_mean, first.running_mean, atol=1e-5, rtol=1e-4)


def test_evaluate_adapts_each_tested_person_apart(small_run, tmp_path):
    plain = evaluate(small_run, out=tmp_path / "plain")
    adapted = evaluate(small_run, adapt="batchnorm", out=tmp_path / "adabn")
    a, b = (pd.read_csv(tmp_path / d / "predictions.csv") for d in ("plain", "adabn"))
    assert list(a["sample"]) == list(b["sample"]) and adapted.samples == plain.samples
    assert not np.allclose(a["confidence"], b["confidence"])  # the statistics changed the readings
    assert 0 <= adapted.accuracy <= 1
    refused = subprocess.run(cli("evaluate", small_run, "--adapt", "labels"), capture_output=True, text=True)
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert "--adapt" in refused.stderr


def test_per_signer_standardisation_takes_each_persons_own_statistics(synth_small, tmp_path):
    """features.signer_norm: after it, each person's present points have mean 0 and spread 1
    (a point that never moves is not blown up); the same person moved and scaled comes out
    the same; absent points stay 0. A run trained with it evaluates (the tested person's
    statistics from their own recordings) and refuses recognition in one line."""
    from signpose.learn.training import train
    from signpose.model.features import FeatureConfig, FeaturePipeline, signer_standardised

    ds = Dataset(synth_small)
    seqs, rows, _ = ds.load(ds.rows)
    pipeline = FeaturePipeline(FeatureConfig(features="pose_hands", signer_norm=True))
    plain = FeaturePipeline(FeatureConfig(features="pose_hands"))
    pts, mask = pipeline.prepare(seqs, list(rows.signer))
    raw, raw_mask = plain.prepare(seqs, list(rows.signer))
    np.testing.assert_array_equal(mask, raw_mask)
    assert (pts[~mask] == 0).all()
    for signer in rows.signer.unique():
        who = (rows.signer == signer).to_numpy()
        m = mask[who][..., None]
        moving = m.sum((0, 1))[:, 0] > 1
        mean = (pts[who] * m).sum((0, 1)) / np.maximum(m.sum((0, 1)), 1)
        np.testing.assert_allclose(mean[moving], 0, atol=1e-3)  # float32, over spreads down to 0.01
    # a person as another person: the same points moved and twice as large
    who = (rows.signer == "signer1").to_numpy()
    bigger = np.where(raw_mask[who][..., None], raw[who] * 2 + 0.3, 0)
    again = signer_standardised(bigger, raw_mask[who], ["x"] * who.sum())
    m = raw_mask[who][..., None]
    n = m.sum((0, 1)).clip(1)
    spread = np.sqrt((raw[who] ** 2 * m).sum((0, 1)) / n - ((raw[who] * m).sum((0, 1)) / n) ** 2)
    moving = (spread > 0.02).all(1)  # above the spread's floor in both
    np.testing.assert_allclose(again[:, :, moving], pts[who][:, :, moving], atol=1e-3)
    run = tmp_path / "run"
    train(synth_small, run, small_run_config(features={"features": "pose_hands", "signer_norm": True}), progress=False)
    result = evaluate(run, out=tmp_path / "eval")
    assert result.samples > 0 and 0 <= result.accuracy <= 1
    refused = subprocess.run(cli("predict", run, "x.mp4"), capture_output=True, text=True)
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert "signer_norm" in refused.stderr
