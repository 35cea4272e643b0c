"""MediaPipe's three pose models, offline.

The mediapipe 0.10.21 wheel ships only the `full` pose model (model_complexity 1); for 0
(lite) and 2 (heavy) MediaPipe would download a file at run time, which fails offline and
is a download nobody asked for. The npm package @mediapipe/holistic, which the build
already vendors for the web page, carries all three files (its `full` is byte-identical to
the wheel's). `install` copies lite and heavy from there into mediapipe's own folder,
checked by checksum (`make install` runs it); `require` refuses a missing one in one line,
before MediaPipe could try to download it.

    python -m signpose.extract.pose_models [FOLDER]   # FOLDER: the npm package's files
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path

from ..errors import ERROR_PREFIX, SignposeError

# model_complexity -> (file, sha256), the files of @mediapipe/holistic 0.5.1675471629
POSE_MODELS = {
    0: ("pose_landmark_lite.tflite", "f17bfbecadb61c3be1baa8b8d851cc6619c870a87167b32848ad20db306b9d61"),
    1: ("pose_landmark_full.tflite", "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f"),
    2: ("pose_landmark_heavy.tflite", "59e42d71bcd44cbdbabc419f0ff76686595fd265419566bd4009ef703ea8e1fe"),
}
NAMES = {0: "lite", 1: "full", 2: "heavy"}
VENDORED = Path(__file__).resolve().parents[1] / "serve" / "static" / "vendor" / "holistic"


def mediapipe_folder() -> Path:
    """Where MediaPipe looks for its pose models (inside the installed package)."""
    import mediapipe

    return Path(mediapipe.__file__).resolve().parent / "modules" / "pose_landmark"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def require(complexity: int) -> None:
    """One line when the pose model of `complexity` is not where MediaPipe looks."""
    name, _ = POSE_MODELS[complexity]
    if not (mediapipe_folder() / name).is_file():
        raise SignposeError(
            f"the {NAMES[complexity]} pose model (--model-complexity {complexity}) is not installed: {name} is "
            f"missing from {mediapipe_folder()}; run `make install` (it copies it from the npm package "
            "@mediapipe/holistic) or `python -m signpose.extract.pose_models`, or use --model-complexity 1"
        )


def install(source: Path = VENDORED) -> list[str]:
    """Copy the lite and heavy models from `source` into MediaPipe's folder, each checked
    by its checksum (a file already there and whole is left alone). Returns what was copied."""
    target = mediapipe_folder()
    copied = []
    for complexity, (name, sha) in POSE_MODELS.items():
        if (target / name).is_file() and _sha256(target / name) == sha:
            continue
        found = Path(source) / name
        if not found.is_file():
            raise SignposeError(f"{found}: not found; run `make web` to fetch the npm package @mediapipe/holistic")
        if _sha256(found) != sha:
            raise SignposeError(f"{found}: its checksum is not the one of {NAMES[complexity]}; fetch the package again")
        tmp = target / f".{name}.tmp"
        shutil.copyfile(found, tmp)
        tmp.replace(target / name)
        copied.append(name)
    return copied


if __name__ == "__main__":
    try:
        done = install(Path(sys.argv[1]) if len(sys.argv) > 1 else VENDORED)
    except SignposeError as e:
        sys.exit(f"{ERROR_PREFIX}{e}")
    print(f"pose models: {', '.join(done) or 'all three already installed'} in {mediapipe_folder()}")
