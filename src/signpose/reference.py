"""Every settings class, as the docs show them: `signpose settings` and docs/settings.md.

The classes are declared in their stages; this module only lists them, once, so that the
reference cannot leave one out (a test compares docs/settings.md with `settings_markdown()`).
"""

from __future__ import annotations

from .data.layouts import layout_table
from .extract.holistic import ExtractionConfig
from .extract.record import RecordConfig
from .learn.evaluation import EvaluationConfig
from .learn.runtime import RuntimeConfig
from .model.architectures import MODELS, describe_models
from .model.config import TrainConfig
from .model.features import FEATURE_SETS, FeatureConfig
from .model.recipes import Recipe
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
        "`extract`, `record` (and every later stage reads them back from the dataset)",
        ExtractionConfig,
    ),
    ("Recording settings", "`record`", RecordConfig),
    ("Feature settings", "`export-arrays` (for `train` they are the `features.*` run settings)", FeatureConfig),
    (
        "Recognition settings",
        "`predict`, `transcribe`, `live`, `evaluate` (tta, ensemble) and `serve`",
        RecognitionConfig,
    ),
    ("Evaluation settings", "`evaluate`", EvaluationConfig),
    ("Live settings", "`live`, `transcribe`, the live part of `serve`, and `export --web`", LiveConfig),
    ("Server settings", "`serve`", ServeConfig),
)


def settings_markdown() -> str:
    """Every settings class as a Markdown section: flag, setting, allowed, default, meaning."""
    sections = []
    for title, used_by, cls in SETTINGS:
        defaults = build(cls) if cls is TrainConfig else None  # the model's own recipe resolved
        sections.append(f"## {title}\n\nUsed by {used_by}.\n\n{markdown_table(cls, defaults)}")
    return "\n\n".join(sections)


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|")


def model_table() -> str:
    """docs/guide.md's table of models, from the model registry (sizes on the meta device)."""
    default = TrainConfig.model_fields["model"].default
    lines = ["| model | parameters (30 x 150 input, 100 signs) | default recipe | origin |", "|---|---|---|---|"]
    for row in describe_models(FeatureConfig(features="pose_hands")):
        spec = MODELS[row["model"]]
        name = f"`{spec.name}`" + (" (default)" if spec.name == default else "")
        size = f"{row['parameters']:,}" + (
            f" (on its own `{spec.features}` input, {row['input']})" if spec.features else ""
        )
        lines.append(f"| {name} | {size} | `{spec.recipe}` | {_cell(spec.origin)} |")
    return "\n".join(lines) + "\n"


def recipe_table() -> str:
    """docs/guide.md's table of training recipes, from the recipe registry."""
    lines = ["| recipe | default of | what |", "|---|---|---|"]
    for name, description in Recipe.DESCRIPTIONS.items():
        users = ", ".join(f"`{m}`" for m, spec in MODELS.items() if spec.recipe == name)
        lines.append(f"| `{name}` | {users} | {_cell(description)} |")
    return "\n".join(lines) + "\n"


def feature_table() -> str:
    """docs/guide.md's table of feature sets, from their registry."""
    default = FeatureConfig().features
    lines = ["| feature set | what |", "|---|---|"]
    for name, fs in FEATURE_SETS.items():
        lines.append(f"| `{name}`{' (default)' if name == default else ''} | {_cell(fs.description)} |")
    return "\n".join(lines) + "\n"


def generated_tables() -> dict[str, str]:
    """The tables docs/guide.md holds between `<!-- NAME: generated ... -->` markers."""
    return {
        "layouts": layout_table(),
        "models": model_table(),
        "recipes": recipe_table(),
        "feature sets": feature_table(),
    }
