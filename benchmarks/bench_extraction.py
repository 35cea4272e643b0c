"""Extraction speed on real sign videos, in one run (issue: foundation).

signpose extract (1 and 2 workers) against a bare loop that only decodes and calls
holistic.process, and against the seed notebook's way (draw the landmarks on every frame,
one .npy file per frame). Target: 1 worker >= 0.9x the bare loop; 2 workers >= 1.7x 1.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import report, require_shared  # noqa: E402


def videos() -> list[Path]:
    return sorted(require_shared("videos", "fingerspelling_az").glob("*.mp4")) + sorted(
        require_shared("videos", "wlasl_mini").rglob("*.mp4")
    )


def _holistic():
    import mediapipe as mp

    return mp.solutions.holistic.Holistic(
        static_image_mode=False,
        model_complexity=1,
        min_detection_confidence=0.5,
        min_tracking_confidence=0.5,
    )


def bare_loop(paths: list[Path]) -> int:
    frames = 0
    with _holistic() as holistic:
        for path in paths:
            cap = cv2.VideoCapture(str(path))
            while True:
                ok, frame = cap.read()
                if not ok:
                    break
                holistic.process(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
                frames += 1
            cap.release()
    return frames


def notebook_loop(paths: list[Path], out: Path) -> int:
    """The seed's section 2, on every frame: detection, drawing, extract_keypoints, np.save."""
    import mediapipe as mp

    mp_drawing, mp_holistic = mp.solutions.drawing_utils, mp.solutions.holistic

    def mediapipe_detection(image, model):
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        image.flags.writeable = False
        results = model.process(image)
        image.flags.writeable = True
        return cv2.cvtColor(image, cv2.COLOR_RGB2BGR), results

    def draw_styled_landmarks(image, results):
        mp_drawing.draw_landmarks(
            image,
            results.face_landmarks,
            mp_holistic.FACEMESH_TESSELATION,
            mp_drawing.DrawingSpec(color=(80, 110, 10), thickness=1, circle_radius=1),
            mp_drawing.DrawingSpec(color=(80, 256, 121), thickness=1, circle_radius=1),
        )
        mp_drawing.draw_landmarks(image, results.pose_landmarks, mp_holistic.POSE_CONNECTIONS)
        mp_drawing.draw_landmarks(image, results.left_hand_landmarks, mp_holistic.HAND_CONNECTIONS)
        mp_drawing.draw_landmarks(image, results.right_hand_landmarks, mp_holistic.HAND_CONNECTIONS)

    def extract_keypoints(results):
        pose = (
            np.array([[r.x, r.y, r.z, r.visibility] for r in results.pose_landmarks.landmark]).flatten()
            if results.pose_landmarks
            else np.zeros(33 * 4)
        )
        face = (
            np.array([[r.x, r.y, r.z] for r in results.face_landmarks.landmark]).flatten()
            if results.face_landmarks
            else np.zeros(468 * 3)
        )
        lh = (
            np.array([[r.x, r.y, r.z] for r in results.left_hand_landmarks.landmark]).flatten()
            if results.left_hand_landmarks
            else np.zeros(21 * 3)
        )
        rh = (
            np.array([[r.x, r.y, r.z] for r in results.right_hand_landmarks.landmark]).flatten()
            if results.right_hand_landmarks
            else np.zeros(21 * 3)
        )
        return np.concatenate([pose, face, lh, rh])

    frames = 0
    with _holistic() as holistic:
        for v, path in enumerate(paths):
            cap = cv2.VideoCapture(str(path))
            n = 0
            while True:
                ok, frame = cap.read()
                if not ok:
                    break
                n += 1
                image, results = mediapipe_detection(frame, holistic)
                draw_styled_landmarks(image, results)
                save_dir = out / str(v)
                os.makedirs(save_dir, exist_ok=True)
                np.save(save_dir / f"{n}.npy", extract_keypoints(results))
            frames += n
            cap.release()
    return frames


def signpose_extract(paths: list[Path], out: Path, workers: int, backend: str = "local") -> int:
    from signpose.extract.pipeline import extract_dataset

    src = out.parent / "videos"
    if not src.exists():
        src.mkdir()
        for p in paths:  # one folder per clip: the folders layout <root>/<sign>/<sample>
            (src / p.stem).mkdir(exist_ok=True)
            os.symlink(p, src / p.stem / p.name)
    report_ = extract_dataset(src, out, workers=workers, progress=False, backend=backend)
    assert not report_.failed, report_.failed
    return report_.frames


def main() -> None:
    paths = videos()
    tmp = Path(tempfile.mkdtemp(prefix="bench-extract-"))
    rows = []
    ray_start = 0.0
    try:
        bare_loop(paths[:1])  # warm the model files into the page cache
        for name, run in (
            ("bare loop (decode + holistic.process)", lambda: bare_loop(paths)),
            (
                "notebook style (draw + .npy per frame)",
                lambda: notebook_loop(paths, tmp / "mp_data"),
            ),
            ("signpose extract, 1 worker", lambda: signpose_extract(paths, tmp / "ds1", 1)),
            ("signpose extract, 2 workers", lambda: signpose_extract(paths, tmp / "ds2", 2)),
            (
                "signpose extract, ray, 2 CPUs",
                lambda: signpose_extract(paths, tmp / "ds3", 2, "ray"),
            ),
        ):
            if "ray" in name:  # a cluster is up before a job is sent to it: its start is reported apart
                import ray

                os.environ.setdefault("RAY_worker_niceness", "0")
                start = time.perf_counter()
                ray.init(
                    num_cpus=2,
                    include_dashboard=False,
                    log_to_driver=False,
                    configure_logging=False,
                )
                ray_start = time.perf_counter() - start
            start = time.perf_counter()
            frames = run()
            seconds = time.perf_counter() - start
            rows.append(
                {
                    "method": name,
                    "videos": len(paths),
                    "frames": frames,
                    "seconds": seconds,
                    "frames/s": frames / seconds,
                }
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        import ray

        ray.shutdown()
    fps = {r["method"]: r["frames/s"] for r in rows}
    one, two = fps["signpose extract, 1 worker"], fps["signpose extract, 2 workers"]
    report(
        "extraction",
        rows,
        {
            "1 worker / bare loop": one / fps["bare loop (decode + holistic.process)"],
            "1 worker / notebook style": one / fps["notebook style (draw + .npy per frame)"],
            "2 workers / 1 worker": two / one,
            "ray (2 CPUs) / local pool (2 workers)": fps["signpose extract, ray, 2 CPUs"] / two,
            "ray.init seconds (not in the ray row)": ray_start,
            "cores": os.cpu_count(),
        },
    )


if __name__ == "__main__":
    main()
