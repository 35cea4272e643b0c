"""Where the per-sample work runs: a local process pool or Ray actors, behind one call.

Each worker process holds one MediaPipe graph (`worker_extractor()`), built once and
reused for every sample it gets. `run_jobs(fn, jobs, ...)` yields fn's results as
samples finish, in any order.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Literal

from ..errors import SignposeError
from ..settings import unknown
from ..util import available_cpus
from .holistic import ExtractionConfig, HolisticExtractor

Backend = Literal["local", "ray"]
BACKENDS: tuple[str, ...] = ("local", "ray")

_worker: dict = {}


def _init_worker(config: ExtractionConfig) -> None:
    _worker["extractor"] = HolisticExtractor(config)


def worker_extractor() -> HolisticExtractor:
    """This worker's MediaPipe graph (inside a job function)."""
    return _worker["extractor"]


def run_local(
    fn: Callable, jobs: list, workers: int, config: ExtractionConfig, lost: Callable[[Any], Any] | None = None
) -> Iterator:
    """fn over jobs in `workers` processes, yielded as they finish; in this process when
    one worker is enough. A worker that dies (the OOM killer, a crash inside MediaPipe)
    breaks the pool: the jobs it took down are tried once more in a fresh pool, and a job
    that breaks that one too is given up as `lost(job)`, so the others always finish."""
    if workers <= 1 or len(jobs) <= 1:
        _init_worker(config)
        try:
            for job in jobs:
                yield fn(job)
        finally:
            _worker.pop("extractor").close()
        return
    broken = yield from _pool(fn, jobs, workers, config)
    for job in broken:  # one pool each: only the job that kills its worker is given up
        if (yield from _pool(fn, [job], 1, config)):
            if lost is None:
                raise SignposeError("an extraction worker died twice on the same job; see the system log")
            yield lost(job)


def _pool(fn: Callable, jobs: list, workers: int, config: ExtractionConfig):
    """Yields fn's results from a process pool; returns the jobs a dead worker took down."""
    ctx = mp.get_context("spawn")  # a fresh interpreter per worker: no inherited graph state
    broken = []
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=(config,)) as pool:
        futures = {pool.submit(fn, job): job for job in jobs}
        for future in as_completed(futures):
            try:
                result = future.result()
            except BrokenProcessPool:
                broken.append(futures[future])
                continue
            yield result
    return broken


class _RayWorker:
    """A Ray actor: one MediaPipe graph per worker process, reused across videos."""

    def __init__(self, config: ExtractionConfig):
        _init_worker(config)

    def run(self, fn, job):
        return fn(job)


def run_ray(
    fn: Callable,
    jobs: list,
    workers: int | None,
    config: ExtractionConfig,
    address: str | None = None,
) -> Iterator:
    """fn over jobs on Ray actors, yielded as they finish. Starts a local Ray instance
    unless one is running or `address` names a cluster (signpose must be installed on
    every node, and the output folder must be on a filesystem they all share)."""
    try:
        import ray
        from ray.util import ActorPool
    except ImportError:
        raise SignposeError("the ray backend needs Ray: pip install 'signpose[ray]'") from None
    started = not ray.is_initialized()
    if started:
        # Ray starts its workers at niceness 15, so on a busy machine MediaPipe in them
        # runs several times slower than in our own pool; a local instance runs them at 0.
        os.environ.setdefault("RAY_worker_niceness", "0")
        ray.init(
            address=address,
            num_cpus=workers if address is None else None,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
    n = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
    actor = ray.remote(num_cpus=1)(_RayWorker)
    actors = [actor.remote(config) for _ in range(max(1, min(n, len(jobs))))]
    try:
        yield from ActorPool(actors).map_unordered(lambda a, job: a.run.remote(fn, job), jobs)
    finally:
        for a in actors:
            ray.kill(a)
        if started:
            ray.shutdown()


def worker_count(workers: int | None, jobs: int, backend: str = "local", address: str | None = None) -> int:
    """Processes to start: what was asked, at most one per job; 0 = all of a Ray cluster's CPUs."""
    if workers is not None and workers < 1:
        raise SignposeError(f"--workers must be at least 1, not {workers}")
    if backend == "ray" and address is not None and workers is None:
        return 0  # counted once Ray is connected
    return max(1, min(workers or available_cpus(), jobs or 1))


def run_jobs(
    fn: Callable[[Any], Any],
    jobs: list,
    config: ExtractionConfig,
    workers: int,
    backend: str = "local",
    address: str | None = None,
    lost: Callable[[Any], Any] | None = None,
) -> Iterator:
    """fn over jobs on the chosen backend, results as they finish (`lost(job)` for a job
    whose worker died twice)."""
    if backend not in BACKENDS:
        raise SignposeError(unknown("backend", backend, BACKENDS))
    if backend == "ray" and jobs:
        return run_ray(fn, jobs, workers or None, config, address)
    return run_local(fn, jobs, workers, config, lost)
