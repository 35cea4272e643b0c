"""Feature sets, by name: which of the 543 points a model reads, and what is derived from
them (frame differences, hands in their own frame, fingertip distances; or a skeleton
graph's joints). `register_feature_set` adds one; `signpose models` lists them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data.graph import SAM_SLR_27, SkeletonGraph
from ..data.schema import (
    FACE,
    FACE_LEFT_EYEBROW,
    FACE_LIPS,
    FACE_RIGHT_EYEBROW,
    LEFT_HAND,
    RIGHT_HAND,
    UPPER_BODY,
    mirror_permutation,
    point,
    points,
)
from ..errors import SignposeError
from ..settings import unknown


@dataclass(frozen=True)
class FeatureSet:
    """A named choice of points and the features derived from them."""

    name: str
    points: tuple[int, ...]  # global indices into the 543
    motion: int = 0  # frame differences added: 1 = velocity, 2 = also its change (acceleration)
    hand_local: bool = False  # each hand also relative to its wrist, scaled by its size
    hand_geometry: bool = False  # fingertip distances within each hand, and between the wrists
    graph: SkeletonGraph | None = None  # joints of a graph network, in graph order: its points
    description: str = ""

    @property
    def n_points(self) -> int:
        return len(self.points)

    def local(self, global_indices: np.ndarray) -> np.ndarray:
        """Positions within this set of the given global points (-1 where not in the set)."""
        where = {g: i for i, g in enumerate(self.points)}
        return np.array([where.get(int(g), -1) for g in global_indices])

    def hand_groups(self) -> list[np.ndarray]:
        """Local indices of each hand in this set (wrist first), for hand dropout and shapes."""
        groups = []
        for hand in (LEFT_HAND, RIGHT_HAND):
            idx = self.local(np.arange(hand.start, hand.start + hand.size))
            if (idx >= 0).all():
                groups.append(idx)
        return groups

    def mirror(self) -> np.ndarray:
        """Local permutation that swaps left and right within this set."""
        perm = mirror_permutation()[list(self.points)]
        local = self.local(perm)
        return np.where(local >= 0, local, np.arange(self.n_points))


_HANDS = tuple(points("left_hand")) + tuple(points("right_hand"))
FEATURE_SETS: dict[str, FeatureSet] = {}


def register_feature_set(fs: FeatureSet) -> FeatureSet:
    FEATURE_SETS[fs.name] = fs
    return fs


register_feature_set(FeatureSet("hands", _HANDS, description="both hands, x,y: 84 values (the seed's hands input)"))
register_feature_set(
    FeatureSet(
        "pose_hands",
        tuple(points("pose")) + _HANDS,
        description="33 pose + 42 hand points, x,y: 150 values (the seed's pose+hands input, sliced correctly)",
    )
)
register_feature_set(
    FeatureSet(
        "rich",
        tuple(UPPER_BODY) + _HANDS + tuple(FACE.start + i for i in FACE_LIPS + FACE_LEFT_EYEBROW + FACE_RIGHT_EYEBROW),
        motion=1,
        description="upper body, hands, lips and eyebrows, x,y, with frame differences: 428 values",
    )
)
# After the Google ISLR winners and SignBart: where each hand is (in the body frame) and what
# shape it makes (in its own frame) apart, their velocity and acceleration, fingertip distances.
_ARMS_FACE = (
    "NOSE",
    "LEFT_EYE",
    "RIGHT_EYE",
    "MOUTH_LEFT",
    "MOUTH_RIGHT",
    "LEFT_SHOULDER",
    "RIGHT_SHOULDER",
    "LEFT_ELBOW",
    "RIGHT_ELBOW",
    "LEFT_WRIST",
    "RIGHT_WRIST",
)
register_feature_set(
    FeatureSet(
        "hand_centred",
        tuple(point("pose", name) for name in _ARMS_FACE) + _HANDS,
        motion=2,
        hand_local=True,
        hand_geometry=True,
        description="arms, face outline and hands in the body frame, each hand also in its own frame, "
        "with velocities, accelerations and fingertip distances: 591 values",
    )
)


# For graph networks (`gcn`): SAM-SLR's 27 joints, per joint x, y and whether it was seen.
register_feature_set(
    FeatureSet(
        "graph27",
        SAM_SLR_27.points,
        graph=SAM_SLR_27,
        description="the 27 joints of SAM-SLR's graph (nose, arms, 10 points a hand), per joint x, y and "
        "seen, as the --stream view (joint, bone, joint_motion, bone_motion): 81 values, for gcn",
    )
)

STREAMS = ("joint", "bone", "joint_motion", "bone_motion")


def feature_set(name: str) -> FeatureSet:
    try:
        return FEATURE_SETS[name]
    except KeyError:
        raise SignposeError(unknown("feature set", name, FEATURE_SETS)) from None
