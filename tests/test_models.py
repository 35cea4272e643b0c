import pytest
import torch

from signpose.errors import SignposeError
from signpose.model.architectures import MODELS, SignClassifier, count_parameters, describe_models
from signpose.model.features import FeatureConfig, FeaturePipeline


def test_reproductions_match_the_notebook_summaries():
    """The notebook's Keras summaries for 30 frames x 150 features (and 84 for its transformer)."""
    lstm = MODELS["lstm"].build(150, 100, 30)
    assert count_parameters(lstm) == 212_804
    assert count_parameters(lstm.rnn[0]) == 55_040
    tcn = MODELS["tcn"].build(150, 100, 30)
    assert count_parameters(tcn) == 927_812
    assert [count_parameters(layer) for layer in tcn.tcn] == [174_400, 575_104, 168_768]
    transformer = MODELS["transformer"].build(84, 100, 30)
    assert count_parameters(transformer.position) == 2_520  # frame_position_embedding in the summary
    assert count_parameters(transformer) == 4_530_076


def test_describe_models_lists_every_model():
    rows = describe_models(FeatureConfig(features="pose_hands"))
    assert {r["model"] for r in rows} == set(MODELS)
    assert next(r for r in rows if r["model"] == "lstm")["parameters"] == 212_804


def test_every_model_runs_on_points_with_all_absent_frames():
    for name, spec in MODELS.items():  # each on its own features where it has some (gcn)
        pipeline = FeaturePipeline(FeatureConfig(features=spec.features) if spec.features else FeatureConfig())
        pts = torch.randn(3, 30, pipeline.n_points, 2)
        mask = torch.ones(3, 30, pipeline.n_points, dtype=torch.bool)
        mask[0] = False  # a sample with nothing detected at all
        mask[1, 10:] = False  # frames with nothing detected
        clf = SignClassifier(name, pipeline, 7).eval()
        with torch.no_grad():
            out = clf(pts, mask)
        assert out.shape == (3, 7) and torch.isfinite(out).all(), name


def test_points_of_another_layout_are_refused_by_name():
    pipeline = FeaturePipeline(FeatureConfig(features="hands"))
    clf = SignClassifier("cnn", pipeline, 3).eval()
    with pytest.raises(SignposeError, match=f"reads {pipeline.n_points} points per frame, not 75"):
        clf(torch.zeros(1, 30, 75, 2), torch.ones(1, 30, 75, dtype=torch.bool))


def test_a_registered_model_must_keep_the_model_contract(monkeypatch):
    """What a model offers is written (SignModel) and checked when it is built: late dropout
    found `head_dropout` by duck typing, and a model whose last layer is not the classifier
    would break --init-from and the ONNX export silently."""
    from torch import nn

    from signpose.model.architectures.registry import register_model

    class NoContract(nn.Module):
        def __init__(self, in_features, n_classes):
            super().__init__()
            self.head = nn.Linear(in_features, n_classes)
            self.extra = nn.Linear(n_classes, 3)  # the last linear layer is not the classifier

        def forward(self, x):  # no frame mask
            return self.extra(self.head(x.mean(1)))

    monkeypatch.setitem(MODELS, "broken", None)  # removed again after the test
    register_model("broken", "islr", "breaks the contract")(lambda f, n, t=30, **o: NoContract(f, n))
    with pytest.raises(SignposeError) as refused:
        SignClassifier("broken", FeaturePipeline(FeatureConfig()), 5)
    message = str(refused.value)
    assert "does not keep the model contract" in message
    assert "forward must take (x, frame_mask)" in message and "must declare head_dropout" in message
    assert "last linear layer must be the classifier (5 outputs" in message
    for name in MODELS:  # every registered model keeps it
        if name != "broken":
            features = FeatureConfig(features=MODELS[name].features) if MODELS[name].features else FeatureConfig()
            SignClassifier(name, FeaturePipeline(features), 7)
