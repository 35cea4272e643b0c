"""Settings: each one declared once, typed and checked where it is declared.

A settings class is a pydantic model. Each field carries its type, default, allowed values
or range and a one-line description; everything else follows from that one declaration:

- `add_flags` makes the command-line flags (`--frames`, `--lr`, ...), with the help text;
- `build` checks values from flags, a JSON file or Python, and turns any problem into one
  line naming the setting, its flag and what it allows (`SignposeError`);
- `model_dump()` is the saved config, `markdown_table` the README's settings table.

Nested settings (a `TrainConfig` holds `FeatureConfig`, `Recipe`, ...) become flat flags;
flag names are unique across a command (tested). A `Preset` is settings that start from a
named, registered set of values (a training recipe, an augmentation preset): `--recipe
seed` picks one, and the flags of its fields override single values.
"""

from __future__ import annotations

import argparse
import functools
import json
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from .errors import ERROR_PREFIX, SignposeError
from .util import atomic_write_json


def unknown(kind: str, name: object, names) -> str:
    """The one message for a name that is not in a registry (models, recipes, layouts...)."""
    return f"unknown {kind} {name!r}; choose one of {', '.join(map(str, names))}"


class Settings(BaseModel):
    """Typed, checked, immutable settings; unknown keys are refused, not ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        # pydantic would read JSON's true as 1 ("epochs": true trained one epoch)
        if isinstance(value, bool) and info.field_name:
            kind = _kind(cls.model_fields[info.field_name].annotation)[0]
            if kind in ("int", "float"):
                raise PydanticCustomError(f"{kind}_type", "a number, not true or false")
        return value

    def replace(self, **changes: Any):
        """A copy with some values changed, checked like any other input."""
        return build(type(self), deep_merge(self.model_dump(), changes))


class Preset(Settings):
    """Settings that start from a named preset; values given explicitly override it.

    Subclasses define `PRESETS` (name -> values) and `KIND` (what a preset is called in
    messages); the `name` field says which preset a saved config started from.
    """

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {}
    DESCRIPTIONS: ClassVar[dict[str, str]] = {}
    KIND: ClassVar[str] = "preset"
    name: str

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if "PRESETS" not in cls.__dict__:  # each kind of preset has its own registry
            cls.PRESETS, cls.DESCRIPTIONS = {}, {}

    @model_validator(mode="before")
    @classmethod
    def _start_from_preset(cls, data: Any) -> Any:
        if isinstance(data, dict) and "name" in data:
            name = data["name"]
            if name not in cls.PRESETS:
                raise ValueError(unknown(cls.KIND, name, cls.PRESETS))
            return {**cls.PRESETS[name], **data}
        return data

    @classmethod
    def register(cls, name: str, description: str = "", **values: Any) -> None:
        cls.PRESETS[name] = {"name": name, **values}
        cls.DESCRIPTIONS[name] = description

    @classmethod
    def preset(cls, name: str):
        return build(cls, {"name": name})


# ---------------------------------------------------------------------------------------
# Checking: every problem as one line
# ---------------------------------------------------------------------------------------

_MESSAGES = {
    "greater_than_equal": "must be >= {ge}",
    "greater_than": "must be > {gt}",
    "less_than_equal": "must be <= {le}",
    "less_than": "must be < {lt}",
    "literal_error": "must be one of {expected}",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "int_type": "must be a whole number",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "string_type": "must be text",
    "dict_type": "must be a JSON object",
    "missing": "is required",
    "finite_number": "must be a finite number",
}


def _describe(error: dict, cls: type[Settings]) -> str:
    loc = [str(p) for p in error["loc"] if not isinstance(p, int)]
    path = ".".join(loc)
    kind = error["type"]
    if kind == "extra_forbidden":
        known = ", ".join(_known_fields(cls, loc[:-1]))
        return f"unknown setting {path!r}; known here: {known}"
    template = _MESSAGES.get(kind)
    ctx = {k: (f"{v:g}" if isinstance(v, int | float) else v) for k, v in (error.get("ctx") or {}).items()}
    if "expected" in ctx:
        ctx["expected"] = str(ctx["expected"]).replace("'", "").replace(" or ", ", ")
    message = template.format(**ctx) if template else error["msg"].removeprefix("Value error, ")
    flag = _flag_for(cls, tuple(loc))
    name = f"{path} ({flag})" if flag else path
    if kind in ("missing", "value_error") or "input" not in error or isinstance(error["input"], dict):
        return f"setting {name}: {message}" if path else message
    return f"setting {name} {message}, not {error['input']!r}"


def _known_fields(cls: type[Settings], loc: list[str]) -> list[str]:
    for part in loc:
        ann = cls.model_fields[part].annotation if part in cls.model_fields else None
        if not (isinstance(ann, type) and issubclass(ann, Settings)):
            return []
        cls = ann
    return list(cls.model_fields)


def build(cls: type[Settings], data: dict | Settings | None = None):
    """Check `data` against `cls`; any problem becomes one SignposeError line."""
    if isinstance(data, cls):
        return data
    if isinstance(data, Settings):
        data = data.model_dump()
    try:
        return cls.model_validate(data or {})
    except ValidationError as e:
        errors = e.errors()
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise SignposeError(_describe(errors[0], cls) + more) from None


def deep_merge(base: dict, changes: dict) -> dict:
    """`changes` over `base`, section by section. A section whose preset name changes
    starts again from the new preset: the old preset's values do not leak into it."""
    out = dict(base)
    for key, value in changes.items():
        old = out.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            if "name" in value and value.get("name") != old.get("name"):
                out[key] = dict(value)
            else:
                out[key] = deep_merge(old, value)
        else:
            out[key] = value
    return out


def load_json(path: str | Path) -> dict:
    """A JSON settings file as a dict; a missing or broken file is one line."""
    path = Path(path)
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise SignposeError(f"{path}: config file not found") from None
    except IsADirectoryError:
        raise SignposeError(f"{path}: is a folder; pass a JSON config file (e.g. RUN/config.json)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise SignposeError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise SignposeError(f"{path}: a config file holds one JSON object of settings")
    return data


def save_json(settings: Settings, path: Path) -> None:
    atomic_write_json(Path(path), settings.model_dump(mode="json"))


# ---------------------------------------------------------------------------------------
# Flags: generated from the declarations
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Flag:
    path: tuple[str, ...]  # where the value goes, e.g. ("recipe", "lr")
    flag: str  # "--lr"
    kind: str  # int | float | str | bool | pair | json | choice
    choices: tuple[str, ...]  # as typed on the command line
    values: tuple[Any, ...]  # the declared values the choices stand for (Literal[0, 1, 2]: ints)
    help: str
    default: Any

    @property
    def dest(self) -> str:
        return "setting:" + ".".join(self.path)


def _unwrap_optional(ann: Any) -> Any:
    if get_origin(ann) in (typing.Union, types.UnionType):
        args = [a for a in get_args(ann) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return ann


def _kind(ann: Any) -> tuple[str, tuple[str, ...]]:
    ann = _unwrap_optional(ann)
    if get_origin(ann) is Literal:
        return "choice", tuple(str(a) for a in get_args(ann))
    if ann is bool:
        return "bool", ()
    if ann is int:
        return "int", ()
    if ann is float:
        return "float", ()
    if get_origin(ann) is tuple:
        return "pair", ()
    if get_origin(ann) is list:
        return "list", ()
    if ann is dict or get_origin(ann) is dict:
        return "json", ()
    return "str", ()


def flags(cls: type[Settings], prefix: tuple[str, ...] = ()) -> Iterator[Flag]:
    """The flags of a settings class, nested sections flattened."""
    for name, field in cls.model_fields.items():
        ann = field.annotation
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        if extra.get("flag") is False:
            continue
        if isinstance(ann, type) and issubclass(ann, Settings):
            if issubclass(ann, Preset):
                yield Flag(
                    (*prefix, name, "name"),
                    f"--{name.replace('_', '-')}",
                    "choice",
                    tuple(ann.PRESETS),
                    tuple(ann.PRESETS),
                    f"{field.description or name}: a named {ann.KIND}; the flags below override its values",
                    None,
                )
            yield from flags(ann, (*prefix, name))
            continue
        if issubclass(cls, Preset) and name == "name":
            continue
        kind, choices = _kind(ann)
        flag = extra.get("flag") or f"--{name.replace('_', '-')}"
        yield Flag(
            (*prefix, name),
            flag,
            kind,
            choices,
            get_args(_unwrap_optional(ann)) if kind == "choice" else (),
            field.description or "",
            field.get_default(call_default_factory=True),
        )


class _OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and says where to look), not a usage dump."""

    def error(self, message: str):
        self.exit(2, f"{ERROR_PREFIX}{message} (see `{self.prog} --help`)\n")


def parser_class() -> type[argparse.ArgumentParser]:
    return _OneLineParser


def _number(kind: str):
    convert = int if kind == "int" else float

    def parse(text: str):
        try:
            return convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a {'whole number' if kind == 'int' else 'number'}"
            ) from None

    parse.__name__ = kind  # argparse names the type in its message
    return parse


def _choice(values: dict[str, Any], text: str) -> Any:
    return values.get(text, text)  # an unknown text is left for argparse to refuse with the choices


def _json_object(text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise argparse.ArgumentTypeError(f"not valid JSON ({e})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("must be a JSON object, e.g. '{\"dim\": 96}'")
    return value


_json_object.__name__ = "JSON object"


def add_flags(
    parser: argparse.ArgumentParser,
    cls: type[Settings],
    defaults: Settings | None = None,
    exclude: tuple[str, ...] = (),
    title: str | None = None,
) -> None:
    """Add one flag per setting of `cls` (but those whose dotted path is in `exclude`).
    Flags default to 'not given', so a config file or a preset supplies what the user did
    not set; the help shows the default."""
    groups: dict[str, argparse._ArgumentGroup] = {}
    shown = defaults.model_dump() if defaults is not None else None
    for f in flags(cls):
        if ".".join(f.path) in exclude:
            continue
        section = f.path[0] if len(f.path) > 1 else ""
        name = f"{section} settings" if section else (title or "settings")
        group = groups.setdefault(section, parser.add_argument_group(name))
        default = _lookup(shown, f.path) if shown is not None else f.default
        text = f.help + (f" (default: {_show(default)})" if default is not None and f.kind != "bool" else "")
        metavar = f.flag.removeprefix("--").upper().replace("-", "_")
        kwargs: dict[str, Any] = {
            "dest": f.dest,
            "default": argparse.SUPPRESS,
            "help": text,
            "metavar": metavar,
        }
        if f.kind == "bool":
            del kwargs["metavar"]
            kwargs["action"] = argparse.BooleanOptionalAction
            kwargs["help"] = f"{f.help} (default: {'on' if default else 'off'})"
        elif f.kind == "choice":
            # the flag's text becomes the declared value: "1" is 1 for Literal[0, 1, 2]
            kwargs["type"] = functools.partial(_choice, dict(zip(f.choices, f.values, strict=True)))
            kwargs["choices"] = f.values
            del kwargs["metavar"]
        elif f.kind in ("int", "float"):
            kwargs["type"] = _number(f.kind)
        elif f.kind == "pair":
            kwargs.update(nargs=2, type=_number("float"), metavar=("LOW", "HIGH"))
        elif f.kind == "json":
            kwargs["type"] = _json_object
        elif f.kind == "list":
            kwargs["nargs"] = "+"
        group.add_argument(f.flag, **kwargs)


def _lookup(data: Any, path: tuple[str, ...]) -> Any:
    for p in path:
        if not isinstance(data, dict) or p not in data:
            return None
        data = data[p]
    return data


def _show(value: Any) -> str:
    if isinstance(value, list | tuple):
        return " ".join(map(str, value)) or "none"
    return json.dumps(value) if isinstance(value, dict) else str(value)


def given(args: argparse.Namespace) -> dict:
    """The settings the user gave as flags, as a nested dict (flags not given are absent)."""
    out: dict = {}
    for dest, value in vars(args).items():
        if not dest.startswith("setting:"):
            continue
        path = dest.removeprefix("setting:").split(".")
        node = out
        for p in path[:-1]:
            node = node.setdefault(p, {})
        node[path[-1]] = list(value) if isinstance(value, tuple) else value
    return out


def _flag_for(cls: type[Settings], path: tuple[str, ...]) -> str | None:
    for f in flags(cls):
        if f.path == path or (path and f.path == (*path, "name")):
            return f.flag
    return None


def markdown_table(cls: type[Settings], defaults: Settings | None = None) -> str:
    """The README's table of settings: flag, setting, allowed values, default, meaning."""
    shown = (defaults or build(cls)).model_dump(mode="json")
    lines = ["| flag | setting | allowed | default | meaning |", "|---|---|---|---|---|"]
    for f in flags(cls):
        allowed = {
            "choice": " \\| ".join(f.choices),
            "bool": "on/off (`--no-...`)",
            "pair": "two numbers",
            "list": "one or more values",
            "json": "JSON object",
            "int": _range(cls, f.path, "whole number"),
            "float": _range(cls, f.path, "number"),
            "str": "text",
        }[f.kind]
        default = _lookup(shown, f.path)
        lines.append(f"| `{f.flag}` | `{'.'.join(f.path)}` | {allowed} | `{_show(default)}` | {f.help} |")
    return "\n".join(lines)


def _range(cls: type[Settings], path: tuple[str, ...], what: str) -> str:
    for p in path[:-1]:
        cls = cls.model_fields[p].annotation
    bounds = []
    for m in cls.model_fields[path[-1]].metadata:
        for attr, sym in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            if getattr(m, attr, None) is not None:
                bounds.append(f"{sym} {getattr(m, attr)}")
    return f"{what} {', '.join(bounds)}".strip()
