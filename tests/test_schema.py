import numpy as np
import pytest

from signpose.data import schema
from signpose.errors import SignposeError


def test_point_names_match_mediapipe():
    from mediapipe.python.solutions import holistic

    assert list(schema.POSE_POINT_NAMES) == holistic.PoseLandmark._member_names_
    assert list(schema.HAND_POINT_NAMES) == holistic.HandLandmark._member_names_


def test_parts_tile_the_543_points_and_the_seed_vector():
    assert sum(p.size for p in schema.PARTS) == schema.N_POINTS == 543
    assert schema.PARTS[-1].seed_slice.stop == schema.SEED_VECTOR_SIZE == 1662
    assert schema.point("right_hand", "WRIST") == 522
    assert schema.point("pose", "LEFT_SHOULDER") == 11
    with pytest.raises(SignposeError, match="no point .NOSE. in part .face."):
        schema.point("face", "NOSE")


def test_seed_vector_round_trip_marks_zero_parts_absent():
    rng = np.random.default_rng(0)
    vec = rng.random((4, 1662)).astype(np.float32)
    vec[1, schema.LEFT_HAND.seed_slice] = 0  # the seed writes a missing hand as zeros
    xyz, present = schema.from_seed_vectors(vec)
    assert not present[1, schema.LEFT_HAND.slice].any()
    assert present[0].all() and present[1, schema.RIGHT_HAND.slice].all()
    visibility = vec[:, :132].reshape(4, 33, 4)[..., 3]
    back = schema.to_seed_vectors(xyz, present, visibility)
    np.testing.assert_array_equal(back, vec)


def test_seed_vector_without_face():
    vec = np.arange(258, dtype=np.float32)[None] + 1
    xyz, present = schema.from_seed_vectors(vec)
    assert not present[0, schema.FACE.slice].any()
    np.testing.assert_array_equal(xyz[0, schema.RIGHT_HAND.start], vec[0, 195:198])
    with pytest.raises(SignposeError, match="1662"):
        schema.from_seed_vectors(np.zeros((2, 100)))


def test_mirror_permutation_swaps_sides_and_is_an_involution():
    perm = schema.mirror_permutation()
    np.testing.assert_array_equal(perm[perm], np.arange(543))
    assert perm[schema.LEFT_SHOULDER] == schema.RIGHT_SHOULDER
    assert perm[schema.LEFT_HAND.start] == schema.RIGHT_HAND.start
