"""A synthetic multi-signer sign dataset in the real 543-point layout, without MediaPipe.

Each sign is a distinct movement of the dominant hand (a start place, a path made of
two sinusoids, a handshape that changes along the way, sometimes a moving second hand).
Each signer has their own body size, place in the frame, camera tilt, signing speed,
size of movements, hand-tracking failure rate and personal path offsets. Repetitions
add noise. So a model must learn the signs, not the signers, to recognise a signer it
has not seen: signer-independent recognition is learnable but not trivial.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import SignposeError
from ..progress import bar
from .dataset import ManifestRow
from .keypoints import KeypointSequence
from .schema import FACE, LEFT_HAND, N_POINTS, POSE, POSE_POINT_NAMES, RIGHT_HAND
from .writer import DatasetWriter, check_dataset_target

WIDTH, HEIGHT, FPS = 640, 480, 25.0

SIGN_NAMES = [
    "مرحبا hello",
    "شكرا thanks",
    "نعم yes",
    "لا no",
    "أم mother",
    "أخ brother",
    "أخت sister",
    "بيت house",
    "ماء water",
    "كتاب book",
    "مدرسة school",
    "طبيب doctor",
    "صديق friend",
    "سيارة car",
    "طعام food",
    "يوم day",
    "ليل night",
    "سعيد happy",
    "حزين sad",
    "عمل work",
]

# Body template in shoulder-width units, origin between the shoulders, y down.
# The signer's left side is on the image's right (they face the camera).
_POSE_TEMPLATE = {
    "NOSE": (0.0, -0.85),
    "LEFT_EYE_INNER": (0.05, -0.95),
    "LEFT_EYE": (0.09, -0.96),
    "LEFT_EYE_OUTER": (0.13, -0.96),
    "RIGHT_EYE_INNER": (-0.05, -0.95),
    "RIGHT_EYE": (-0.09, -0.96),
    "RIGHT_EYE_OUTER": (-0.13, -0.96),
    "LEFT_EAR": (0.2, -0.9),
    "RIGHT_EAR": (-0.2, -0.9),
    "MOUTH_LEFT": (0.06, -0.74),
    "MOUTH_RIGHT": (-0.06, -0.74),
    "LEFT_SHOULDER": (0.5, 0.0),
    "RIGHT_SHOULDER": (-0.5, 0.0),
    "LEFT_HIP": (0.33, 1.5),
    "RIGHT_HIP": (-0.33, 1.5),
    "LEFT_KNEE": (0.33, 2.5),
    "RIGHT_KNEE": (-0.33, 2.5),
    "LEFT_ANKLE": (0.33, 3.4),
    "RIGHT_ANKLE": (-0.33, 3.4),
    "LEFT_HEEL": (0.35, 3.5),
    "RIGHT_HEEL": (-0.35, 3.5),
    "LEFT_FOOT_INDEX": (0.38, 3.6),
    "RIGHT_FOOT_INDEX": (-0.38, 3.6),
}

# Hand template (hand-length units): finger base offsets from the wrist, base angle, segments.
_FINGER_BASES = np.array([[-0.22, -0.12], [-0.14, -0.55], [0.0, -0.6], [0.13, -0.55], [0.25, -0.45]])
_FINGER_ANGLES = np.radians([-55.0, -10.0, 0.0, 8.0, 18.0])
_FINGER_SEGMENTS = np.array(
    [
        [0.22, 0.18, 0.15],
        [0.26, 0.17, 0.14],
        [0.28, 0.19, 0.15],
        [0.25, 0.17, 0.14],
        [0.2, 0.14, 0.12],
    ]
)
_FACE_TEMPLATE = np.random.default_rng(12345).normal(size=(FACE.size, 2)) * [0.13, 0.17] + [
    0.0,
    -0.85,
]


@dataclass(frozen=True)
class SignDesign:
    start: np.ndarray  # (2,) start place of the dominant wrist
    amp: np.ndarray  # (2 waves, 2 axes)
    freq: np.ndarray  # (2,)
    phase: np.ndarray  # (2, 2)
    curl_from: np.ndarray  # (5,) finger curl at the start
    curl_to: np.ndarray  # (5,) at the end
    tilt: float  # hand rotation (radians)
    two_handed: bool


@dataclass(frozen=True)
class SignerStyle:
    shoulder_px: float
    centre: np.ndarray  # (2,) shoulder centre in pixels
    tilt: float  # camera roll (radians)
    speed: float  # frames multiplier
    reach: float  # movement size multiplier
    offset: np.ndarray  # (2,) habitual displacement of the signing space
    drop_rate: float  # share of frames where hand tracking fails
    noise: float


def _sign_designs(n: int, rng: np.random.Generator) -> list[SignDesign]:
    designs = []
    for k in range(n):
        # Pairs of signs share a path and differ in handshape: the hard cases.
        base = designs[k - 1] if k % 4 == 3 else None
        designs.append(
            SignDesign(
                start=base.start if base else rng.uniform([-0.6, -0.9], [0.4, 0.9]),
                amp=base.amp if base else rng.uniform(0.08, 0.4, (2, 2)) * rng.choice([-1, 1], (2, 2)),
                freq=base.freq if base else rng.choice([0.5, 1.0, 1.5, 2.0], 2),
                phase=base.phase if base else rng.uniform(0, 2 * np.pi, (2, 2)),
                curl_from=rng.uniform(0, 1, 5),
                curl_to=rng.uniform(0, 1, 5),
                tilt=float(rng.uniform(-0.6, 0.6)),
                two_handed=bool(rng.random() < 0.4),
            )
        )
    return designs


def _signer_styles(n: int, rng: np.random.Generator) -> list[SignerStyle]:
    return [
        SignerStyle(
            shoulder_px=float(rng.uniform(110, 170)),
            centre=rng.uniform([250, 190], [390, 260]),
            tilt=float(rng.uniform(-0.12, 0.12)),
            speed=float(rng.uniform(0.7, 1.4)),
            reach=float(rng.uniform(0.8, 1.25)),
            offset=rng.normal(0, 0.08, 2),
            drop_rate=float(rng.uniform(0.02, 0.12)),
            noise=float(rng.uniform(0.008, 0.02)),
        )
        for _ in range(n)
    ]


def _hand(wrist: np.ndarray, curl: np.ndarray, tilt: np.ndarray, size: float, mirror: bool) -> np.ndarray:
    """21 hand points (T, 21, 2) from wrist (T, 2), curl (T, 5), rotation (T,), all vectorised."""
    t = wrist.shape[0]
    seg_angle = _FINGER_ANGLES[None, :, None] + np.cumsum(
        np.repeat(curl[:, :, None] * np.radians(75), 3, axis=2), axis=2
    )  # (T, 5 fingers, 3 joints): each joint bends further with curl
    steps = _FINGER_SEGMENTS[None] * np.stack([np.sin(seg_angle), -np.cos(seg_angle)], -1).transpose(3, 0, 1, 2)
    joints = _FINGER_BASES.T[:, None, :, None] + np.cumsum(steps, axis=3)  # (2, T, 5, 3)
    bases = np.broadcast_to(_FINGER_BASES.T[:, None, :, None], (2, t, 5, 1))
    # MediaPipe order per finger: base (CMC/MCP) then three joints; thumb's base is the CMC.
    fingers = np.concatenate([bases, joints], axis=3).reshape(2, t, 20)
    local = np.concatenate([np.zeros((2, t, 1)), fingers], axis=2).transpose(1, 2, 0)  # (T, 21, 2)
    if mirror:
        local = local * [-1, 1]
    c, s = np.cos(tilt)[:, None], np.sin(tilt)[:, None]
    rotated = np.stack([c * local[..., 0] - s * local[..., 1], s * local[..., 0] + c * local[..., 1]], -1)
    return wrist[:, None, :] + size * rotated


def personal_version(design: SignDesign, rng: np.random.Generator) -> SignDesign:
    """How one signer habitually performs a sign: a little bigger or smaller, earlier or
    later in its path, somewhere else, with a looser or tighter handshape."""
    return SignDesign(
        start=design.start + rng.normal(0, 0.08, 2),
        amp=design.amp * rng.uniform(0.75, 1.25, (2, 2)),
        freq=design.freq,
        phase=design.phase + rng.normal(0, 0.35, (2, 2)),
        curl_from=np.clip(design.curl_from + rng.normal(0, 0.12, 5), 0, 1),
        curl_to=np.clip(design.curl_to + rng.normal(0, 0.12, 5), 0, 1),
        tilt=design.tilt + float(rng.normal(0, 0.15)),
        two_handed=design.two_handed,
    )


def synth_sequence(
    design: SignDesign, style: SignerStyle, rng: np.random.Generator, base_frames: int = 40
) -> KeypointSequence:
    """One repetition of a sign by a signer (pass the signer's `personal_version`)."""
    frames = int(np.clip(round(base_frames * style.speed * rng.uniform(0.85, 1.15)), 12, 150))
    tau = np.linspace(0, 1, frames)
    jitter = rng.normal(0, 0.03, (2, 2))
    # Body units: origin between the shoulders, one unit = shoulder width.
    waves = (design.amp + jitter)[:, None, :] * np.sin(
        2 * np.pi * design.freq[:, None, None] * tau[None, :, None] + design.phase[:, None, :]
    )
    right_wrist = design.start + style.offset + style.reach * waves.sum(0) + rng.normal(0, 0.03, 2)
    if design.two_handed:
        left_wrist = right_wrist * [-1, 1] + [0.05, 0.0]  # mirrored movement of the other hand
    else:
        left_wrist = np.tile([0.45, 1.35], (frames, 1))  # resting by the hip
    curl = design.curl_from + (design.curl_to - design.curl_from) * tau[:, None]
    curl = np.clip(curl + rng.normal(0, 0.05, 5), 0, 1)
    tilt = design.tilt + 0.3 * tau + rng.normal(0, 0.05)
    rh = _hand(right_wrist, curl, np.full(frames, -tilt), 0.45, mirror=False)
    lh = _hand(
        left_wrist,
        curl if design.two_handed else np.full((frames, 5), 0.3),
        np.full(frames, tilt),
        0.45,
        mirror=True,
    )

    body = np.zeros((frames, N_POINTS, 2))
    for name, xy in _POSE_TEMPLATE.items():
        body[:, POSE.start + POSE_POINT_NAMES.index(name)] = xy
    breathing = 0.01 * np.sin(2 * np.pi * tau * rng.uniform(0.5, 1.5))[:, None]
    body[:, POSE.slice] += breathing[:, :, None] * [0, 1]
    for side, wrist, hand in (("RIGHT", right_wrist, rh), ("LEFT", left_wrist, lh)):
        shoulder = np.array(_POSE_TEMPLATE[f"{side}_SHOULDER"])
        elbow = (shoulder + wrist) / 2 + [0.12 * np.sign(shoulder[0]), 0.35]
        body[:, POSE.start + POSE_POINT_NAMES.index(f"{side}_ELBOW")] = elbow
        body[:, POSE.start + POSE_POINT_NAMES.index(f"{side}_WRIST")] = wrist
        for name, idx in (("PINKY", 20), ("INDEX", 8), ("THUMB", 4)):
            body[:, POSE.start + POSE_POINT_NAMES.index(f"{side}_{name}")] = hand[:, idx]
    body[:, FACE.slice] = _FACE_TEMPLATE
    body[:, RIGHT_HAND.slice] = rh
    body[:, LEFT_HAND.slice] = lh
    body += rng.normal(0, style.noise, body.shape)

    c, s = np.cos(style.tilt), np.sin(style.tilt)
    rot = np.array([[c, -s], [s, c]])
    pixels = body @ rot.T * style.shoulder_px + style.centre
    xyz = np.concatenate([pixels, rng.normal(0, 0.05, (frames, N_POINTS, 1))], axis=-1)

    present = np.ones((frames, N_POINTS), bool)
    for hand_part, active in ((RIGHT_HAND, True), (LEFT_HAND, design.two_handed)):
        dropped = rng.random(frames) < (style.drop_rate if active else 0.7)  # a resting hand is rarely seen
        if active and rng.random() < 0.3:  # a burst of lost tracking
            start = rng.integers(0, max(1, frames - 6))
            dropped[start : start + rng.integers(2, 6)] = True
        present[dropped, hand_part.slice] = False
    visibility = np.full((frames, POSE.size), 0.99, np.float32)
    return KeypointSequence(xyz=xyz, present=present, fps=FPS, width=WIDTH, height=HEIGHT, visibility=visibility)


def sign_names(n: int) -> list[str]:
    return [SIGN_NAMES[i] if i < len(SIGN_NAMES) else f"إشارة {i + 1} sign {i + 1}" for i in range(n)]


def synth_dataset(
    out: str | Path,
    signers: int = 3,
    signs: int = 10,
    reps: int = 20,
    seed: int = 0,
    progress: bool = True,
    append: bool = False,
) -> Path:
    """Write a synthetic dataset folder (same format as `extract`); deterministic per seed."""
    for name, value, low in (("signers", signers, 1), ("signs", signs, 2), ("reps", reps, 1)):
        if value < low:
            raise SignposeError(f"synth --{name} must be at least {low}, not {value}")
    out = Path(out)
    check_dataset_target(out)
    rng = np.random.default_rng(seed)
    designs = _sign_designs(signs, rng)
    styles = _signer_styles(signers, rng)
    names = sign_names(signs)
    jobs = [(s, k, r) for s in range(signers) for k in range(signs) for r in range(reps)]
    personal = {
        (s, k): personal_version(designs[k], np.random.default_rng([seed, s, k, 10**6]))
        for s in range(signers)
        for k in range(signs)
    }
    meta = {
        "created_by": "synth",
        "synth": {"signers": signers, "signs": signs, "reps": reps, "seed": seed},
    }
    with DatasetWriter(out, meta, {str(k + 1): names[k] for k in range(signs)}, append=append) as writer:
        for s, k, r in bar(jobs, desc="synth", unit="seq", enabled=progress):
            seq = synth_sequence(personal[(s, k)], styles[s], np.random.default_rng([seed, s, k, r]))
            signer, sign_id = f"signer{s + 1}", str(k + 1)
            writer.add(ManifestRow(f"{signer}/{sign_id}/{r + 1}", signer, sign_id, repetition=r + 1), seq)
    return out
