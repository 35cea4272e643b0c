"""Every settings class, as the docs show them: `signpose settings` and docs/settings.md.

The classes are declared in their stages; this module only lists them, once, so that the
reference cannot leave one out (a test compares docs/settings.md with `settings_markdown()`).
"""

from __future__ import annotations

from .extract.holistic import ExtractionConfig
from .learn.config import RuntimeConfig, TrainConfig
from .learn.features import FeatureConfig
from .recognise.config import RecognitionConfig
from .recognise.decoder import LiveConfig
from .serve.config import ServeConfig
from .settings import Settings, build, markdown_table

# (title, the commands that take it, the class)
SETTINGS: tuple[tuple[str, str, type[Settings]], ...] = (
    (
        "Run settings",
        "`train`, `cv`: what the run is; saved in `config.json`, and a rerun resumes only with the same ones",
        TrainConfig,
    ),
    (
        "Runtime settings",
        "`train`, `cv`: how this process runs it; free to change between a run and its resumption",
        RuntimeConfig,
    ),
    (
        "MediaPipe settings",
        "`extract` (and every later stage reads them back from the dataset)",
        ExtractionConfig,
    ),
    ("Feature settings", "`export-arrays` (for `train` they are the `features.*` run settings)", FeatureConfig),
    (
        "Recognition settings",
        "`predict`, `transcribe`, `live`, `evaluate` (tta, ensemble) and `serve`",
        RecognitionConfig,
    ),
    ("Live settings", "`live`, `transcribe`, and the live part of `serve`", LiveConfig),
    ("Server settings", "`serve`", ServeConfig),
)


def settings_markdown() -> str:
    """Every settings class as a Markdown section: flag, setting, allowed, default, meaning."""
    sections = []
    for title, used_by, cls in SETTINGS:
        defaults = build(cls) if cls is TrainConfig else None  # the model's own recipe resolved
        sections.append(f"## {title}\n\nUsed by {used_by}.\n\n{markdown_table(cls, defaults)}")
    return "\n\n".join(sections)
