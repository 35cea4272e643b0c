"""The page's Train button (`serve --dataset`): one training job at a time on the recorded
dataset, as `signpose train` in a process of its own (the server never loads the trainer;
cancelling stops that process, and its run folder stays resumable like any other). The
default model and recipe; signer-independent when the dataset has 2 or more signers (the
last one tested), held-out takes otherwise. Progress is the run's own progress file
(`--progress-file`). A job that failed resumes in its folder when Train is pressed again
with the same epochs and takes. When it finishes, the server loads the run and the page
recognises with it; the folder is an ordinary run (`evaluate`, `export` work on it)."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from ..data.dataset import Dataset
from ..errors import ERROR_PREFIX, SignposeError


class TrainJob:
    """At most one training process; `status()` says where it is."""

    def __init__(self, dataset: Path, on_done: Callable[[Path], str]):
        self.dataset, self.on_done = Path(dataset), on_done
        self.runs = self.dataset.parent / f"{self.dataset.name}-runs"  # beside the dataset, never inside it
        self.lock = threading.Lock()
        self.process: subprocess.Popen | None = None
        self.state: dict = {"state": "idle"}
        self._takes: tuple[str, ...] = ()  # the samples the last job trained on

    def start(self, epochs: int) -> dict:
        with self.lock:
            if self.process is not None and self.process.poll() is None:
                raise SignposeError("a training job is running already; wait for it or cancel it")
            rows = Dataset(self.dataset).rows if (self.dataset / "manifest.csv").is_file() else []
            if len(rows) == 0:
                raise SignposeError("nothing recorded yet; record takes of at least two signs first")
            signs, signers = sorted(set(rows.sign_id)), sorted(set(rows.signer))
            if len(signs) < 2:
                raise SignposeError(f"training needs takes of at least two signs; there are {len(signs)}")
            takes = tuple(sorted(rows["sample"]))
            # a job that failed (a full disk, say) resumes in its own folder, as a rerun of the
            # command would: same epochs, same takes; anything else is a new run
            resume = self.state["state"] == "failed" and (self.state["epochs"], self._takes) == (epochs, takes)
            if resume:
                run = self.runs / self.state["run"]
            else:
                n = 1 + max((int(p.name[4:]) for p in self.runs.glob("run-*") if p.name[4:].isdigit()), default=0)
                run = self.runs / f"run-{n}"
            split = ["--split", "signer"] if len(signers) >= 2 else ["--split", "mixed"]
            self.runs.mkdir(parents=True, exist_ok=True)
            progress = self.runs / f".{run.name}.progress.json"
            cmd = [sys.executable, "-m", "signpose.cli", "train", str(self.dataset), "--out", str(run), *split,
                   "--epochs", str(epochs), "--progress-file", str(progress)]  # fmt: skip
            self.log = open(self.runs / f"{run.name}.log", "a" if resume else "w", encoding="utf-8")  # noqa: SIM115 (closed at its end)
            self.process = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
            how = (
                f"signer-independent: tested on {signers[-1]}, trained on the other {len(signers) - 1}"
                if len(signers) >= 2
                else "one signer: tested on held-out takes (a second person makes it signer-independent)"
            )
            self.state = {
                "state": "running",
                "run": run.name,
                "epochs": epochs,
                "epoch": 0,
                "split": how,
                "resumed": resume,
            }
            self._progress, self._run, self._takes = progress, run, takes
            threading.Thread(target=self._wait, daemon=True).start()
            return dict(self.state)

    def _wait(self) -> None:
        code = self.process.wait()
        self.log.close()
        with self.lock:
            if self.state["state"] == "cancelled":
                return
            if code == 0:
                try:
                    name = self.on_done(self._run)
                    self.state = {**self.state, "state": "done", "run": name, "epoch": self.state["epochs"]}
                except SignposeError as e:
                    self.state = {**self.state, "state": "failed", "message": str(e)}
            else:
                tail = Path(self.log.name).read_text("utf-8", "replace").strip().splitlines()
                errors = [line for line in tail if line.startswith(ERROR_PREFIX)] or tail[-1:] or ["no output"]
                self.state = {**self.state, "state": "failed", "message": errors[-1].removeprefix(ERROR_PREFIX)}

    def status(self) -> dict:
        with self.lock:
            state = dict(self.state)
        if state["state"] == "running" and self._progress.is_file():
            with contextlib.suppress(ValueError):  # being replaced this instant: the next look reads it
                state.update(json.loads(self._progress.read_text()))
        return state

    def cancel(self) -> dict:
        with self.lock:
            if self.process is None or self.process.poll() is not None:
                raise SignposeError("no training job is running")
            self.state = {**self.state, "state": "cancelled"}
            self.process.terminate()
        return self.status()

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
