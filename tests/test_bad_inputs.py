"""Bad input through the real command line: exit code 2, one line that says what is wrong
(and how to fix it), no traceback, and nothing on disk changed.

To add a case, add a row to CASES: a name, the arguments (with {placeholders} for the
prepared files below), and a piece of the expected message.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SHARED, cli, shared


@pytest.fixture(scope="module")
def place(tmp_path_factory, synth_small, small_run) -> dict[str, str]:
    """Files for the cases: copies, so that nothing a test owns is shared."""
    root = tmp_path_factory.mktemp("bad")
    ds = root / "ds"
    shutil.copytree(synth_small, ds)
    run = root / "run"
    shutil.copytree(small_run, run)
    paths = {
        "root": root,
        "ds": ds,
        "run": run,
        "file": root / "a-file.txt",
        "folder": root / "a-folder",
    }
    paths["file"].write_text("not a folder")
    paths["folder"].mkdir()

    one = root / "one-signer"
    shutil.copytree(synth_small, one)
    manifest = (one / "manifest.csv").read_text("utf-8").splitlines()
    paths["one-signer"] = one
    (one / "manifest.csv").write_text(
        "\n".join(line for line in manifest if "signer2" not in line and "signer3" not in line) + "\n",
        "utf-8",
    )

    for name, text in {
        "quote": None,  # an unbalanced quote in the middle of the manifest
        "extra-field": None,  # one row with a field too many
        "empty": "",
    }.items():
        broken = root / f"manifest-{name}"
        shutil.copytree(synth_small, broken)
        lines = (broken / "manifest.csv").read_text("utf-8").splitlines()
        if name == "quote":
            lines[5] = lines[5].replace(",signer", ',"signer', 1)
        elif name == "extra-field":
            lines[5] += ",surplus"
        (broken / "manifest.csv").write_text(text if text is not None else "\n".join(lines) + "\n", "utf-8")
        paths[f"manifest-{name}"] = broken

    none_ok = root / "no-usable"  # every sample failed (as an import of zero-frame sequences leaves it)
    shutil.copytree(synth_small, none_ok)
    table = pd.read_csv(none_ok / "manifest.csv", dtype=str, keep_default_na=False)
    table["status"] = "failed"
    table.to_csv(none_ok / "manifest.csv", index=False)
    paths["no-usable"] = none_ok
    header_only = root / "header-only"
    shutil.copytree(synth_small, header_only)
    (header_only / "manifest.csv").write_text(table.columns.str.cat(sep=",") + "\n", "utf-8")
    paths["header-only"] = header_only

    writing = root / "being-written"  # a dataset another process (alive) is still writing
    shutil.copytree(synth_small, writing)
    npz = root / "small.npz"
    np.savez(npz, X=np.random.default_rng(0).random((4, 20, 258), np.float32), label=np.array(["a", "b"] * 2))
    paths["npz"] = npz

    config = root / "config-two.json"
    config.write_text(json.dumps({"recipe": {"epochs": "two"}}))
    paths["config-two"] = config
    (root / "config-true.json").write_text(json.dumps({"recipe": {"epochs": True}}))
    paths["config-true"] = root / "config-true.json"

    onnx = root / "run-bad-onnx"
    shutil.copytree(small_run, onnx)
    (onnx / "model.onnx").write_bytes(b"this is not an ONNX model")
    paths["run-bad-onnx"] = onnx

    resume = root / "run-bad-ckpt"
    (resume / "checkpoints").mkdir(parents=True)
    shutil.copy(small_run / "config.json", resume / "config.json")
    (resume / "checkpoints" / "last.ckpt").write_bytes((small_run / "checkpoints" / "last.ckpt").read_bytes()[:300])
    paths["run-bad-ckpt"] = resume

    labels = root / "labels-fake.xlsx"
    labels.write_text("SignID,Sign\n1,a\n")
    paths["labels-fake-xlsx"] = labels
    twice = root / "labels-twice.csv"
    twice.write_text("SignID,Sign\n1,أ letter A\n2,ب letter B\n1,ت letter T\n", "utf-8")
    paths["labels-twice"] = twice

    locked = root / "locked"
    locked.mkdir()
    sleeper = subprocess.Popen(["sleep", "600"])  # a live process that "holds" the lock
    for held in (locked, writing):
        (held / ".signpose.lock").write_text(f"{sleeper.pid} {os.uname().nodename} 0\n")
    paths["locked"] = locked
    paths["being-written"] = writing
    paths["karsl"] = SHARED / "karsl_layout"
    paths["clip"] = SHARED / "videos" / "wlasl_mini" / "mother" / "mother_1.mp4"
    paths["own-clip"] = root / "my-video.mp4"  # the user's own video, which nothing may replace
    if paths["clip"].is_file():
        shutil.copy(paths["clip"], paths["own-clip"])
    paths["onnx-file"] = root / "someone-elses.onnx"
    paths["onnx-file"].write_bytes(b"an onnx file of another project")
    yield {k: str(v) for k, v in paths.items()}
    sleeper.kill()


CASES = [
    # training settings
    (
        "epochs 0",
        "train {ds} --out {root}/r --epochs 0",
        "setting recipe.epochs (--epochs) must be >= 1, not 0",
    ),
    ("epochs -1", "train {ds} --out {root}/r --epochs -1", "must be >= 1, not -1"),
    # settings that passed their checks and crashed later (probes D23, D28)
    ("seed past 2**32", "train {ds} --out {root}/r --seed 4294967296", "seed + seeds - 1 must be at most 4294967295"),
    ("seeds past 2**32", "train {ds} --out {root}/r --seeds 2 --seed 4294967295", "must be at most 4294967295"),
    ("strategy bogus", "train {ds} --out {root}/r --epochs 1 --frames 16 --strategy bogus", "invalid strategy name"),
    ("gpu without one", "train {ds} --out {root}/r --epochs 1 --frames 16 --accelerator gpu", "do not work here"),
    ("validation takes all", "train {ds} --out {root}/r --epochs 1 --val-fraction 0.99", "leaves none to train"),
    (
        "model of gigabytes",
        'train {ds} --out {root}/r --epochs 1 --frames 16 --model-options {{"dim":10000000}}',
        "parameters, more than 200,000,000",
    ),
    (
        "model width -5",
        'train {ds} --out {root}/r --epochs 1 --model-options {{"dim":-5}}',
        "dim must be a whole number of at least 1, not -5",
    ),
    ("another dataset into a finished run", "train {one-signer} --out {run}", "holds a run trained on"),
    (
        "epochs two",
        "train {ds} --out {root}/r --epochs two",
        "argument --epochs: 'two' is not a whole number",
    ),
    (
        "frames 0",
        "train {ds} --out {root}/r --frames 0",
        "setting features.frames (--frames) must be >= 2, not 0",
    ),
    ("frames -3", "train {ds} --out {root}/r --frames -3", "must be >= 2, not -3"),
    ("batch 0", "train {ds} --out {root}/r --batch-size 0", "(--batch-size) must be >= 1, not 0"),
    (
        "lr -1",
        "train {ds} --out {root}/r --lr -1",
        "setting recipe.lr (--lr) must be > 0, not -1.0",
    ),
    ("devices 0", "train {ds} --out {root}/r --devices 0", "devices must be at least 1"),
    ("max-minutes 0", "train {ds} --out {root}/r --max-minutes 0", "(--max-minutes) must be > 0"),
    (
        "mirror 2",
        "train {ds} --out {root}/r --mirror 2",
        "setting augment.mirror_p (--mirror) must be <= 1, not 2.0",
    ),
    (
        "model options not JSON",
        "train {ds} --out {root}/r --model-options {{dim:",
        "argument --model-options: not valid JSON",
    ),
    ("split typo", "train {ds} --out {root}/r --split sgner", "invalid choice: 'sgner'"),
    (
        "model typo",
        "train {ds} --out {root}/r --model lsmt",
        "unknown model 'lsmt'; choose one of lstm",
    ),
    (
        "config epochs two",
        "train {ds} --out {root}/r --config {config-two}",
        "must be a whole number, not 'two'",
    ),
    (
        "config missing",
        "train {ds} --out {root}/r --config {root}/nope.json",
        "config file not found",
    ),
    ("train out is a file", "train {ds} --out {file}", "is a file; --out must be a run folder"),
    # round two of the probes (N3, N6, N12, N18)
    ("tpu without one", "train {ds} --out {root}/r --epochs 1 --frames 16 --accelerator tpu", "do not work here"),
    ("no usable samples", "train {no-usable} --out {root}/r --epochs 1", "has no usable samples (all 120 of"),
    ("header-only manifest", "train {header-only} --out {root}/r --epochs 1", "its manifest lists no samples"),
    ("mixed split, no samples", "train {no-usable} --out {root}/r --split mixed", "has no usable samples"),
    ("cv, no samples", "cv {no-usable} --out {root}/r", "has no usable samples"),
    ("arrays, no samples", "export-arrays {no-usable} --out {root}/x", "has no usable samples"),
    ("groups -3", 'train {ds} --out {root}/r --epochs 1 --model-options {{"groups":-3}}', "groups must be a whole"),
    ("groups 0", 'train {ds} --out {root}/r --epochs 1 --model-options {{"groups":0}}', "at least 1, not 0"),
    # outputs into inputs, and signpose folders of another kind (N14); a dataset still written (N11)
    ("run into its dataset", "train {ds} --out {ds}", "--out is the input itself"),
    ("run inside its dataset", "train {ds} --out {ds}/poses", "--out is inside the input"),
    ("run inside another run", "train {ds} --out {run}/checkpoints", "lies inside"),
    ("dataset into a run", "import npz {npz} --out {run}", "--out is a signpose run"),
    ("cv into a run", "cv {ds} --out {run}", "--out is a signpose run"),
    ("arrays into a run", "export-arrays {ds} --out {run}", "--out is a signpose run"),
    ("arrays into a dataset", "export-arrays {ds} --out {one-signer}", "--out is a signpose dataset"),
    ("train while extract writes", "train {being-written} --out {root}/r", "is still writing this dataset"),
    ("config epochs true", "train {ds} --out {root}/r --config {config-true}", "must be a whole number, not True"),
    (
        "one signer",
        "train {one-signer} --out {root}/r",
        "needs at least two signers, this dataset has 1",
    ),
    ("cv one signer", "cv {one-signer} --out {root}/r", "use `signpose train --split mixed`"),
    ("cv out is a file", "cv {ds} --out {file}", "is a file; --out must be a folder"),
    (
        "corrupt checkpoint",
        "train {ds} --out {run-bad-ckpt} --config {run-bad-ckpt}/config.json",
        "cannot resume from this checkpoint (truncated or damaged); delete it",
    ),
    # datasets
    (
        "manifest quote",
        "info {manifest-quote}",
        "malformed manifest (an unbalanced quote at line 6)",
    ),
    ("manifest field", "info {manifest-extra-field}", "malformed manifest (Error tokenizing data"),
    ("manifest empty", "info {manifest-empty}", "the manifest is empty"),
    ("train broken manifest", "train {manifest-quote} --out {root}/r", "malformed manifest"),
    ("info of a file", "info {file}", "is a file, not a dataset folder"),
    (
        "synth signers 0",
        "synth --out {root}/s --signers 0",
        "argument --signers: must be at least 1, not 0",
    ),
    ("synth out is a file", "synth --out {file}", "is a file; --out must be a dataset folder"),
    (
        "synth into another dataset",
        "synth --out {ds} --seed 5",
        "pass --append to add these samples",
    ),
    (
        "export-arrays frames 0",
        "export-arrays {ds} --out {root}/x --frames 0",
        "(--frames) must be >= 2, not 0",
    ),
    (
        "export-arrays out is a file",
        "export-arrays {ds} --out {file}",
        "is a file; --out must be a folder",
    ),
    (
        "import out is a file",
        "import npz {file} --out {file}",
        "is a file; --out must be a dataset folder",
    ),
    # recognition
    (
        "live stride 0",
        "live {run} --source {clip} --headless --stride 0",
        "(--stride) must be >= 1, not 0",
    ),
    (
        "live window 0",
        "live {run} --source {clip} --headless --window 0",
        "(--window) must be >= 2, not 0",
    ),
    ("no such camera", "live {run} --source 5 --headless", "camera 5: cannot be opened"),
    ("live window -1", "live {run} --source {clip} --headless --window -1", "must be >= 2, not -1"),
    (
        "export out is a folder",
        "export {run} --out {folder}",
        "is a folder; --out must be the .onnx file",
    ),
    ("export onto the run's weights", "export {run} --out {run}/model.pt", "--out must be a file ending in .onnx"),
    ("export over a file", "export {run} --out {onnx-file}", "exists; pass --force to replace it"),
    (
        "annotate into a folder",
        "predict {run} {clip} --annotate {folder}",
        "is a folder; --annotate must be the file to write",
    ),
    ("garbage onnx", "predict {run-bad-onnx} {clip} --backend onnx", "not a usable ONNX model"),
    ("unknown signer", "evaluate {run} --signer nobody", "signer 'nobody' is not in"),
    ("not a run", "evaluate {ds}", "not a training run (no run.json)"),
    ("too many test-time views", "evaluate {run} --tta 10", "setting tta (--tta) must be <= 9, not 10"),
    ("ensemble member not a run", "evaluate {run} --ensemble {ds}", "not a training run (no run.json)"),
    ("ensemble on onnx", "predict {run} {clip} --ensemble {run} --backend onnx", "run on the torch backend"),
    ("serve not a run", "serve {ds}", "not a training run (no run.json)"),
    ("serve port 0", "serve {run} --port 0", "(--port) must be >= 1, not 0"),
    ("serve upload limit", "serve {run} --max-upload-mb -1", "(--max-upload-mb) must be > 0, not -1"),
]
NEEDS_SHARED = [
    # extraction
    (
        "extract out is a file",
        "extract {karsl} --layout karsl --out {file}",
        "is a file; --out must be a dataset",
    ),
    (
        "extract fps 0",
        "extract {karsl} --layout karsl --out {root}/e --fps 0",
        "(--fps) must be > 0, not 0.0",
    ),
    (
        "extract fps -5",
        "extract {karsl} --layout karsl --out {root}/e --fps -5",
        "must be > 0, not -5.0",
    ),
    (
        "fake xlsx",
        "extract {karsl} --layout karsl --out {root}/e --labels {labels-fake-xlsx}",
        "not a readable Excel workbook",
    ),
    (
        "labels id twice",
        "extract {karsl} --layout karsl --out {root}/e --labels {labels-twice}",
        "sign id 1 appears twice (again on row 4)",
    ),
    (
        "locked dataset",
        "extract {karsl} --layout karsl --out {locked}",
        "another signpose process (pid",
    ),
    ("extract into another dataset", "extract {karsl} --layout karsl --out {ds}", "pass --append"),
    ("annotate onto its input", "predict {run} {own-clip} --annotate {own-clip}", "--annotate is the input itself"),
    ("annotate over a file", "predict {run} {own-clip} --annotate {file}", "exists; pass --force to replace it"),
]


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under root with its size and time, but derived caches."""
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if p.is_file() and "cache" not in p.parts
    }


def _check(place, args: str, expected: str) -> None:
    argv = [part.format(**place) for part in args.split()]
    root = Path(place["root"])
    before = _snapshot(root)
    done = subprocess.run(cli(*argv), capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, (done.returncode, done.stdout[-500:], done.stderr[-2000:])
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("signpose: error: "), done.stderr[-2000:]
    assert expected in lines[0], lines[0]
    assert "weights_only" not in lines[0]
    assert _snapshot(root) == before, "a failed command changed files on disk"


@pytest.mark.parametrize(("name", "args", "expected"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line(place, name, args, expected):
    _check(place, args, expected)


@pytest.mark.parametrize(("name", "args", "expected"), NEEDS_SHARED, ids=[c[0] for c in NEEDS_SHARED])
def test_bad_extraction_input_is_one_line(place, name, args, expected):
    shared("karsl_layout")
    _check(place, args, expected)
