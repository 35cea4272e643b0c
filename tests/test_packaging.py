"""Installing on the Pythons people have: MediaPipe 0.10.21 (Holistic) has wheels for
Python 3.10-3.12 only, so `make` picks a supported interpreter or stops with one line,
and pip on a newer Python says why instead of a resolver dump."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess

import pytest
from conftest import ROOT


def newer_python() -> str:
    """A Python 3.13+ on this machine (PATH or pyenv), else the test skips."""
    found = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.1[3-9]*/bin/python3.1[3-9]")))
    found += [shutil.which(f"python3.{minor}") for minor in (13, 14)]
    found = [f for f in found if f and "/shims/" not in f]  # a pyenv shim runs only inside pyenv
    if not found:
        pytest.skip("no Python 3.13 or newer on this machine")
    return found[0]


def test_make_picks_a_supported_python_when_the_asked_one_is_too_new():
    if not any(shutil.which(f"python3.{minor}") for minor in (10, 11, 12)):
        pytest.skip("no supported Python on PATH")
    done = subprocess.run(["sh", "tools/pick_python.sh", newer_python()], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0
    chosen = done.stdout.strip()
    assert chosen in ("python3.12", "python3.11", "python3.10")
    assert f"which MediaPipe 0.10.21 (Holistic) does not support; using {chosen}" in done.stderr
    assert subprocess.run(["sh", "tools/pick_python.sh", "--check", chosen]).returncode == 0


def test_make_demo_stops_with_one_line_where_no_supported_python_exists(tmp_path):
    """`make demo PYTHON=python3.13` on a machine with no 3.10-3.12: one line that says why
    (MediaPipe's Holistic) and how to get one, before anything is installed."""
    bin_dir = tmp_path / "bin"  # a PATH with make, a shell and the new Python only
    bin_dir.mkdir()
    for name, target in {"make": shutil.which("make"), "sh": shutil.which("sh"), "python3.13": newer_python()}.items():
        (bin_dir / name).symlink_to(target)
    venv = tmp_path / "venv"
    done = subprocess.run(
        ["make", "demo", "PYTHON=python3.13", f"VENV={venv}"],
        cwd=ROOT,
        env={"PATH": str(bin_dir), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    ours = [line for line in done.stderr.splitlines() if line.startswith("signpose")]
    assert len(ours) == 1 and ours[0].startswith("signpose: error: python3.13 is Python 3.1"), done.stderr
    assert "has wheels for Python 3.10-3.12 only" in ours[0] and "make PYTHON=python3.12" in ours[0]
    assert not venv.exists()


def test_pip_on_a_newer_python_says_which_pythons_it_needs(tmp_path):
    """pip on 3.13 ended in "No matching distribution found for mediapipe==0.10.21". With
    MediaPipe marked for Python < 3.13, the project's own requires-python speaks first. (A
    full resolve ends with the same line, after minutes of fetching candidates: here the
    marker is checked in the metadata and pip's answer without dependencies.)"""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"].endswith("<3.13")
    mediapipe = [d for d in project["dependencies"] if d.startswith("mediapipe")]
    assert mediapipe == ["mediapipe==0.10.21; python_version < '3.13'"]
    python = newer_python()
    subprocess.run([python, "-m", "venv", tmp_path / "venv"], check=True)
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".venv", ".git", "build", "*-output", "vendor"))
    done = subprocess.run(
        [tmp_path / "venv" / "bin" / "pip", "install", "--no-deps", "--dry-run", str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode != 0
    errors = [line for line in done.stderr.splitlines() if line.startswith("ERROR")]
    assert errors and "requires a different Python" in errors[0] and "<3.13" in errors[0], done.stderr[-1500:]
