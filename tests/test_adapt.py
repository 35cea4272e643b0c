"""Adapting a trained model to a new person without labels (AdaBN): the statistics are
the person's, the trained model is untouched, and `evaluate --adapt batchnorm` uses them."""

from __future__ import annotations

import subprocess

import numpy as np
import pandas as pd
import torch
from conftest import cli

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
