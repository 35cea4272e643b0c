"""Skeleton graphs over the schema's points, for graph networks: joints by name, and the
parent of each joint (its bone runs from the parent to it), declared once here.

`SAM_SLR_27` is the 27-point graph of SAM-SLR (Jiang et al., CVPR Workshops 2021): the
nose, both shoulders, elbows and wrists from the body, and ten points a hand (its wrist,
the thumb tip, and the base and tip of each other finger). Its edges form a tree rooted
at the nose: nose -> shoulder -> elbow -> body wrist -> hand wrist -> finger base -> tip.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .schema import point


@dataclass(frozen=True)
class SkeletonGraph:
    """Joints as (part, landmark name) and, per joint, the joint its bone starts at (None
    for the root). Everything else (indices into the 543, edges, adjacency) follows."""

    name: str
    joints: tuple[tuple[str, str], ...]
    parents: tuple[tuple[str, str] | None, ...]

    def __post_init__(self) -> None:
        if len(self.joints) != len(self.parents) or len(set(self.joints)) != len(self.joints):
            raise ValueError(f"graph {self.name}: one parent per joint, and every joint once")
        unknown = {p for p in self.parents if p is not None} - set(self.joints)
        if unknown:
            raise ValueError(f"graph {self.name}: parents that are not joints: {sorted(unknown)}")

    @property
    def size(self) -> int:
        return len(self.joints)

    @cached_property
    def points(self) -> tuple[int, ...]:
        """Global indices (0..542) of the joints, in graph order."""
        return tuple(point(part, name) for part, name in self.joints)

    @cached_property
    def parent_index(self) -> np.ndarray:
        """(V,) the index of each joint's parent within the graph (the root: itself)."""
        where = {j: i for i, j in enumerate(self.joints)}
        return np.array([where[p] if p is not None else i for i, p in enumerate(self.parents)])

    @cached_property
    def edges(self) -> list[tuple[int, int]]:
        """(parent, child) pairs, one per bone."""
        return [(int(p), c) for c, p in enumerate(self.parent_index) if p != c]

    def adjacency(self) -> np.ndarray:
        """(3, V, V): the self links, the inward links (child to parent) and the outward ones,
        each column-normalised: the spatial partitioning of ST-GCN that SL-GCN starts from."""
        v = self.size
        a = np.zeros((3, v, v), np.float32)
        a[0] = np.eye(v)
        for parent, child in self.edges:
            a[1, parent, child] = 1  # a parent gathers from its child
            a[2, child, parent] = 1  # a child gathers from its parent
        for k in (1, 2):
            degree = a[k].sum(0)
            a[k] = a[k] / np.where(degree > 0, degree, 1)
        return a


_FINGERS = (
    ("INDEX_FINGER_MCP", "INDEX_FINGER_TIP"),
    ("MIDDLE_FINGER_MCP", "MIDDLE_FINGER_TIP"),
    ("RING_FINGER_MCP", "RING_FINGER_TIP"),
    ("PINKY_MCP", "PINKY_TIP"),
)


def _sam_slr_27() -> SkeletonGraph:
    joints: list[tuple[str, str]] = [("pose", "NOSE")]
    parents: list[tuple[str, str] | None] = [None]
    for side in ("LEFT", "RIGHT"):
        hand = f"{side.lower()}_hand"
        chain = [("pose", f"{side}_SHOULDER"), ("pose", f"{side}_ELBOW"), ("pose", f"{side}_WRIST"), (hand, "WRIST")]
        parent = ("pose", "NOSE")
        for joint in chain:
            joints.append(joint)
            parents.append(parent)
            parent = joint
        joints.append((hand, "THUMB_TIP"))
        parents.append((hand, "WRIST"))
        for base, tip in _FINGERS:
            joints += [(hand, base), (hand, tip)]
            parents += [(hand, "WRIST"), (hand, base)]
    return SkeletonGraph("sam-slr-27", tuple(joints), tuple(parents))


SAM_SLR_27 = _sam_slr_27()
GRAPHS: dict[str, SkeletonGraph] = {SAM_SLR_27.name: SAM_SLR_27}
