"""What runs beside what: the study's independent items (training of each codec, scoring of each codec x set) as
separate processes, with the machine's cores split between them.

Why processes and not threads: the tiny codecs are too narrow for a second torch thread to pay (a training step
gains little from it), while two processes with one thread each do twice the work; the same holds for the
scorer's per-clip DSP metrics. Concurrency belongs to the study runner (docs/design.md), so every item is told how
many threads it may use: ``cores // processes``, fixed for the whole run so that a rerun computes the same
floating-point sums (a codec's weights depend on its thread count, never on what ran beside it).

Items have dependencies (a codec's evaluations wait for its training); whichever is ready runs next, in the
study's order. Each item runs under a lock file of its own (``<run>/.locks/<stage>-<item>.lock``): after a kill,
a new run waits for a process of the old one that may still be finishing an item, then finds the item complete
or resumes it from its own checkpoint or result lines; nothing is done twice. Workers die with the runner
(``PR_SET_PDEATHSIG``) where Linux allows it.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from codecstudy.files import file_lock
from codecstudy.machine import available_cores, child_thread_limits, init_worker
from codecstudy.study.spec import CodecRun
from codecstudy.study.state import COMPLETE

AUTO = "auto"


@dataclass(frozen=True)
class Plan:
    """How many items run at once and the torch threads each gets; ``note`` says why it differs from the ask."""

    processes: int
    threads: int
    note: str | None = None

    @property
    def parallel(self) -> bool:
        return self.processes > 1


def plan(requested: int | str, items: int, cores: int | None = None) -> Plan:
    """Processes for ``items`` independent items on ``cores`` cores.

    ``auto``: one per core, at most one per item. A number above the cores is cut to the cores, and one core runs
    everything in turn; both say so in ``note`` (one line), since the study asked for something else.
    """
    cores = cores or available_cores()
    if requested == AUTO:
        processes = max(1, min(cores, items))
        note = "1 core: the study's items run one at a time" if cores == 1 and items > 1 else None
        return Plan(processes, max(1, cores // processes), note)
    wanted = int(requested)
    if wanted <= 1:
        return Plan(1, cores)
    if cores == 1:
        return Plan(1, 1, f"parallel: {wanted} asked, but this machine has 1 core: the items run one at a time")
    processes = min(wanted, cores)
    note = None
    if wanted > cores:
        note = f"parallel: {wanted} asked, but this machine has {cores} cores: running {processes} at a time"
    processes = max(1, min(processes, items))
    return Plan(processes, max(1, cores // processes), note)


@dataclass
class Item:
    """One unit of work: ``stage`` and ``item`` name it (as in ``stages.jsonl``), ``after`` lists the keys it
    waits for, ``work(threads)`` does it and returns the detail line (``threads`` is None when nothing runs beside
    it: the process keeps its own settings); it must be picklable (a ``partial`` of a module-level function) to run
    in a worker process."""

    stage: str
    item: str
    work: Callable[[int | None], str]
    after: tuple[str, ...] = ()
    # decides, when the item is due, whether it is complete, partial or missing (a StageState)
    state: Callable[[], Any] | None = None
    estimate: float = 0.0  # expected seconds (the study's remaining-time estimate)
    run: CodecRun | None = None  # a training item's codec run, and its target steps
    steps: int = 0
    codec: str = ""  # an evaluation's codec (or baseline) and set
    eval_set: str = ""

    @property
    def key(self) -> str:
        return f"{self.stage} {self.item}".strip()


@dataclass(frozen=True)
class Outcome:
    """What running an item came to: its detail line and seconds, or that another runner had done it meanwhile."""

    detail: str
    seconds: float
    by_another: bool = False


BY_ANOTHER = "done by another runner"


def run_item(work: Callable[[int | None], str], state: Callable[[], Any] | None, lock: Path,
             threads: int | None) -> Outcome:
    """The item's work under its lock. The state is read again once the lock is held: an item that another runner
    completed while this one waited for the lock is not run again, and is reported as such."""
    with file_lock(lock, timeout=None):
        if state is not None and getattr(state(), "status", None) == COMPLETE:
            return Outcome(BY_ANOTHER, 0.0, by_another=True)
        began = time.perf_counter()
        detail = work(threads)
    return Outcome(detail, time.perf_counter() - began)


class Scheduler:
    """Runs items in study order as their dependencies finish, ``plan.processes`` at a time.

    ``begin(item, state)`` is called in this process when an item is due and returns False when it is complete
    (nothing to run); ``finish(item, state, outcome)`` when it is done. With one process everything runs here, in
    order, exactly as a sequential runner would.
    """

    def __init__(self, plan: Plan, lock_of: Callable[[Item], Path]) -> None:
        self.plan = plan
        self.lock_of = lock_of  # the lock file of an item (released when its process ends, however it ends)

    def run(
        self,
        items: list[Item],
        begin: Callable[[Item, Any], bool],
        finish: Callable[[Item, Any, Outcome], None],
    ) -> None:
        if not self.plan.parallel:
            for item in items:
                state = item.state() if item.state else None
                if begin(item, state):
                    finish(item, state, run_item(item.work, item.state, self.lock_of(item), None))
            return
        self._run_pool(items, begin, finish)

    def _run_pool(
        self,
        items: list[Item],
        begin: Callable[[Item, Any], bool],
        finish: Callable[[Item, Any, Outcome], None],
    ) -> None:
        done: set[str] = set()
        waiting = list(items)
        running: dict[Future[Outcome], tuple[Item, Any]] = {}
        context = multiprocessing.get_context("spawn")
        threads = self.plan.threads
        with child_thread_limits(threads), ProcessPoolExecutor(
                self.plan.processes, mp_context=context, initializer=init_worker, initargs=(threads,)) as pool:
            while waiting or running:
                for item in [i for i in waiting if all(a in done for a in i.after)]:
                    if len(running) >= self.plan.processes:
                        break
                    waiting.remove(item)
                    state = item.state() if item.state else None
                    if not begin(item, state):
                        done.add(item.key)
                        continue
                    future = pool.submit(run_item, item.work, item.state, self.lock_of(item), self.plan.threads)
                    running[future] = (item, state)
                if not running:
                    if waiting and not any(all(a in done for a in i.after) for i in waiting):
                        raise RuntimeError(f"items wait for what never runs: {[i.key for i in waiting]}")
                    continue
                finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for future in finished:
                    item, state = running.pop(future)
                    finish(item, state, future.result())  # an item's error stops the run, as sequentially
                    done.add(item.key)


def threaded(fn: Callable[..., str], *args: Any, **kwargs: Any) -> Callable[[int | None], str]:
    """``fn(*args, threads=n, **kwargs)`` as an item's picklable ``work``."""
    return partial(_call_with_threads, fn, args, kwargs)


def _call_with_threads(
    fn: Callable[..., str], args: tuple[Any, ...], kwargs: dict[str, Any], threads: int | None
) -> str:
    return fn(*args, threads=threads, **kwargs)
