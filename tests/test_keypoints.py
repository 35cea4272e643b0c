import numpy as np
import pytest

from signpose.data.keypoints import KeypointSequence, read_pose, write_pose
from signpose.data.schema import LEFT_HAND, POSE
from signpose.errors import SignposeError


def _sequence(frames=5, seed=0):
    rng = np.random.default_rng(seed)
    present = np.ones((frames, 543), bool)
    present[1:3, LEFT_HAND.slice] = False
    xyz = rng.random((frames, 543, 3)).astype(np.float32) * [640, 480, 1]
    xyz[~present] = 0
    return KeypointSequence(
        xyz,
        present,
        fps=25.0,
        width=640,
        height=480,
        visibility=rng.random((frames, 33)).astype(np.float32),
        world=rng.random((frames, 33, 3)).astype(np.float32),
    )


def test_pose_file_round_trip_keeps_points_presence_and_fps(tmp_path):
    seq = _sequence()
    write_pose(tmp_path / "a.pose", seq)
    back = read_pose(tmp_path / "a.pose")
    np.testing.assert_allclose(back.xyz, seq.xyz, rtol=1e-6)
    np.testing.assert_array_equal(back.present, seq.present)
    np.testing.assert_allclose(
        back.visibility[seq.present[:, POSE.slice]],
        np.maximum(seq.visibility, 1e-4).ravel(),
        rtol=1e-6,
    )
    assert (back.fps, back.width, back.height) == (25.0, 640, 480)
    np.testing.assert_allclose(back.timestamps[:2], [0, 0.04])


def test_pose_format_recognises_the_file_as_holistic(tmp_path):
    from pose_format import Pose
    from pose_format.utils.generic import detect_known_pose_format

    write_pose(tmp_path / "a.pose", _sequence())
    pose = Pose.read((tmp_path / "a.pose").read_bytes())
    assert detect_known_pose_format(pose) == "holistic"
    assert pose.body.data.shape == (5, 1, 576, 3)
    # pose-format masks what signpose marks absent
    assert pose.body.data.mask[1, 0, LEFT_HAND.start].all()


def test_truncated_pose_file_is_a_clear_error(tmp_path):
    write_pose(tmp_path / "a.pose", _sequence())
    data = (tmp_path / "a.pose").read_bytes()
    (tmp_path / "b.pose").write_bytes(data[: len(data) // 2])
    with pytest.raises(SignposeError, match="b.pose: unreadable pose file"):
        read_pose(tmp_path / "b.pose")
    with pytest.raises(SignposeError, match="missing"):
        read_pose(tmp_path / "nope.pose")


def test_sequence_rejects_wrong_shapes():
    with pytest.raises(SignposeError, match="543"):
        KeypointSequence(np.zeros((3, 10, 3)), np.zeros((3, 10), bool), 30, 1, 1)
