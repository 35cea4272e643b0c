"""How a run classifies, declared once: `predict`, `transcribe`, `live`, `evaluate` and
`serve` take these settings (their flags, checks and docs follow from here)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from ..model.inference import MAX_TTA
from ..settings import Settings
from . import BACKENDS
from .recognizer import Recognizer


class RecognitionConfig(Settings):
    """The classifier behind recognition: its backend, test-time views and other runs."""

    backend: Literal[BACKENDS] = Field("torch", description="classifier backend (onnx needs `signpose export`)")
    tta: int = Field(
        1, ge=1, le=MAX_TTA, description="average N views of each sign (small rotations and scalings; 1 = off)"
    )
    ensemble: list[str] = Field(
        default_factory=list, description="other runs of the same signs; their probabilities are averaged with RUN's"
    )
    top_k: int = Field(5, ge=1, le=100, description="signs listed per prediction")

    def recognizer(self, run: str | Path) -> Recognizer:
        """The run's Recognizer with these settings."""
        return Recognizer(run, backend=self.backend, ensemble=self.ensemble, tta=self.tta)
