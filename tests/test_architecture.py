"""The package's shape: stages as subpackages whose imports point one way, no cycles,
and a command line that starts without loading the heavy stages."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "signpose"

# Lower layers never import higher ones; within a layer, no cycles.
LAYERS = [
    {
        "signpose",
        "signpose.errors",
        "signpose.util",
        "signpose.settings",
        "signpose.text",
        "signpose.progress",
    },
    {"signpose.data"},
    {"signpose.extract"},
    {"signpose.model"},  # what a trained model is and how it reads points
    {"signpose.learn", "signpose.recognise"},  # training and recognition, side by side on model
    {"signpose.serve"},
    {"signpose.demo", "signpose.reference", "signpose.cli"},
]


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> int:
    for i, layer in enumerate(LAYERS):
        if module in layer or any(module.startswith(name + ".") for name in layer if name != "signpose"):
            return i
    raise AssertionError(f"{module} is in no layer; add its stage to LAYERS")


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> list[str]:
    if node.level == 0:
        base = node.module or ""
    else:
        parts = module.split(".")
        parts = parts if is_package else parts[:-1]
        parts = parts[: len(parts) - (node.level - 1)]
        base = ".".join(parts + ([node.module] if node.module else []))
    if not base.startswith("signpose"):
        return []
    return [
        f"{base}.{a.name}" if (SRC.parent / f"{base}.{a.name}".replace(".", "/")).with_suffix(".py").exists() else base
        for a in node.names
    ]


def _imports() -> tuple[dict[str, set[str]], list[tuple[str, str]]]:
    """The signpose modules each module imports (anywhere in it: the layers hold for
    imports inside functions too), and the (module, import) pairs made inside functions."""
    graph: dict[str, set[str]] = {}
    inner: list[tuple[str, str]] = []
    for path in SRC.rglob("*.py"):
        module, is_package = _module_name(path), path.name == "__init__.py"
        tree = ast.parse(path.read_text("utf-8"))
        graph[module] = set()
        for node in tree.body:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue  # annotations only
            for sub in ast.walk(node):
                if isinstance(sub, ast.ImportFrom):
                    graph[module].update(_resolve(module, is_package, sub))
                elif isinstance(sub, ast.Import):
                    graph[module].update(a.name for a in sub.names if a.name.startswith("signpose"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for sub in ast.walk(node):
                    if isinstance(sub, ast.ImportFrom) and _resolve(module, is_package, sub):
                        inner.append((module, ast.unparse(sub)))
        graph[module] = {m for m in graph[module] if m != module}
    return graph, inner


def test_layers_point_one_way():
    graph, _ = _imports()
    upward = [(m, t) for m, targets in graph.items() for t in targets if _layer(t) > _layer(m)]
    assert not upward, f"upward imports: {upward}"


def test_training_and_recognition_stand_apart():
    """learn (the trainer) and recognise both stand on model; neither imports the other,
    so recognition never loads Lightning by construction, not by care."""
    graph, _ = _imports()
    crossing = [
        (m, t)
        for m, targets in graph.items()
        for t in targets
        for a, b in (("signpose.learn", "signpose.recognise"), ("signpose.recognise", "signpose.learn"))
        if m.startswith(a) and t.startswith(b)
    ]
    assert not crossing, f"learn and recognise import each other: {crossing}"


def test_no_import_cycles():
    graph, _ = _imports()
    state: dict[str, int] = {}

    def visit(module: str, trail: list[str]) -> None:
        state[module] = 1
        for target in graph.get(module, ()):
            if state.get(target) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*trail, module, target]))
            if state.get(target) is None:
                visit(target, [*trail, module])
        state[module] = 2

    for module in graph:
        if module not in state:
            visit(module, [])


def test_only_the_command_line_imports_signpose_inside_functions():
    _, inner = _imports()
    assert all(module == "signpose.cli" for module, _ in inner), inner


@pytest.mark.parametrize(
    ("code", "absent"),
    [
        (
            "import signpose.recognise.recognizer",
            ["lightning", "signpose.learn.training"],
        ),  # inference, no trainer
        ("import signpose.serve.app", ["lightning", "signpose.learn.training"]),  # the server neither
        (
            "from signpose.cli import build_parser; build_parser('')",
            ["torch", "mediapipe", "pandas"],
        ),  # --help
    ],
)
@pytest.mark.slow
def test_what_a_module_loads(code, absent):
    check = f"import sys; {code}; print([m for m in {absent!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"


def test_every_command_builds_its_flags():
    """Flags are generated from declarations: names must be unique within each command."""
    from signpose.cli import COMMANDS, build_parser

    for name in COMMANDS:
        build_parser(name)  # argparse refuses a flag declared twice
