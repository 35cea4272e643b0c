"""`make demo`: the whole job on data signpose makes itself, in a few minutes on 2 cores.

Generate a synthetic three-signer dataset, train the ISLR model on two signers, evaluate
on the third (never seen), export it to ONNX, and recognise one held-out sequence.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from .data.dataset import Dataset
from .data.synth import synth_dataset
from .learn.evaluation import evaluate
from .learn.training import train
from .model.config import TrainConfig
from .recognise.recognizer import Recognizer
from .settings import build


def _signpose() -> str:
    """How to call signpose from this environment (the venv's script when it is not on PATH)."""
    script = Path(sys.executable).with_name("signpose")
    if shutil.which("signpose") == str(script) or not script.exists():
        return "signpose"
    return str(script.relative_to(Path.cwd())) if script.is_relative_to(Path.cwd()) else str(script)


def run_demo(out: str | Path, epochs: int = 25, progress: bool = True, echo=print) -> dict:
    out = Path(out)
    data = out / "dataset"
    if not (data / "manifest.csv").is_file():
        echo(f"1/4 generating a synthetic dataset (3 signers x 10 signs x 20 repetitions) in {data}")
        synth_dataset(data, signers=3, signs=10, reps=20, seed=0, progress=progress)
    else:
        echo(f"1/4 using the synthetic dataset in {data}")
    run = out / "run-islr"
    # signpose's defaults (model, features, recipe), with fewer epochs so it takes minutes
    config = build(TrainConfig, {"test_signer": "signer3", "recipe": {"epochs": epochs}})
    echo(f"2/4 training '{config.model}' on signer1 and signer2 into {run} (signer3 is never seen)")
    info = train(data, run, config, progress=progress)
    echo("3/4 evaluating on signer3")
    result = evaluate(run)
    echo(
        f"    accuracy {result.accuracy:.1%}   top-5 {result.top5_accuracy:.1%}   "
        f"macro-F1 {result.macro_f1:.3f}   ({result.samples} sequences, {info.epochs_run} epochs, "
        f"{info.train_seconds:.0f} s)"
    )
    rec = Recognizer.from_run(run)
    onnx = rec.export_onnx()
    dataset = Dataset(data)
    row = dataset.rows[dataset.rows.signer == "signer3"].iloc[0]
    pred = rec.predict_sequence(dataset.read(row), top_k=3, source=row["sample"])
    echo(f"4/4 recognising held-out sequence {row['sample']} (true sign: {row['sign']}):")
    for sign_id, name, p in pred.top:
        echo(f"    {p:6.1%}  {name}  (id {sign_id})")
    echo("\nLook at:")
    for name in ("confusion.png", "curves.png", "per_class.csv", "metrics.json"):
        echo(f"    {run / name}")
    echo(f"    {onnx}  (ONNX export)")
    echo(f"    tensorboard --logdir {run / 'logs'}")
    echo(f"\nThe web app on this run (camera, clip upload, HTTP API):\n    {_signpose()} serve {run}")
    return {"result": result.as_dict(), "prediction": pred.as_dict(), "run": str(run)}
