import sys

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import ROOT, shared

from signpose.data.importers import seed_vectors_to_sequence
from signpose.errors import SignposeError
from signpose.learn.augmentation import AugmentConfig, Augmenter
from signpose.learn.batches import Collate, PointBatches
from signpose.learn.splits import mixed_split, signer_folds, signer_split
from signpose.model.features import FeatureConfig, FeaturePipeline, PointData, feature_set
from signpose.settings import build

sys.path.insert(0, str(ROOT / "benchmarks"))
from seed_reference import seed_augment_rotation, seed_augment_scale  # noqa: E402  (the notebook's loops)


def _rows():
    rows = []
    for signer, signs in (("a", "xyz"), ("b", "xyz"), ("c", "xyw")):
        for sign in signs:
            for rep in range(10):
                rows.append({"sample": f"{signer}/{sign}/{rep}", "signer": signer, "sign_id": sign})
    return pd.DataFrame(rows)


def test_signer_split_never_mixes_signers_and_reports_unseen_signs():
    rows = _rows()
    split = signer_split(rows, "c")
    assert set(rows.signer[split.test]) == {"c"} and "c" not in set(rows.signer[np.r_[split.train, split.val]])
    assert not set(split.train) & set(split.val) and not set(split.train) & set(split.test)
    assert split.dropped_from_test == ["w"] and "w" not in set(rows.sign_id[split.test])
    assert len(split.val) == 12  # 20% of the 60 training-signer samples, stratified
    assert (pd.Series(rows.sign_id[split.val]).value_counts() == 4).all()
    with pytest.raises(SignposeError, match="not in the dataset"):
        signer_split(rows, "zz")


def test_several_test_signers_are_held_out_together():
    rows = _rows()
    split = signer_split(rows, "a,c")
    assert split.name == "test-a+c" and split.test_signer == "a,c"
    assert set(rows.signer[split.test]) == {"a", "c"} and set(rows.signer[split.train]) == {"b"}
    assert split.dropped_from_test == ["w"]  # only b's signs are learnt
    with pytest.raises(SignposeError, match="leave at least one"):
        signer_split(rows, "a,b,c")
    with pytest.raises(SignposeError, match="'zz' is not in the dataset"):
        signer_split(rows, "a,zz")


def test_signer_folds_test_everyone_once_in_groups_of_equal_size():
    rows = pd.concat([_rows()] + [_rows().assign(signer=lambda r, k=k: r.signer + str(k)) for k in range(3)])
    groups = signer_folds(rows, 4)
    assert sorted(s for g in groups for s in g) == sorted(rows.signer.unique())
    assert [len(g) for g in groups] == [3, 3, 3, 3]
    assert signer_folds(rows.sample(frac=1, random_state=1), 4) == groups  # row order does not matter
    with pytest.raises(SignposeError, match="--folds must be from 2 to the number of signers"):
        signer_folds(rows, 13)


def test_mixed_split_uses_every_sample():
    rows = _rows()
    mixed = mixed_split(rows)
    assert len(set(mixed.train) | set(mixed.val) | set(mixed.test)) == len(rows)


@pytest.fixture(scope="module")
def real_batch():
    with np.load(shared("keypoints", "mp_data_3recorders_1662.npz")) as z:
        X, labels = z["X"][::7], z["label"][::7]
    seqs = [seed_vectors_to_sequence(x) for x in X]
    pts, mask = FeaturePipeline(FeatureConfig(features="pose_hands")).prepare(seqs)
    return pts, mask, labels


def test_augmentation_keeps_absent_points_absent_on_real_data(real_batch):
    pts, mask, _ = real_batch
    assert (~mask).any()  # the real recordings do miss hands
    fs = feature_set("pose_hands")
    config = AugmentConfig(mirror_p=0.5)
    aug = Augmenter(config, fs, seed=0)
    out, out_mask = aug(torch.from_numpy(pts), torch.from_numpy(mask))
    assert out.shape == pts.shape and torch.isfinite(out).all()
    assert (out[~out_mask] == 0).all()
    # geometry-only transforms never add points: present after => present before (same frame)
    geo = Augmenter(AugmentConfig(time_warp_p=0, crop_p=0, mirror_p=0), fs, seed=0)
    _, geo_mask = geo(torch.from_numpy(pts), torch.from_numpy(mask))
    assert not (geo_mask & ~torch.from_numpy(mask)).any()
    # time warps resample: a point is present only if both neighbouring source frames had it
    warp = Augmenter(only(time_warp_p=1.0, crop_p=1.0), fs, seed=1)
    _, warp_mask = warp(torch.from_numpy(pts), torch.from_numpy(mask))
    never = ~torch.from_numpy(mask).any(dim=1, keepdim=True).expand_as(warp_mask)
    assert not (warp_mask & never).any()


def only(**changes) -> AugmentConfig:
    """Augmentation with every transform off except the given ones."""
    return AugmentConfig(name="off", **changes)


def test_batches_keep_their_labels(real_batch):
    pts, mask, labels = real_batch
    classes = sorted(set(labels))
    y = np.array([classes.index(label) for label in labels])
    source = PointBatches(PointData(pts, mask, None), y, np.arange(len(y)))
    collate = Collate(source, Augmenter(AugmentConfig(), feature_set("pose_hands"), seed=0))
    idx = [5, 1, 9, 3]
    _, _, yb, signers = collate(idx)
    np.testing.assert_array_equal(yb.numpy(), y[idx])
    assert (signers.numpy() == -1).all()  # no signers given: none of the training ones
    who = np.arange(len(y)) % 3
    _, _, _, signers = Collate(PointBatches(PointData(pts, mask, None), y, np.arange(len(y)), who), None)(idx)
    np.testing.assert_array_equal(signers.numpy(), who[idx])


def test_affine_is_about_the_body_centre_and_seed_transforms_match_the_notebook():
    fs = feature_set("hands")
    pts = torch.randn(8, 30, 42, 2) * 0.2 + 3.0  # far from the image corner
    mask = torch.ones(8, 30, 42, dtype=torch.bool)
    only_rotate = only(rotate_p=1.0, rotate_deg=30)
    out, _ = Augmenter(only_rotate, fs, seed=0)(pts, mask)
    np.testing.assert_allclose(out.mean(dim=(1, 2)), pts.mean(dim=(1, 2)), atol=1e-4)  # centre stays put
    # the seed's rotation is about (0, 0): it moves the centre
    seed_rot = only(seed_rotation_p=1.0)
    out, _ = Augmenter(seed_rot, fs, seed=0)(pts, mask)
    angles = torch.atan2(out[..., 1], out[..., 0]) - torch.atan2(pts[..., 1], pts[..., 0])
    degrees = torch.rad2deg(angles[:, 0, 0])
    np.testing.assert_allclose(degrees, degrees.round(), atol=1e-3)  # integer degrees, as random.randint
    assert degrees.abs().max() <= 5 + 1e-3
    # the notebook's own loops give the same rotation for the same angle
    x = pts.reshape(8, 30, 84).numpy()
    rng = np.random.default_rng(0)
    ref = seed_augment_rotation(x[:1], rng)
    rng = np.random.default_rng(0)
    theta = np.radians(int(rng.integers(-5, 6)))
    c, s = np.cos(theta), np.sin(theta)
    mine = np.stack([c * x[0, :, 0::2] - s * x[0, :, 1::2], s * x[0, :, 0::2] + c * x[0, :, 1::2]], -1).reshape(30, 84)
    np.testing.assert_allclose(ref[0], mine, rtol=1e-5)
    scaled = seed_augment_scale(x, np.random.default_rng(0))
    ratios = scaled[:, 0, 0] / x[:, 0, 0]
    assert (ratios >= 0).all() and (ratios < 1).all()


def test_body_and_camera_variation_keeps_wrists_and_centre(real_batch):
    """Camera aspect scales x and y apart about the body centre, area kept; hand scaling
    moves a hand's points about its own wrist only, each hand by its own factor."""
    pts, mask, _ = real_batch
    fs = feature_set("pose_hands")
    p, m = torch.from_numpy(pts), torch.from_numpy(mask)
    aspect, _ = Augmenter(only(aspect_p=1.0, aspect_range=(0.5, 2.0)), fs, seed=0)(p, m)
    spread = lambda x: (x - x[m].mean(0)).abs()[m].mean(0)  # noqa: E731
    ratio = spread(aspect) / spread(p)
    assert not torch.allclose(ratio, torch.ones(2), atol=0.01)  # the axes were scaled apart
    hands, _ = Augmenter(only(hand_scale_p=1.0, hand_scale=(0.5, 0.6)), fs, seed=0)(p, m)
    groups = fs.hand_groups()
    body = np.setdiff1d(np.arange(fs.n_points), np.concatenate(groups))
    torch.testing.assert_close(hands[:, :, body], p[:, :, body])  # nothing outside the hands moves
    for idx in groups:
        seen = m[:, :, idx[0]]
        torch.testing.assert_close(hands[:, :, idx[0]][seen], p[:, :, idx[0]][seen])  # the wrist stays
        size = lambda x: (x[:, :, idx] - x[:, :, idx[:1]]).norm(dim=-1)[seen]  # noqa: E731, B023
        shrink = size(hands).sum() / size(p).sum()
        assert 0.5 <= shrink <= 0.6
    with pytest.raises(SignposeError, match="low <= high"):
        build(AugmentConfig, {"hand_scale": [1.2, 0.8]})


def test_augmentation_presets_and_checks():
    off = AugmentConfig(name="off")
    assert not off.active and AugmentConfig().active
    seed = AugmentConfig(name="seed", mirror_p=0.5)  # a preset, with one value changed
    assert seed.seed_rotation_p == pytest.approx(1 / 3) and seed.mirror_p == 0.5 and seed.rotate_p == 0
    from signpose.settings import build

    with pytest.raises(SignposeError, match=r"augment.mirror_p \(--mirror\) must be <= 1"):
        build(
            __import__("signpose.model.config", fromlist=["TrainConfig"]).TrainConfig,
            {"augment": {"mirror_p": 2}},
        )
    with pytest.raises(SignposeError, match="low <= high"):
        build(AugmentConfig, {"scale_range": [1.2, 0.8]})


def test_validation_holds_out_whole_signers_when_there_are_enough():
    rows = pd.DataFrame(
        [{"sample": f"{s}/{k}/{r}", "signer": s, "sign_id": k} for s in "abcde" for k in "xy" for r in range(4)]
    )
    split = signer_split(rows, "e", 0.25, seed=0)  # 4 training signers: auto validates on a held-out one
    held = split.validation_signers(rows)
    assert len(held) == 1 and set(rows.signer.iloc[split.val]) == set(held)
    assert not set(rows.signer.iloc[split.train]) & set(held) and "e" not in held
    mixed = signer_split(rows[rows.signer.isin(["a", "b", "e"])].reset_index(drop=True), "e", 0.25, seed=0)
    assert mixed.validation_signers(rows) == []  # two training signers: their own samples
    forced = signer_split(rows, "e", 0.25, seed=0, validation="samples")
    assert forced.validation_signers(rows) == [] and set(rows.signer.iloc[forced.val]) <= set("abcd")
