"""`make demo`: the whole job on data signpose makes itself, in a few minutes on 2 cores.

Generate a synthetic three-signer dataset, train the ISLR model on two signers, evaluate
on the third (never seen), export it to ONNX, and recognise one held-out sequence.
"""

from __future__ import annotations

from pathlib import Path

from .config import FeatureConfig, TrainConfig


def run_demo(out: str | Path, epochs: int = 60, progress: bool = True, echo=print) -> dict:
    from .dataset import Dataset
    from .evaluation import evaluate
    from .recognition import Recognizer
    from .synth import synth_dataset
    from .training import train

    out = Path(out)
    data = out / "dataset"
    if not (data / "manifest.csv").is_file():
        echo(f"1/4 generating a synthetic dataset (3 signers x 10 signs x 20 repetitions) in {data}")
        synth_dataset(data, signers=3, signs=10, reps=20, seed=0, progress=progress)
    else:
        echo(f"1/4 using the synthetic dataset in {data}")
    run = out / "run-islr"
    config = TrainConfig(model="islr", test_signer="signer3", epochs=epochs, patience=15,
                         features=FeatureConfig(features="rich"))  # fmt: skip
    echo(f"2/4 training 'islr' on signer1 and signer2 into {run} (signer3 is never seen)")
    info = train(data, run, config, progress=progress)
    echo("3/4 evaluating on signer3")
    summary = evaluate(run)
    echo(f"    accuracy {summary['accuracy']:.1%}   top-5 {summary['top5_accuracy']:.1%}   "
         f"macro-F1 {summary['macro_f1']:.3f}   ({summary['samples']} sequences, {info['epochs_run']} epochs, "
         f"{info['train_seconds']:.0f} s)")  # fmt: skip
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
    return {"summary": summary, "prediction": pred.as_dict(), "run": str(run)}
