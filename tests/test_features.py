import numpy as np
import pytest
from conftest import shared

from signpose.data.importers import seed_vectors_to_sequence
from signpose.data.keypoints import KeypointSequence
from signpose.data.schema import LEFT_HAND, LEFT_SHOULDER, RIGHT_HAND, RIGHT_SHOULDER, mirror_permutation
from signpose.model.features import (
    FEATURE_SETS,
    FeatureConfig,
    FeaturePipeline,
    body_frame,
    interpolate_gaps,
    left_hand_leads,
    normalised_xy,
    time_positions,
)


def points(seq, **config):
    return FeaturePipeline(FeatureConfig(**config)).points(seq)


@pytest.fixture(scope="module")
def recorders():
    with np.load(shared("keypoints", "mp_data_3recorders_1662.npz")) as z:
        return {k: z[k] for k in z.files}


def test_feature_set_sizes():
    assert FeaturePipeline(FeatureConfig(features="hands")).size == 84
    assert FeaturePipeline(FeatureConfig(features="pose_hands")).size == 150
    assert FEATURE_SETS["rich"].n_points == 107
    assert FeaturePipeline(FeatureConfig(features="rich")).size == 428
    # each hand relative to its wrist: 2 x 21 more points
    assert FeaturePipeline(FeatureConfig(features="hands", hand_relative=True)).size == 84 + 84


def test_gaps_are_interpolated_only_between_detections():
    xyz = np.zeros((8, 543, 3), np.float32)
    xyz[:, :, 0] = np.arange(8)[:, None]
    present = np.ones((8, 543), bool)
    present[2:4] = False  # a 2-frame gap: filled
    present[6:] = False  # trailing: stays absent
    out, mask = interpolate_gaps(xyz, present, max_gap=3)
    assert mask[2:4].all() and not mask[6:].any()
    np.testing.assert_allclose(out[2:4, 0, 0], [2, 3])
    _, mask = interpolate_gaps(xyz, present, max_gap=1)
    assert not mask[2:4].any()


def test_body_normalisation_makes_recorders_agree(recorders):
    """Three different people at different distances: after normalising, the shoulders of
    all of them sit at (+-0.5, 0) with unit width, frame after frame."""
    pipeline = FeaturePipeline(FeatureConfig(features="pose_hands", interpolate_gap=0))
    raw_widths, norm = {}, {}
    for who in ("recorder_a", "recorder_b", "recorder_c"):
        xs = recorders["X"][recorders["recorder"] == who]
        seqs = [seed_vectors_to_sequence(x) for x in xs]
        frames = [body_frame(s.xyz, s.present) for s in seqs]
        raw_widths[who] = (
            np.median([w for _, w in frames]),
            np.median([o for o, _ in frames], axis=0),
        )
        pts, mask = pipeline.prepare(seqs)
        both = mask[..., LEFT_SHOULDER] & mask[..., RIGHT_SHOULDER]
        left, right = pts[..., LEFT_SHOULDER, :][both], pts[..., RIGHT_SHOULDER, :][both]
        norm[who] = (
            np.median(np.linalg.norm(left - right, axis=-1)),
            np.median((left + right) / 2, axis=0),
        )
    raw_centres = np.array([c for _, c in raw_widths.values()])
    assert np.ptp(raw_centres, axis=0).max() > 0.02  # they really stand in different places before
    for width, centre in norm.values():
        assert width == pytest.approx(1.0, abs=0.05)
        np.testing.assert_allclose(centre, 0, atol=0.05)


def test_no_nan_from_empty_frames_or_missing_pose():
    present = np.zeros((10, 543), bool)
    present[4:6, RIGHT_HAND.slice] = True  # only a hand, briefly: no pose at all
    xyz = np.random.default_rng(0).random((10, 543, 3)).astype(np.float32) * 500
    for seq in (
        KeypointSequence(xyz, present, 30, 640, 480),
        KeypointSequence(xyz, np.zeros_like(present), 30, 640, 480),
    ):
        for normalise in ("body", "image"):
            pts, mask = points(seq, features="rich", normalise=normalise)
            assert np.isfinite(pts).all() and pts.shape == (30, 107, 2)
            assert (pts[~mask] == 0).all()


def test_resample_covers_the_whole_sign_and_first_repeats_the_last_frame():
    np.testing.assert_allclose(time_positions(60, 30, "resample")[[0, -1]], [0, 59])
    np.testing.assert_array_equal(time_positions(20, 30, "first")[18:], [18] + [19] * 11)
    xyz = np.zeros((60, 543, 3), np.float32)
    xyz[:, :, 0] = np.arange(60)[:, None]
    seq = KeypointSequence(xyz, np.ones((60, 543), bool), 30, 1, 1)
    first, _ = points(seq, features="hands", sampling="first", normalise="image")
    whole, _ = points(seq, features="hands", sampling="resample", normalise="image")
    assert first[-1, 0, 0] == 29 and whole[-1, 0, 0] == 59


def test_hand_relative_features_are_the_hand_shape_in_its_own_frame():
    """Each hand relative to its wrist and scaled by its size: moving or scaling the
    whole hand leaves these features unchanged; an absent hand gives zeros, never NaN."""
    import torch

    head = FeaturePipeline(FeatureConfig(features="hands", hand_relative=True)).head()
    rng = np.random.default_rng(0)
    pts = torch.from_numpy(rng.normal(size=(1, 30, 42, 2)).astype(np.float32))
    mask = torch.ones(1, 30, 42, dtype=torch.bool)
    moved = pts * 3.0 + torch.tensor([5.0, -2.0])
    x, _ = head(pts, mask)
    y, _ = head(moved, mask)
    relative = slice(84, 168)
    torch.testing.assert_close(x[..., relative], y[..., relative], atol=1e-4, rtol=1e-4)
    assert not torch.allclose(x[..., :84], y[..., :84])  # the absolute positions did move
    mask[..., :21] = False  # the left hand never seen
    z, _ = head(pts, mask)
    assert torch.isfinite(z).all() and (z[..., 84:126] == 0).all()


def test_a_left_handed_sample_is_mirrored_onto_the_right_hand(recorders):
    """recorder_a's `no` is signed with the right hand only (its left hand is never seen);
    mirrored, the same motion appears in the left-hand slot with x reflected."""
    xs = recorders["X"][(recorders["recorder"] == "recorder_a") & (recorders["label"] == "no")]
    seq = seed_vectors_to_sequence(xs[0])
    assert not seq.present[:, LEFT_HAND.slice].any() and seq.present[:, RIGHT_HAND.slice].any()
    keep, keep_mask = points(seq, features="hands", dominant_hand="right")
    np.testing.assert_array_equal(keep_mask[:, 21:], points(seq, features="hands")[1][:, 21:])  # right leads
    flipped = KeypointSequence(seq.xyz.copy(), seq.present.copy(), 30, 1, 1)
    flipped.xyz[:, LEFT_HAND.slice], flipped.xyz[:, RIGHT_HAND.slice] = (
        seq.xyz[:, RIGHT_HAND.slice],
        0,
    )
    flipped.xyz[:, LEFT_HAND.slice, 0] = 1 - seq.xyz[:, RIGHT_HAND.slice, 0]
    flipped.present[:, LEFT_HAND.slice], flipped.present[:, RIGHT_HAND.slice] = (
        seq.present[:, RIGHT_HAND.slice],
        False,
    )
    pts, mask = points(flipped, features="hands", dominant_hand="right", normalise="image")
    ref, ref_mask = points(seq, features="hands", dominant_hand="right", normalise="image")
    np.testing.assert_array_equal(mask, ref_mask)
    np.testing.assert_allclose(pts, ref, atol=1e-5)  # the left-handed version lands where the right-handed one is


def _as_image_normalised(seq: KeypointSequence) -> KeypointSequence:
    """The sequence as the notebook's format and asl-signs store it: x in frame widths,
    y in frame heights, the frame's size forgotten."""
    xyz = seq.xyz / np.array([seq.width, seq.height, 1], np.float32)
    return KeypointSequence(xyz=xyz, present=seq.present, fps=seq.fps, width=1, height=1)


def test_the_frames_shape_is_read_from_the_face_on_real_clips(wlasl_extracted, karsl_extracted):
    """Real clips of 16:9, 4:3 and 852x480 frames, their size forgotten: the face gives it
    back within 8%."""
    from signpose.data.dataset import Dataset
    from signpose.model.features import frame_aspect

    shapes = set()
    for root in (wlasl_extracted, karsl_extracted):
        ds = Dataset(root)
        for _, row in ds.rows.iterrows():
            seq = ds.read(row)
            flat = _as_image_normalised(seq)
            truth = seq.width / seq.height
            shapes.add(round(truth, 2))
            assert frame_aspect(flat.xyz, flat.present) == pytest.approx(truth, rel=0.08), row["sample"]
    assert len(shapes) >= 2  # more than one frame shape was checked
    # no face seen: nothing to read it from, nothing changes
    assert frame_aspect(np.zeros((5, 543, 3), np.float32), np.zeros((5, 543), bool)) == 1.0


def test_restoring_the_frames_shape_undoes_the_stretch(wlasl_extracted):
    """The same real clip as pixels and as image-normalised values: with the shape restored
    from the face their points nearly agree; left as recorded, x and y are stretched apart."""
    from signpose.data.dataset import Dataset

    ds = Dataset(wlasl_extracted)
    wide = next(s for s in (ds.read(r) for _, r in ds.rows.iterrows()) if s.width / s.height > 1.7)
    truth, _ = points(wide, features="pose_hands", dominant_hand="as-recorded")
    flat = _as_image_normalised(wide)
    restored, _ = points(flat, features="pose_hands", dominant_hand="as-recorded", aspect="face")
    stretched, _ = points(flat, features="pose_hands", dominant_hand="as-recorded")
    err_restored = np.abs(restored - truth).mean()
    err_stretched = np.abs(stretched - truth).mean()
    assert err_restored < err_stretched / 3
    # sequences that kept their frame size are left alone: their pixels are already square
    kept, _ = points(wide, features="pose_hands", dominant_hand="as-recorded", aspect="face")
    np.testing.assert_array_equal(truth, kept)


def _mirrored(seq: KeypointSequence) -> KeypointSequence:
    """The recording as a mirroring webcam script would have stored it: x reflected, left
    and right points swapped."""
    perm = mirror_permutation()
    xyz = seq.xyz[:, perm].copy()
    xyz[..., 0] = np.where(seq.present[:, perm], 1 - xyz[..., 0], 0)
    return KeypointSequence(xyz=xyz, present=seq.present[:, perm], fps=seq.fps, width=1, height=1)


def test_handedness_per_signer_keeps_every_repetition_on_one_side(recorders):
    """recorder_b signs with either hand from one repetition to the next (its leading hand
    varies), so the per-sample rule mirrors some repetitions of one sign and not others;
    per signer, all of a person's samples are mirrored or none, and the same person
    recorded mirrored lands on the same points."""
    keep = recorders["recorder"] == "recorder_b"
    seqs = [seed_vectors_to_sequence(x) for x in recorders["X"][keep]]
    flags = [_left_leads(s) for s in seqs]
    assert 0 < sum(flags) < len(flags)  # the per-sample rule splits this person
    both = seqs + [_mirrored(s) for s in seqs]
    signers = ["b"] * len(seqs) + ["b-mirrored"] * len(seqs)
    pipeline = FeaturePipeline(FeatureConfig(features="hands", dominant_hand="per-signer"))
    pts, mask = pipeline.prepare(both, signers)
    n = len(seqs)
    np.testing.assert_array_equal(mask[:n], mask[n:])
    np.testing.assert_allclose(pts[:n], pts[n:], atol=1e-4)
    as_recorded = FeaturePipeline(FeatureConfig(features="hands", dominant_hand="as-recorded")).prepare(seqs)[0]
    mirrored = (pts[:n] != as_recorded).any(axis=(1, 2, 3))
    assert mirrored.all() or not mirrored.any()  # one decision for the whole person
    # without signers (a single video in predict or live) the per-sample rule decides
    alone = pipeline.prepare(seqs[:1])[0]
    np.testing.assert_array_equal(alone[0], FeaturePipeline(FeatureConfig(features="hands")).prepare(seqs[:1])[0][0])


def _left_leads(seq: KeypointSequence) -> bool:
    return left_hand_leads(*normalised_xy(seq, FeatureConfig()))
