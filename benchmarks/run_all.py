"""The speed benchmarks, one after another: `make bench`. Tables go to stdout and
bench-output/. The accuracy studies (hours of CPU) run apart: `make accuracy`
(bench_people) and `python benchmarks/run_all.py bench_accuracy` (synthetic, 0.2's record)."""

import runpy
import sys
from pathlib import Path

HERE = Path(__file__).parent
BENCHMARKS = [
    "bench_extraction",
    "bench_data",
    "bench_recognition",
    "bench_training",
    "bench_serve",
    "bench_web",
]

if __name__ == "__main__":
    chosen = sys.argv[1:] or BENCHMARKS
    sys.path.insert(0, str(HERE))
    for name in chosen:
        print(f"\n##### {name}", flush=True)
        runpy.run_path(str(HERE / f"{name}.py"), run_name="__main__")
