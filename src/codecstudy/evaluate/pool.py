"""The processes that score: per-process setup (torch threads, the codec, one :class:`PairScorer`) and a pool
that runs a job function over jobs and yields each job's records as they finish.

A job function is a module-level function ``work(worker, job) -> list[record]`` (picklable, so a spawned process
can receive it); it gets its process's :class:`Worker` as its first argument, never through a global lookup.
Only the parent writes files.

Per-process state: a spawned process builds its :class:`Worker` once in :func:`_start_process` and keeps it in
``_PROCESS_WORKER`` (the only module state here, set in child processes only), because a process pool can hand
per-process objects to its jobs no other way. In-process runs (one worker) build the Worker locally and pass it.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
from tqdm import tqdm

from codecstudy.codec.catalog import open_codec
from codecstudy.codec.interface import Codec
from codecstudy.evaluate.cache import FeatureCache
from codecstudy.evaluate.pair import PairScorer
from codecstudy.evaluate.settings import EvalSettings

Job = TypeVar("Job")
Records = list[dict[str, Any]]


@dataclass
class Worker:
    """What one scoring process holds for all its jobs: the codec (codec mode; None for pairs), the pair scorer
    with its reference cache, and the run's settings."""

    codec: Codec | None
    scorer: PairScorer
    settings: EvalSettings


@dataclass(frozen=True)
class WorkerSetup:
    """How a process builds its :class:`Worker` (picklable: sent to each spawned process)."""

    codec_source: str | None
    settings: EvalSettings
    threads: int

    def build(self) -> Worker:
        """Per process: torch threads, the codec (codec mode) and one PairScorer with its reference cache."""
        torch.set_num_threads(max(1, self.threads))
        # Untrained or collapsed codecs produce denormal activations in quiet passages; without flushing them to
        # zero a CPU forward pass can be 50x slower.
        torch.set_flush_denormal(True)
        codec = open_codec(self.codec_source) if self.codec_source else None
        scorer = PairScorer(self.settings, FeatureCache(self.settings.ref_cache))
        return Worker(codec, scorer, self.settings)


_PROCESS_WORKER: Worker | None = None  # set by _start_process in a spawned process, never in the parent


def _start_process(setup: WorkerSetup) -> None:
    global _PROCESS_WORKER
    _PROCESS_WORKER = setup.build()


def _run_in_process(work: Callable[[Worker, Job], Records], job: Job) -> Records:
    assert _PROCESS_WORKER is not None, "a pool process runs jobs only after _start_process"
    return work(_PROCESS_WORKER, job)


def run_jobs(
    work: Callable[[Worker, Job], Records], jobs: Sequence[Job], setup: WorkerSetup, progress: bool
) -> Iterator[Records]:
    """Yield each job's records as they finish: in this process for one worker (or one job), else in a pool of
    ``setup.settings.workers`` spawned processes, at most two jobs per process queued at a time."""
    bar = tqdm(total=len(jobs), unit="clip", disable=not progress, dynamic_ncols=True)
    try:
        if setup.settings.workers <= 1 or len(jobs) <= 1:
            yield from _run_here(work, jobs, setup, bar)
        else:
            yield from _run_pool(work, jobs, setup, bar)
    finally:
        bar.close()


def _run_here(work: Callable[[Worker, Job], Records], jobs: Sequence[Job], setup: WorkerSetup,
              bar: tqdm) -> Iterator[Records]:
    threads = torch.get_num_threads()
    try:
        worker = setup.build()
        for job in jobs:
            yield work(worker, job)
            bar.update(1)
    finally:  # in-process: leave the caller's torch settings as they were
        torch.set_num_threads(threads)
        torch.set_flush_denormal(False)  # torch's default; it has no getter


def _run_pool(work: Callable[[Worker, Job], Records], jobs: Sequence[Job], setup: WorkerSetup,
              bar: tqdm) -> Iterator[Records]:
    workers = setup.settings.workers
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_process, initargs=(setup,)) as pool:
        pending: set[Future[Records]] = set()
        queue = iter(jobs)
        for job in queue:
            pending.add(pool.submit(_run_in_process, work, job))
            if len(pending) >= 2 * workers:
                break
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                yield future.result()
                bar.update(1)
                nxt = next(queue, None)
                if nxt is not None:
                    pending.add(pool.submit(_run_in_process, work, nxt))
