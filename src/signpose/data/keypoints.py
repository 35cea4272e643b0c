"""One video's keypoints in memory, and their `.pose` file on disk.

A `KeypointSequence` holds all frames of one sample in the 543-point layout of
`signpose.schema` with a presence mask: a part MediaPipe did not detect is absent,
never a zero that looks like a point at the image corner.

On disk each sample is one pose-format file with the holistic header that
pose-format's own MediaPipe loader writes (pose, face, hands, pose world landmarks;
x and y in pixels, confidence 0 = absent), so pose-format's tools open it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import SignposeError
from ..util import atomic_write_bytes
from .schema import LEFT_HAND, N_POINTS, PARTS, POSE, POSE_FORMAT_POINTS, RIGHT_HAND

# pose-format treats confidence 0 as absent; a detected pose point whose visibility
# rounds to 0 must still count as detected.
_MIN_CONFIDENCE = 1e-4


@dataclass
class KeypointSequence:
    """All frames of one sample: xyz (T, 543, 3) float32 and present (T, 543) bool.

    x and y are in pixels of a `width` x `height` frame (1 x 1 when the source only had
    image-normalised coordinates); z is MediaPipe's relative depth.
    """

    xyz: np.ndarray
    present: np.ndarray
    fps: float
    width: int
    height: int
    visibility: np.ndarray | None = None  # (T, 33) pose visibility
    world: np.ndarray | None = field(default=None, repr=False)  # (T, 33, 3) pose world points

    def __post_init__(self) -> None:
        self.xyz = np.asarray(self.xyz, dtype=np.float32)
        self.present = np.asarray(self.present, dtype=bool)
        if self.xyz.shape[1:] != (N_POINTS, 3) or self.present.shape != self.xyz.shape[:2]:
            raise SignposeError(
                f"keypoints must be (frames, {N_POINTS}, 3) with a (frames, {N_POINTS}) mask, "
                f"got {self.xyz.shape} and {self.present.shape}"
            )

    @property
    def frames(self) -> int:
        return self.xyz.shape[0]

    @property
    def timestamps(self) -> np.ndarray:
        """Seconds from the first frame."""
        return np.arange(self.frames, dtype=np.float64) / (self.fps or 1.0)

    def part_present(self) -> np.ndarray:
        """(T, 4) bool: which of pose, face, left hand, right hand were detected per frame."""
        return np.stack([self.present[:, p.slice].any(axis=1) for p in PARTS], axis=1)

    def hands_per_frame(self) -> np.ndarray:
        """(T,) bool: frames in which either hand was detected."""
        return self.present[:, LEFT_HAND.slice].any(axis=1) | self.present[:, RIGHT_HAND.slice].any(axis=1)

    def hands_seen(self) -> bool:
        """Whether a hand was detected in any frame: without one there is no sign to read."""
        return bool(self.hands_per_frame().any())

    def person_seen(self) -> bool:
        """Whether a body or a hand was detected in any frame."""
        return bool(self.present[:, POSE.slice].any()) or self.hands_seen()

    def placed_at(self, positions: np.ndarray) -> KeypointSequence:
        """The frames put at their positions in the original clip (frame numbers), the
        frames between them absent: times follow the numbers, not the count."""
        index = np.asarray(positions, dtype=np.int64) - int(positions[0])
        length = int(index[-1]) + 1

        def spread(values: np.ndarray | None) -> np.ndarray | None:
            if values is None:
                return None
            out = np.zeros((length, *values.shape[1:]), dtype=values.dtype)
            out[index] = values
            return out

        return KeypointSequence(
            spread(self.xyz), spread(self.present), self.fps, self.width, self.height,
            spread(self.visibility), spread(self.world),
        )  # fmt: skip

    def image_normalised(self) -> np.ndarray:
        """x and y divided by the frame size: MediaPipe's own [0, 1] units, as the seed uses."""
        scale = np.array([self.width, self.height, 1.0], dtype=np.float32)
        return self.xyz / scale


# ---------------------------------------------------------------------------------------
# pose-format files
# ---------------------------------------------------------------------------------------


def _holistic_header(width: int, height: int):
    from pose_format.pose_header import PoseHeader, PoseHeaderDimensions
    from pose_format.utils.holistic import holistic_components

    return PoseHeader(
        version=0.2,
        dimensions=PoseHeaderDimensions(width=int(width), height=int(height), depth=0),
        components=holistic_components("XYZC"),
    )


def to_pose(seq: KeypointSequence):
    """The sequence as a pose-format `Pose` with the holistic header (576 points)."""
    from pose_format import Pose
    from pose_format.numpy.pose_body import NumPyPoseBody

    t = seq.frames
    data = np.zeros((t, 1, POSE_FORMAT_POINTS, 3), dtype=np.float32)
    conf = np.zeros((t, 1, POSE_FORMAT_POINTS), dtype=np.float32)
    data[:, 0, :N_POINTS] = np.where(seq.present[..., None], seq.xyz, 0)
    conf[:, 0, :N_POINTS] = seq.present
    if seq.visibility is not None:
        vis = np.maximum(seq.visibility, _MIN_CONFIDENCE)
        conf[:, 0, POSE.slice] = np.where(seq.present[:, POSE.slice], vis, 0)
    if seq.world is not None:
        pose_seen = seq.present[:, POSE.slice]
        data[:, 0, N_POINTS:] = np.where(pose_seen[..., None], seq.world, 0)
        conf[:, 0, N_POINTS:] = conf[:, 0, POSE.slice]
    body = NumPyPoseBody(fps=float(seq.fps), data=data, confidence=conf)
    return Pose(_holistic_header(seq.width, seq.height), body)


def from_pose(pose) -> KeypointSequence:
    """A pose-format holistic `Pose` (543 or 576 points) as a KeypointSequence."""
    names = [c.name for c in pose.header.components]
    expected = [p.component for p in PARTS]
    if names[: len(expected)] != expected:
        raise SignposeError(
            f"not a MediaPipe Holistic pose file: components {names}; "
            f"expected {expected} (as pose-format's holistic loader writes)"
        )
    raw = np.asarray(pose.body.data.data if hasattr(pose.body.data, "data") else pose.body.data)
    conf = np.asarray(pose.body.confidence)
    xyz = raw[:, 0, :N_POINTS, :3].astype(np.float32)
    c = conf[:, 0, :N_POINTS]
    present = c > 0
    world = None
    if raw.shape[2] >= POSE_FORMAT_POINTS:
        world = raw[:, 0, N_POINTS:POSE_FORMAT_POINTS, :3].astype(np.float32)
    dims = pose.header.dimensions
    return KeypointSequence(
        xyz=np.where(present[..., None], xyz, 0),
        present=present,
        fps=float(pose.body.fps),
        width=int(dims.width),
        height=int(dims.height),
        visibility=c[:, POSE.slice].astype(np.float32),
        world=world,
    )


def write_pose(path: str | Path, seq: KeypointSequence) -> None:
    """Write a sequence as a `.pose` file, atomically."""
    buffer = io.BytesIO()
    to_pose(seq).write(buffer)
    atomic_write_bytes(Path(path), buffer.getvalue())


@lru_cache(maxsize=1)
def _pose_sizes() -> tuple[int, int]:
    """(bytes of a 1-frame file, bytes per further frame) of what `write_pose` writes."""
    sizes = []
    for frames in (1, 2):
        empty = KeypointSequence(np.zeros((frames, N_POINTS, 3)), np.zeros((frames, N_POINTS), bool), 30.0, 1, 1)
        buffer = io.BytesIO()
        to_pose(empty).write(buffer)
        sizes.append(len(buffer.getvalue()))
    return sizes[0], sizes[1] - sizes[0]


def pose_file_complete(path: Path, frames: int) -> bool:
    """Whether a `.pose` file has the size `write_pose` gives `frames` frames: a cheap
    check (one stat) that finds truncated or damaged files without reading them."""
    try:
        size = Path(path).stat().st_size
    except OSError:
        return False
    first, per_frame = _pose_sizes()
    return frames > 0 and size == first + per_frame * (frames - 1)


def read_pose(path: str | Path, own: bool = True, made_by: str = "extract") -> KeypointSequence:
    """Read a holistic `.pose` file; a damaged file raises SignposeError naming it. `own`:
    the file is a dataset's own, made by the command `made_by` (which can make it again),
    not a user's source file."""
    from pose_format import Pose

    path = Path(path)
    if not own:
        missing, damaged = ("check the path in the mapping file", "check that it is a MediaPipe holistic .pose file")
    elif made_by == "extract":
        missing, damaged = ("re-run extraction to recreate it", "delete it and re-run extraction to recreate it")
    else:  # nothing to extract: the command that made the dataset makes it again
        missing = damaged = f"the dataset was made by `signpose {made_by}`: run it again into a new folder"
    try:
        payload = path.read_bytes()
        pose = Pose.read(payload)
        seq = from_pose(pose)
    except SignposeError as e:
        raise SignposeError(f"{path}: {e}") from None
    except FileNotFoundError:
        raise SignposeError(f"{path}: pose file is missing; {missing}") from None
    except IsADirectoryError:
        raise SignposeError(f"{path}: is a folder, not a pose file; {missing}") from None
    except Exception as e:  # pose-format raises assorted errors on truncated files
        raise SignposeError(f"{path}: unreadable pose file ({type(e).__name__}: {e}); {damaged}") from None
    return seq
