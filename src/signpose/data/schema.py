"""The keypoint layout, by name.

Every keypoint array in signpose has the MediaPipe Holistic layout of 543 points,
in the order the seed notebook (and pose-format's holistic loader) uses:

    pose (33) | face (468) | left hand (21) | right hand (21)

Code asks this module for points by part and name instead of slicing by number.
The seed notebook's flat 1662-float vector is described here too, so that importing
and exporting it is one function each, not scattered offsets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import SignposeError

POSE_POINT_NAMES: tuple[str, ...] = (
    "NOSE",
    "LEFT_EYE_INNER",
    "LEFT_EYE",
    "LEFT_EYE_OUTER",
    "RIGHT_EYE_INNER",
    "RIGHT_EYE",
    "RIGHT_EYE_OUTER",
    "LEFT_EAR",
    "RIGHT_EAR",
    "MOUTH_LEFT",
    "MOUTH_RIGHT",
    "LEFT_SHOULDER",
    "RIGHT_SHOULDER",
    "LEFT_ELBOW",
    "RIGHT_ELBOW",
    "LEFT_WRIST",
    "RIGHT_WRIST",
    "LEFT_PINKY",
    "RIGHT_PINKY",
    "LEFT_INDEX",
    "RIGHT_INDEX",
    "LEFT_THUMB",
    "RIGHT_THUMB",
    "LEFT_HIP",
    "RIGHT_HIP",
    "LEFT_KNEE",
    "RIGHT_KNEE",
    "LEFT_ANKLE",
    "RIGHT_ANKLE",
    "LEFT_HEEL",
    "RIGHT_HEEL",
    "LEFT_FOOT_INDEX",
    "RIGHT_FOOT_INDEX",
)

HAND_POINT_NAMES: tuple[str, ...] = (
    "WRIST",
    "THUMB_CMC",
    "THUMB_MCP",
    "THUMB_IP",
    "THUMB_TIP",
    "INDEX_FINGER_MCP",
    "INDEX_FINGER_PIP",
    "INDEX_FINGER_DIP",
    "INDEX_FINGER_TIP",
    "MIDDLE_FINGER_MCP",
    "MIDDLE_FINGER_PIP",
    "MIDDLE_FINGER_DIP",
    "MIDDLE_FINGER_TIP",
    "RING_FINGER_MCP",
    "RING_FINGER_PIP",
    "RING_FINGER_DIP",
    "RING_FINGER_TIP",
    "PINKY_MCP",
    "PINKY_PIP",
    "PINKY_DIP",
    "PINKY_TIP",
)

# Face-mesh subsets used by the strongest pose-based recognisers (lips and eyebrows carry
# the non-manual signal; the rest of the 468-point mesh is mostly redundant).
FACE_LIPS: tuple[int, ...] = (
    61,
    185,
    40,
    39,
    37,
    0,
    267,
    269,
    270,
    409,
    291,
    146,
    91,
    181,
    84,
    17,
    314,
    405,
    321,
    375,
)
# The face's widest and tallest extents (cheek to cheek, forehead to chin): their ratio is
# a face's shape, which is how a frame's width:height is recovered where it was not kept.
FACE_CHEEKS: tuple[int, int] = (234, 454)
FACE_TOP_CHIN: tuple[int, int] = (10, 152)
FACE_LEFT_EYEBROW: tuple[int, ...] = (276, 283, 282, 295, 285, 300, 293, 334, 296, 336)
FACE_RIGHT_EYEBROW: tuple[int, ...] = (46, 53, 52, 65, 55, 70, 63, 105, 66, 107)


@dataclass(frozen=True)
class Part:
    """One MediaPipe Holistic part: where its points sit in the 543 and in the seed vector."""

    name: str
    component: str  # the pose-format component name
    size: int
    start: int  # first index in the 543-point layout
    seed_values: int  # floats per point in the seed's 1662 vector (pose carries visibility)
    seed_start: int  # first float in the seed's 1662 vector

    @property
    def slice(self) -> slice:
        return slice(self.start, self.start + self.size)

    @property
    def seed_slice(self) -> slice:
        return slice(self.seed_start, self.seed_start + self.size * self.seed_values)


POSE = Part("pose", "POSE_LANDMARKS", 33, 0, 4, 0)
FACE = Part("face", "FACE_LANDMARKS", 468, 33, 3, 132)
LEFT_HAND = Part("left_hand", "LEFT_HAND_LANDMARKS", 21, 501, 3, 1536)
RIGHT_HAND = Part("right_hand", "RIGHT_HAND_LANDMARKS", 21, 522, 3, 1599)
PARTS: tuple[Part, ...] = (POSE, FACE, LEFT_HAND, RIGHT_HAND)
PART_BY_NAME: dict[str, Part] = {p.name: p for p in PARTS}

N_POINTS = 543
SEED_VECTOR_SIZE = 1662  # pose 33x4 + face 468x3 + two hands 21x3
SEED_VECTOR_SIZE_NO_FACE = 258  # the common variant without the face mesh

# pose-format's holistic header adds the 33 pose world landmarks after the hands (576 points).
POSE_FORMAT_POINTS = N_POINTS + 33


def part_named(name: str) -> Part:
    try:
        return PART_BY_NAME[name]
    except KeyError:
        raise SignposeError(f"no part {name!r}; parts: {', '.join(PART_BY_NAME)}") from None


def point(part: str, name: str | int) -> int:
    """Global index (0..542) of a point given by part and landmark name or local index."""
    p = part_named(part)
    if isinstance(name, str):
        names = POSE_POINT_NAMES if p is POSE else HAND_POINT_NAMES
        if p is FACE or name not in names:
            raise SignposeError(f"no point {name!r} in part {part!r}")
        return p.start + names.index(name)
    if not 0 <= name < p.size:
        raise SignposeError(f"part {part!r} has {p.size} points, not index {name}")
    return p.start + name


def points(part: str, local: tuple[int, ...] | range | None = None) -> np.ndarray:
    """Global indices of a part's points (all, or the given local indices)."""
    p = part_named(part)
    local = range(p.size) if local is None else local
    return np.array([point(part, i) for i in local], dtype=np.int64)


LEFT_SHOULDER = point("pose", "LEFT_SHOULDER")
RIGHT_SHOULDER = point("pose", "RIGHT_SHOULDER")
LEFT_WRIST = point("pose", "LEFT_WRIST")  # the pose model's wrists: tracked when the hand model loses a hand
RIGHT_WRIST = point("pose", "RIGHT_WRIST")
# the pose model's own points of both hands (wrist, pinky, index, thumb): a hand out of view has none
POSE_HANDS = np.array(
    [point("pose", f"{side}_{n}") for side in ("LEFT", "RIGHT") for n in ("WRIST", "PINKY", "INDEX", "THUMB")]
)
UPPER_BODY = points("pose", range(0, 25))  # head, arms and hips: legs say nothing in signing


def mirror_permutation() -> np.ndarray:
    """Index permutation of the 543 points that swaps left and right (pose names, hands).

    Face points keep their index: the face subsets used by the feature sets are either
    symmetric (lips, nose) or come in left/right pairs that are swapped by name below.
    """
    perm = np.arange(N_POINTS)
    for i, name in enumerate(POSE_POINT_NAMES):
        swapped = name.replace("LEFT", "\0").replace("RIGHT", "LEFT").replace("\0", "RIGHT")
        perm[POSE.start + i] = POSE.start + POSE_POINT_NAMES.index(swapped)
    perm[LEFT_HAND.slice] = np.arange(RIGHT_HAND.start, RIGHT_HAND.start + RIGHT_HAND.size)
    perm[RIGHT_HAND.slice] = np.arange(LEFT_HAND.start, LEFT_HAND.start + LEFT_HAND.size)
    for left, right in zip(FACE_LEFT_EYEBROW, FACE_RIGHT_EYEBROW, strict=True):
        perm[FACE.start + left], perm[FACE.start + right] = FACE.start + right, FACE.start + left
    return perm


# ---------------------------------------------------------------------------------------
# The seed notebook's flat vector
# ---------------------------------------------------------------------------------------


def from_seed_vectors(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Seed vectors (..., 1662 or 258) -> (xyz (..., 543, 3), present (..., 543)).

    The seed writes an absent part as all zeros; here such a part becomes absent, not a
    body at the image corner. A part with a NaN or inf value is absent too. Pose
    visibility is dropped (presence replaces it).
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    size = vectors.shape[-1]
    if size not in (SEED_VECTOR_SIZE, SEED_VECTOR_SIZE_NO_FACE):
        raise SignposeError(
            f"a seed keypoint vector has {SEED_VECTOR_SIZE} floats (or {SEED_VECTOR_SIZE_NO_FACE} "
            f"without the face), got {size}"
        )
    lead = vectors.shape[:-1]
    xyz = np.zeros((*lead, N_POINTS, 3), dtype=np.float32)
    present = np.zeros((*lead, N_POINTS), dtype=bool)
    offset = 0
    for part in PARTS:
        if part is FACE and size == SEED_VECTOR_SIZE_NO_FACE:
            continue
        n_values = part.size * part.seed_values
        values = vectors[..., offset : offset + n_values].reshape(*lead, part.size, part.seed_values)
        offset += n_values
        # NaN or inf (a broken recording) is absent, like the zeros the seed writes
        finite = np.isfinite(values).all(axis=(-1, -2))
        xyz[..., part.slice, :] = np.where(finite[..., None, None], values[..., :3], 0)
        detected = np.any(values != 0, axis=(-1, -2)) & finite
        present[..., part.slice] = detected[..., None]
    return xyz, present


def to_seed_vectors(xyz: np.ndarray, present: np.ndarray, visibility: np.ndarray | None = None) -> np.ndarray:
    """(..., 543, 3) + presence -> the seed's (..., 1662) vectors, absent parts as zeros."""
    lead = xyz.shape[:-2]
    values = np.where(present[..., None], xyz, 0).astype(np.float32)
    vis = np.ones((*lead, POSE.size), np.float32) if visibility is None else visibility
    pose = np.concatenate([values[..., POSE.slice, :], vis[..., None]], axis=-1)
    pose = np.where(present[..., POSE.slice, None], pose, 0)
    chunks = [pose.reshape(*lead, -1)]
    chunks += [values[..., p.slice, :].reshape(*lead, -1) for p in (FACE, LEFT_HAND, RIGHT_HAND)]
    return np.concatenate(chunks, axis=-1)
