"""Settings are declared once: the flags, the checks, the saved config and docs/settings.md
table all follow from the declaration."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import pytest

from signpose.cli import _train_settings, build_parser
from signpose.errors import SignposeError
from signpose.learn.runtime import RuntimeConfig
from signpose.model.config import TrainConfig
from signpose.model.recipes import Recipe
from signpose.settings import Settings, build

DOCS = Path(__file__).resolve().parents[1] / "docs"


def parse(*argv):
    return _train_settings(build_parser("train").parse_args(["train", "ds", "--out", "run", *argv]))


def test_each_flag_lands_in_its_setting():
    config, runtime = parse(
        "--model",
        "lstm",
        "--frames",
        "64",
        "--lr",
        "3e-4",
        "--mirror",
        "0.5",
        "--no-early-stopping",
        "--scale-range",
        "0.9",
        "1.1",
        "--hand-relative",
        "--model-options",
        '{"unused": 1}',
        "--devices",
        "2",
        "--num-workers",
        "3",
        "--test-signer",
        "07",
        "--label-smoothing",
        "0.1",
    )
    assert config.model == "lstm" and config.test_signer == "07"
    assert config.features.frames == 64 and config.features.hand_relative
    assert config.recipe.name == "seed" and config.recipe.lr == 3e-4  # lstm's recipe, one value changed
    assert config.recipe.batch_size == 32 and not config.recipe.early_stopping and config.recipe.label_smoothing == 0.1
    assert config.augment.mirror_p == 0.5 and config.augment.scale_range == (0.9, 1.1)
    assert config.model_options == {"unused": 1}
    assert runtime.devices == "2" and runtime.num_workers == 3
    assert "devices" not in config.model_dump()  # runtime settings are not the run's identity


def test_defaults_follow_the_model_and_presets_follow_their_name():
    assert parse()[0].recipe == Recipe.preset("islr")
    assert parse("--model", "transformer")[0].recipe.lr == 1e-5
    config, _ = parse("--model", "transformer", "--recipe", "seed")
    assert config.recipe.lr == 1e-4 and config.recipe.name == "seed"
    off = parse("--augment", "off", "--mirror", "0.3")[0].augment
    assert off.rotate_p == 0 and off.mirror_p == 0.3


def test_a_config_file_with_flags_over_it(tmp_path):
    saved = build(
        TrainConfig,
        {"model": "tcn", "recipe": {"lr": 5e-4, "epochs": 7}, "features": {"frames": 40}},
    )
    path = tmp_path / "config.json"
    path.write_text(json.dumps(saved.model_dump(mode="json")))
    again, _ = parse("--config", str(path))
    assert again == saved  # a saved config reproduces the run exactly
    changed, _ = parse("--config", str(path), "--epochs", "9")
    assert changed.recipe.epochs == 9 and changed.recipe.lr == 5e-4 and changed.features.frames == 40
    # naming another recipe starts that section afresh: the file's recipe values do not leak in
    other, _ = parse("--config", str(path), "--recipe", "islr")
    assert other.recipe == Recipe.preset("islr")
    path.write_text(json.dumps({"recipe": {"epochs": "two"}}))
    with pytest.raises(
        SignposeError,
        match=r"^setting recipe.epochs \(--epochs\) must be a whole number, not 'two'$",
    ):
        parse("--config", str(path))
    path.write_text(json.dumps({"recipes": {}}))
    with pytest.raises(SignposeError, match="unknown setting 'recipes'; known here: model, split"):
        parse("--config", str(path))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"split": "sgner"}, "setting split (--split) must be one of signer, mixed, official, not 'sgner'"),
        (
            {"recipe": {"monitor": "acc"}},
            "setting recipe.monitor (--monitor) must be one of val_acc, val_loss",
        ),
        ({"features": {"frames": 0}}, "setting features.frames (--frames) must be >= 2, not 0"),
        ({"features": {"sampling": "last"}}, "must be one of resample, first"),
        (
            {"features": {"features": "body"}},
            "unknown feature set 'body'; choose one of hands, pose_hands, rich",
        ),
        (
            {"recipe": {"name": "fast"}},
            "unknown recipe 'fast'; choose one of seed, seed-transformer, islr",
        ),
        (
            {"recipe": {"batch_size": 0}},
            "setting recipe.batch_size (--batch-size) must be >= 1, not 0",
        ),
        ({"val_fraction": 1.0}, "setting val_fraction (--val-fraction) must be < 1, not 1.0"),
    ],
)
def test_bad_values_are_one_line_naming_the_setting(data, message):
    with pytest.raises(SignposeError) as caught:
        build(TrainConfig, data)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_runtime_checks():
    with pytest.raises(SignposeError, match="devices must be at least 1"):
        build(RuntimeConfig, {"devices": "0"})
    with pytest.raises(SignposeError, match=r"max_minutes \(--max-minutes\) must be > 0"):
        build(RuntimeConfig, {"max_minutes": 0})


def test_docs_settings_is_generated_from_every_declaration():
    """Regenerate with: make docs (tools/docs_settings.py)."""
    from signpose.reference import SETTINGS, settings_markdown

    text = DOCS.joinpath("settings.md").read_text("utf-8")
    assert text.endswith(settings_markdown() + "\n"), "docs/settings.md is stale: run `make docs`"
    classes = {cls for _, _, cls in SETTINGS}
    for cls in list(classes):  # and the sections nested in them (augment, recipe, features, live)
        classes |= {f.annotation for f in cls.model_fields.values() if isinstance(f.annotation, type)}
    stages = (
        "extract.holistic",
        "model.config",
        "model.features",
        "learn.augmentation",
        "recognise.live",
        "serve.config",
    )
    found = {
        cls
        for module in stages
        for cls in vars(importlib.import_module(f"signpose.{module}")).values()
        if isinstance(cls, type) and issubclass(cls, Settings) and cls.__module__ != "signpose.settings"
    }
    assert found <= classes, f"settings classes missing from docs/settings.md: {found - classes}"
    assert "--allow-origins" in text and "--model-complexity" in text and "--cooldown" in text


def test_guide_model_table_counts_what_the_models_have():
    from signpose.model.architectures import describe_models
    from signpose.model.features import FeatureConfig

    text = DOCS.joinpath("guide.md").read_text("utf-8")
    table = dict(re.findall(r"^\| `(\w+)`(?: \(default\))? \| ([\d,]+)", text, re.M))
    pose_hands = FeatureConfig(features="pose_hands")  # the table's "30 x 150 input"
    counts = {r["model"]: f"{r['parameters']:,}" for r in describe_models(pose_hands, n_classes=100)}
    assert {m: table.get(m) for m in counts} == counts
    default = TrainConfig().model
    assert f"| `{default}` (default) |" in text


def test_validation_people_are_held_out_only_where_they_choose_something():
    assert TrainConfig().val_fraction == 0.0  # islr: fixed epochs, the last weights
    assert TrainConfig(model="cnn").val_fraction == 0.0
    assert TrainConfig(model="lstm").val_fraction == 0.2  # the notebook's early stopping
    assert TrainConfig(recipe={"name": "islr", "early_stopping": True}).val_fraction == 0.2
    assert TrainConfig(recipe={"name": "islr", "keep": "best"}).val_fraction == 0.2
    assert TrainConfig(model="gcn", streams=["joint", "bone"], fusion="validation").val_fraction == 0.2
    assert TrainConfig(val_fraction=0.3).val_fraction == 0.3  # given: kept
    # the saved config is explicit, so a rerun or a resumed run resolves the same
    assert TrainConfig.model_validate(TrainConfig(model="lstm").model_dump()).val_fraction == 0.2


def test_a_model_trains_at_its_own_default_size_and_old_runs_keep_theirs():
    from signpose.model.architectures import MODELS, SignClassifier, count_parameters
    from signpose.model.features import FeaturePipeline

    config = TrainConfig()
    assert config.model_options == MODELS["islr"].options == {"dim": 96, "groups": 1}
    pipeline = FeaturePipeline(config.features)
    own = count_parameters(SignClassifier("islr", pipeline, 9))
    assert own == count_parameters(SignClassifier("islr", pipeline, 9, config.model_options))
    # a run saved before islr had default options says {} and is rebuilt at the size it trained
    old = TrainConfig.model_validate({**config.model_dump(), "model_options": {}})
    assert old.model_options == {} and count_parameters(SignClassifier("islr", pipeline, 9, {})) > 5 * own
    assert TrainConfig(model="cnn").model_options == {}  # models without default options


def test_the_guides_tables_are_generated_from_the_registries():
    """Regenerate with: make docs (tools/docs_settings.py)."""
    from signpose.data.layouts import LAYOUTS
    from signpose.model.architectures import MODELS
    from signpose.model.recipes import Recipe
    from signpose.reference import generated_tables

    text = DOCS.joinpath("guide.md").read_text("utf-8")
    for name, table in generated_tables().items():
        marked = f"<!-- {name}: generated by tools/docs_settings.py -->\n{table}<!-- /{name} -->"
        assert marked in text, f"docs/guide.md's {name} table is stale: run `make docs`"
    for registry in (LAYOUTS, MODELS, Recipe.PRESETS):
        assert all(f"| `{name}`" in text for name in registry)
