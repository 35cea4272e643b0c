"""The skeleton graph network: its graph from the schema's names, the four streams, the
model on real people, fusion of streams, and ONNX export of the fused run."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import shared

from signpose.data.dataset import Dataset
from signpose.data.graph import SAM_SLR_27
from signpose.data.keypoints import KeypointSequence
from signpose.data.schema import LEFT_HAND, N_POINTS, RIGHT_HAND, point
from signpose.errors import SignposeError
from signpose.model.architectures import SignClassifier
from signpose.model.config import TrainConfig
from signpose.model.features import FeatureConfig, FeaturePipeline
from signpose.settings import build


def test_the_27_point_graph_is_built_from_names_and_is_one_tree():
    g = SAM_SLR_27
    assert g.size == 27 and len(set(g.points)) == 27
    assert g.points[0] == point("pose", "NOSE")
    assert sum(LEFT_HAND.start <= p < LEFT_HAND.start + 21 for p in g.points) == 10
    assert sum(RIGHT_HAND.start <= p < RIGHT_HAND.start + 21 for p in g.points) == 10
    assert len(g.edges) == 26 and all(0 <= a < 27 and 0 <= b < 27 and a != b for a, b in g.edges)
    reached, frontier = {0}, [0]  # every joint reachable from the nose along the edges
    while frontier:
        node = frontier.pop()
        for a, b in g.edges:
            for x, y in ((a, b), (b, a)):
                if x == node and y not in reached:
                    reached.add(y)
                    frontier.append(y)
    assert reached == set(range(27))
    wrist = g.joints.index(("left_hand", "WRIST"))
    assert g.joints[g.parent_index[wrist]] == ("pose", "LEFT_WRIST")
    a = g.adjacency()
    assert a.shape == (3, 27, 27) and np.allclose(a[0], np.eye(27))
    assert np.allclose(a[1].sum(0)[a[1].sum(0) > 0], 1) and np.allclose(a[2].sum(0)[a[2].sum(0) > 0], 1)


def _views(seq: KeypointSequence) -> dict[str, torch.Tensor]:
    out = {}
    for stream in ("joint", "bone", "joint_motion", "bone_motion"):
        pipeline = FeaturePipeline(FeatureConfig(features="graph27", stream=stream))
        pts, mask = pipeline.points(seq)
        x, _ = pipeline.head()(torch.from_numpy(pts[None]), torch.from_numpy(mask[None]))
        out[stream] = x[0].reshape(pts.shape[0], 27, 3)
    return out


def test_each_stream_means_what_it_says_on_a_real_sequence(wlasl_extracted):
    ds = Dataset(wlasl_extracted)
    seq = ds.read(ds.rows.iloc[0])
    v = _views(seq)
    assert all(x.shape == (30, 27, 3) and torch.isfinite(x).all() for x in v.values())
    joint, bone = v["joint"], v["bone"]
    parent = torch.tensor(SAM_SLR_27.parent_index)
    both = (joint[..., 2] * joint[:, parent, 2]).bool()
    assert both.any()
    assert torch.allclose(bone[..., :2][both], (joint[..., :2] - joint[:, parent, :2])[both], atol=1e-6)
    assert (bone[:, 0, :2] == 0).all()  # the root has no bone
    assert torch.allclose(
        v["joint_motion"][1:, :, :2], (joint[1:, :, :2] - joint[:-1, :, :2]) * v["joint_motion"][1:, :, 2:]
    )
    # a still sequence: no motion at all
    still = KeypointSequence(
        np.repeat(seq.xyz[10:11], 30, 0), np.repeat(seq.present[10:11], 30, 0), 30.0, seq.width, seq.height
    )
    moving = _views(still)
    assert (moving["joint_motion"][..., :2] == 0).all() and (moving["bone_motion"][..., :2] == 0).all()


def test_absent_hands_stay_absent():
    rng = np.random.default_rng(0)
    xyz = rng.uniform(100, 400, (20, N_POINTS, 3)).astype(np.float32)
    present = np.ones((20, N_POINTS), bool)
    present[:, LEFT_HAND.start : LEFT_HAND.start + 21] = False  # no left hand at all
    v = _views(KeypointSequence(xyz, present, 30.0, 640, 480))
    left = [i for i, (part, _) in enumerate(SAM_SLR_27.joints) if part == "left_hand"]
    for stream, x in v.items():
        assert (x[:, left] == 0).all(), stream  # not seen, and no value: not a hand at the origin
        assert x[:, [i for i in range(27) if i not in left], 2].any(), stream
    pipeline = FeaturePipeline(FeatureConfig(features="graph27"))
    model = SignClassifier("gcn", pipeline, 4).eval()
    pts, mask = pipeline.points(KeypointSequence(xyz, present, 30.0, 640, 480))
    assert torch.isfinite(model(torch.from_numpy(pts[None]), torch.from_numpy(mask[None]))).all()


def test_settings_of_graph_runs():
    config = TrainConfig(model="gcn", streams="joint,bone")
    assert config.features.features == "graph27" and config.recipe.name == "gcn"
    assert [(name, c.features.stream, c.seed) for name, c in config.members()] == [
        ("joint", "joint", 42),
        ("bone", "bone", 42),
    ]
    names = [name for name, _ in TrainConfig(model="gcn", streams=["joint"], seeds=2).members()]
    assert names == ["joint-seed42", "joint-seed43"]
    with pytest.raises(SignposeError, match="needs a graph feature set"):
        build(TrainConfig, {"features": {"stream": "bone"}})
    with pytest.raises(SignposeError, match="streams need a graph feature set"):
        build(TrainConfig, {"model": "cnn", "streams": ["joint"]})
    with pytest.raises(SignposeError, match="train it with --features graph27"):
        SignClassifier("gcn", FeaturePipeline(FeatureConfig()), 4)


@pytest.fixture(scope="module")
def asl_signs(tmp_path_factory):
    from signpose.data.importers import import_kaggle

    out = tmp_path_factory.mktemp("asl") / "ds"
    import_kaggle(shared("kaggle_asl_signs"), out, progress=False)
    return out


def _log_loss(probabilities: list[np.ndarray], labels: np.ndarray, w) -> float:
    mixed = sum(wi * p[np.arange(len(labels)), labels] for wi, p in zip(w, probabilities, strict=True))
    return float(-np.log(mixed).mean())


def test_fitted_fusion_weights_are_the_least_log_loss_on_the_simplex():
    from signpose.learn.fusion import fit_weights

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 300)
    right = np.full((300, 4), 0.1)
    right[np.arange(300), labels] = 0.7
    guess = rng.dirichlet(np.ones(4), 300)
    w = fit_weights([guess, right], labels)
    assert w.shape == (2,) and w.sum() == pytest.approx(1) and (w >= 0).all() and w[1] > 0.9
    # two streams each right on half of the people: the mix beats either alone and equal weights
    first, second = right.copy(), right.copy()
    first[150:], second[:150] = guess[150:], guess[:150]
    w = fit_weights([first, second], labels)
    best = _log_loss([first, second], labels, w)
    for other in ([1, 0], [0, 1], [0.5, 0.5], [0.3, 0.7], [0.7, 0.3]):
        assert best <= _log_loss([first, second], labels, other) + 1e-9


def test_a_run_record_with_fusion_weights_that_do_not_fit_is_damaged(tmp_path):
    from signpose.model.runs import RunInfo, load_run_info

    record = {"dataset": "d", "classes": ["a", "b"], "names": ["a", "b"], "split": "s", "train_signers": ["x"]}
    good = RunInfo(**record, members=["joint", "bone"], fusion_weights=[0.25, 0.75])
    assert good.member_weights() == [0.25, 0.75]
    assert RunInfo(**record, members=["joint", "bone"]).member_weights() == [0.5, 0.5]
    for weights in ([0.5], [0.7, 0.7], [-0.5, 1.5]):
        (tmp_path / "run.json").write_text(
            json.dumps({**good.model_dump(mode="json"), "fusion_weights": weights}), "utf-8"
        )
        with pytest.raises(SignposeError, match="damaged run record .*not one non-negative weight per member"):
            load_run_info(tmp_path)


def test_fitted_fusion_is_refused_before_training_without_validation_people(synth_small, tmp_path):
    from signpose.learn.training import train

    for bad, words in (
        ({"streams": []}, "weighs two or more streams"),
        ({"val_fraction": 0}, "--val-fraction must be above 0"),
        ({"validation": "samples"}, "not with --validation samples"),
    ):
        with pytest.raises(SignposeError, match=words):
            build(TrainConfig, {"model": "gcn", "streams": "joint,bone", "fusion": "validation", **bad})
    # 2 training signers: validation on a share of their samples, no validation people
    config = build(
        TrainConfig, {"model": "gcn", "streams": "joint,bone", "fusion": "validation", "test_signer": "signer3"}
    )
    with pytest.raises(SignposeError, match="holds out none .*use --fusion equal"):
        train(synth_small, tmp_path / "run", config, progress=False)
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_fused_streams_learn_real_people_and_export_as_one_graph(asl_signs):
    from signpose.learn.evaluation import evaluate, evaluate_members
    from signpose.learn.fusion import fit_weights
    from signpose.learn.splits import make_split
    from signpose.learn.training import train
    from signpose.model.inference import predict_points
    from signpose.recognise.recognizer import Recognizer

    run = asl_signs.parent / "gcn"
    config = build(
        TrainConfig,
        {
            "model": "gcn",
            "streams": "joint,bone",
            "fusion": "validation",
            "test_signer": "25571",
            "recipe": {"epochs": 15},
        },
    )
    info = train(asl_signs, run, config, progress=False)
    assert info.members == ["joint", "bone"] and info.validation_signers
    fused, alone = evaluate(run), evaluate_members(run)
    assert fused.samples == 16 and fused.accuracy > 0.5  # 2 signs: chance is 0.5
    assert len(alone) == 2 and all(0 <= r.accuracy <= 1 for r in alone)
    rec = Recognizer(run)
    assert [pipeline.config.stream for _, pipeline in rec._others] == ["bone"]
    data = rec.pipeline.load(Dataset(asl_signs))
    # the weights are the least log loss on the validation person, not on the test person
    w = np.array(info.fusion_weights)
    split = make_split(data.rows, config.members()[0][1])
    assert set(data.rows.signer.iloc[split.val]) == set(info.validation_signers)
    val = [predict_points(m, data.points[split.val], data.mask[split.val]) for m in rec.models]
    labels = split.labels(data.rows)[split.val]
    assert w == pytest.approx(fit_weights(val, labels), abs=1e-5) and w.sum() == pytest.approx(1)
    assert _log_loss(val, labels, w) <= _log_loss(val, labels, [0.5, 0.5]) + 1e-9
    # fusion is the weighted mean of the members' probabilities, each on its own stream
    test = np.isin(data.rows["sample"], info.test_samples)
    pts, mask = data.points[test], data.mask[test]
    members = [predict_points(m, pts, mask) for m in rec.models]
    assert not np.allclose(members[0], members[1])  # two streams, two models
    weighted = w[0] * members[0] + w[1] * members[1]
    predicted = pd.read_csv(run / "predictions.csv")
    np.testing.assert_allclose(predicted.confidence, weighted.max(1).round(4), atol=1e-4)
    seq = Dataset(asl_signs).read(data.rows[test].iloc[0])
    top = rec.predict_sequence(seq, top_k=1).top[0]
    assert top[2] == pytest.approx(float(weighted[0].max()), abs=1e-5)
    # one ONNX graph for both streams, equal to the torch weighted mean
    path = rec.export_onnx()
    sidecar = json.loads(path.with_name("features.json").read_text("utf-8"))
    assert sidecar["models"] == 2 and sidecar["weights"] == pytest.approx(list(w), abs=1e-6)
    onnx = Recognizer(run, backend="onnx")
    np.testing.assert_allclose(onnx.probabilities(pts, mask), weighted, atol=1e-4)


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"channels": []}, "channels must be one or more whole numbers"),
        ({"channels": [0]}, "channels must be one or more whole numbers"),
        ({"channels": "abc"}, "channels must be one or more whole numbers"),
        ({"groups": 3}, "each a multiple of groups"),
        ({"groups": 0}, "groups must be a whole number of at least 1"),
        ({"graph": "x"}, "no graph 'x'"),
    ],
)
def test_bad_model_options_are_one_line(options, words):
    with pytest.raises(SignposeError, match=words):
        SignClassifier("gcn", FeaturePipeline(FeatureConfig(features="graph27")), 4, options)
