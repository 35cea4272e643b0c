"""The README's commands, run as written (on real frames in KArSL's layout, with a few
epochs of a small model so that they finish in a minute or two)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import time
from pathlib import Path

import pytest
from conftest import cli, free_port, shared

README = Path(__file__).resolve().parents[1] / "README.md"
FAST = ["--epochs", "2", "--model-options", '{"dim": 32, "groups": 1, "conv_blocks": 1}']


def _block(after: str, language: str) -> str:
    text = README.read_text("utf-8")
    start = text.index(after)
    found = re.search(rf"```{language}\n(.*?)```", text[start:], re.S)
    assert found, f"no {language} block after {after!r} in README.md"
    return found.group(1)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """KArSL/ with three signers (the real frames fixture, once per signer) and the label
    file, as the README's commands expect them."""
    src = shared("karsl_layout")
    work = tmp_path_factory.mktemp("readme")
    for signer in ("01", "02", "03"):
        (work / "KArSL").mkdir(exist_ok=True)
        os.symlink(src / "01", work / "KArSL" / signer)
    os.symlink(src / "labels.csv", work / "KARSL_Labels2.csv")
    os.symlink(shared("videos", "fingerspelling_az", "C.mp4"), work / "clip.mp4")
    return work


@pytest.mark.slow
def test_the_readme_commands_run_as_written(workdir):
    commands = [line.split("#")[0].strip() for line in _block("## From videos to a recogniser", "bash").splitlines()]
    commands = [c for c in commands if c.startswith("signpose ")]
    assert len(commands) >= 8
    for command in commands:
        argv = shlex.split(command)[1:]
        if argv[0] in ("train", "cv"):
            argv += FAST
        if argv[0] == "live":  # no camera here: the same command on a file, printing
            argv[argv.index("--source") + 1] = "clip.mp4"
            argv.append("--headless")
        if argv[0] == "record":  # no camera here: a clip stands in, one short take of each sign
            argv[argv.index("--camera") + 1] = "clip.mp4"
            argv[argv.index("--takes") + 1] = "1"
            argv += ["--seconds", "0.5", "--countdown", "0", "--headless"]
        if argv[0] == "serve":  # runs until stopped: ask it for its health, then stop it
            _serve_answers(argv, workdir)
            continue
        done = subprocess.run(cli(*argv), cwd=workdir, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, f"{command}\n{done.stderr[-3000:]}"
        assert "Traceback" not in done.stderr, command
    assert (workdir / "runs" / "islr-01" / "model.onnx").is_file()
    assert (workdir / "clip-annotated.mp4").stat().st_size > 0
    assert (workdir / "runs" / "islr-cv" / "cv.csv").is_file()


@pytest.mark.slow
def test_the_readme_python_example_runs(workdir):
    code = _block("Everything the CLI does is a Python call", "python")
    code = code.replace('recipe={"epochs": 200}', 'recipe={"epochs": 2}, model_options={"dim": 32, "groups": 1}')
    code = code.replace('"runs/islr-01"', '"runs/python-islr-01"')
    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        namespace: dict = {}
        exec(compile(code, "README.md", "exec"), namespace)
    finally:
        os.chdir(cwd)
    assert (workdir / "runs" / "python-islr-01" / "model.pt").is_file()


def _serve_answers(argv: list[str], workdir: Path) -> None:
    import httpx

    server = subprocess.Popen(
        cli(*argv, "--port", free_port()), cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        url = server.stdout.readline().strip()
        assert url.startswith("http://localhost:"), server.stderr.read()[-3000:]
        for _ in range(300):
            try:
                health = httpx.get(url + "api/health", timeout=2).json()
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        assert health["status"] == "ok" and health["run"] == argv[1].split("/")[-1]
    finally:
        server.terminate()
        server.wait(30)
