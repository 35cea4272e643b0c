"""The settings of `signpose serve`, declared once: flags, checks and docs follow from here."""

from __future__ import annotations

from pydantic import Field

from ..recognise.config import RecognitionConfig
from ..recognise.decoder import LiveConfig
from ..settings import Settings


class ServeConfig(Settings):
    """How the web app serves a run."""

    host: str = Field(
        "127.0.0.1",
        description="address to bind; 127.0.0.1 serves this machine only, 0.0.0.0 every network it is on",
    )
    port: int = Field(8000, ge=1, le=65535, description="TCP port")
    recognition: RecognitionConfig = Field(default_factory=RecognitionConfig, description="the classifier")
    workers: int = Field(
        2,
        ge=1,
        le=64,
        description="MediaPipe passes at once (uploads and frames-mode streams); more are refused or dropped",
    )
    max_frame_streams: int = Field(
        8, ge=0, le=1024, description="frames-mode live streams at once (each holds a MediaPipe graph)"
    )
    max_upload_mb: float = Field(50.0, gt=0, le=4096, description="largest video upload, MB")
    max_upload_frames: int = Field(
        3000, ge=1, le=1_000_000, description="longest video upload, in frames (a sign is seconds long)"
    )
    max_frame_side: int = Field(
        4096,
        ge=64,
        le=16384,
        description="largest frame side in pixels, of an upload's video and of a frames-mode JPEG; refused "
        "before decoding (4K fits; MediaPipe looks at 256 px, so more only costs memory)",
    )
    max_upload_megapixels: float = Field(
        6300,
        gt=0,
        le=1_000_000,
        description="decoded pixels an upload may hold, all frames together, in millions "
        "(3000 frames of 1920x1080 are 6221)",
    )
    upload_seconds: float = Field(
        60.0, gt=0, le=3600, description="time a client has to send its whole upload; a slower one gets 408"
    )
    allow_origins: list[str] = Field(
        default_factory=list,
        description="other web origins (e.g. https://app.example) whose pages may use this server; "
        "its own address always may",
    )
    max_live_fps: float = Field(
        60.0, gt=0, le=1000, description="landmark messages per second a live client may send; more are dropped"
    )
    live: LiveConfig = Field(default_factory=LiveConfig, description="live recognition (window, hold-to-commit)")
    dataset: str | None = Field(
        None,
        description="a dataset folder the page records takes into (its Record view: your own signs, "
        "as `signpose record` names them; a reload resumes the count)",
    )
