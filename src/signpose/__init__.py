"""signpose: pose-based isolated sign language recognition.

Extract MediaPipe Holistic keypoints from sign videos, store them as pose-format files,
train sequence classifiers signer-independently, and recognise signs in new videos and
live streams.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("signpose")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0"

__all__ = ["__version__"]
