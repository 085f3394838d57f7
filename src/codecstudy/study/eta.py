"""How long the rest of a study will take: a short calibration before training, and one progress bar for the whole
study whose remaining time covers every item still to run, not only the current one.

**Calibration.** A few training steps of each distinct codec config, timed on this machine with the threads an
item will get, on synthetic speech-like audio (no corpus read): the median seconds per step times the steps left
is a codec's training estimate. Scoring is estimated from a fixed cost per clip and codebook setting, measured
once on the reference machine (:data:`EVAL_SECONDS_PER_CLIP_NQ`) and scaled by how much slower this machine's
training step is than that machine's (:data:`REFERENCE_SECONDS_PER_STEP`). Items are then laid out on the
runner's processes in study order (an evaluation after its codec's training), which gives the wall-clock total.

**Progress.** The bar's unit is estimated seconds of work. A background thread reads, every few seconds, how far
each item is from its files (the last logged step in ``metrics.jsonl``, result lines per n_q), so the bar moves
inside long items too; tqdm's rate then turns what is left into a remaining time that reflects the real speed,
with the processes running side by side included.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codecstudy.study.parallel import Item, Plan

#: soundstream-tiny's step (batch 16 x 1 s) with 1 and 2 threads, and the scoring cost per clip and n_q (demo
#: metrics, fast mode, one process), on the idle 2-core machine of docs/benchmarks.md; rough, for scaling only.
REFERENCE_SECONDS_PER_STEP = {1: 0.45, 2: 0.25}
EVAL_SECONDS_PER_CLIP_NQ = 0.35
CALIBRATION_STEPS = 4


@dataclass
class Calibration:
    seconds_per_step: dict[str, float]  # codec config (source + overrides) -> seconds per training step
    threads: int

    @property
    def speed_factor(self) -> float:
        """This machine's step time over the reference machine's (above 1: slower)."""
        values = list(self.seconds_per_step.values())
        reference = REFERENCE_SECONDS_PER_STEP[min(2, max(1, self.threads))]
        return statistics.median(values) / reference if values else 1.0


def _config_key(run: Any) -> str:
    return f"{run.source} {' '.join(run.overrides)}".strip()


def time_training_steps(config: Any, steps: int = CALIBRATION_STEPS, threads: int | None = None) -> float:
    """Median wall seconds of ``steps`` training steps (after one warm-up) of ``config`` on synthetic audio."""
    import tempfile

    import torch

    from codecstudy.bench.harness import speechy_batch
    from codecstudy.train.trainer import Trainer

    tc = config.train_config()
    samples = int(round(tc.segment_seconds * config.sample_rate))
    before = torch.get_num_threads()
    rng_state = torch.random.get_rng_state()
    try:
        if threads:
            torch.set_num_threads(threads)
        wave = speechy_batch(tc.batch_size, samples, config.sample_rate)
        with tempfile.TemporaryDirectory() as tmp:
            trainer = Trainer(config, data="-", out_dir=tmp, show_progress=False)
            trainer.build()
            torch.set_num_threads(threads or before)  # the trainer applies train.threads; calibrate as items run
            index = tc.discriminator_start if tc.discriminator_start < tc.steps // 2 else 0
            trainer.train_step(wave, index)
            times = []
            for _ in range(steps):
                began = time.perf_counter()
                trainer.train_step(wave, index)
                times.append(time.perf_counter() - began)
        return statistics.median(times)
    finally:
        torch.set_num_threads(before)
        torch.random.set_rng_state(rng_state)


def calibrate(items: Iterable[Item], plan: Plan) -> Calibration:
    """Seconds per step of every codec config that still has training to do."""
    from codecstudy.codec.presets import resolve_codec_config

    seen: dict[str, float] = {}
    threads = plan.threads if plan.parallel else None
    for item in items:
        run = item.extra.get("run")
        if item.stage != "train" or run is None or _config_key(run) in seen:
            continue
        config = resolve_codec_config(run.source, list(run.overrides))
        seen[_config_key(run)] = time_training_steps(config, threads=threads)
    import torch

    return Calibration(seen, plan.threads if plan.parallel else torch.get_num_threads())


# ------------------------------------------------------------------------------------------------- estimates
def _done_steps(folder: Path) -> int:
    """The last step a training run logged (``metrics.jsonl``'s last line with a step), 0 without one."""
    import json

    path = folder / "metrics.jsonl"
    if not path.is_file():
        return 0
    with path.open("rb") as handle:
        handle.seek(0, 2)
        size = handle.tell()
        handle.seek(max(0, size - 8192))
        tail = handle.read().decode("utf-8", errors="replace").splitlines()
    for line in reversed(tail):
        try:
            return int(json.loads(line)["step"])
        except (ValueError, KeyError, TypeError):
            continue
    return 0


def _scored(folder: Path, n_qs: list[int]) -> int:
    """Result lines over every n_q of one evaluation (a clip scored at one n_q is one line)."""
    total = 0
    for n_q in n_qs:
        path = folder / str(n_q) / "results.jsonl"
        if path.is_file():
            with path.open("rb") as handle:
                total += sum(1 for _ in handle)
    return total


class WorkEstimate:
    """Expected seconds of each item and how much of it is done, from the files of the run folder."""

    def __init__(self, items: list[Item], calibration: Calibration, spec: Any, layout: Any) -> None:
        self.items = items
        self.calibration = calibration
        self.layout = layout
        self.n_qs = list(spec.evaluate.n_q)
        self.clips = {s.name: s.max_clips for s in spec.conditions.eval_sets}
        self.finished: set[str] = set()
        self.per_unit: dict[str, float] = {}
        self.units: dict[str, int] = {}
        for item in items:
            if item.stage == "train":
                run = item.extra["run"]
                per_step = calibration.seconds_per_step.get(_config_key(run), 0.0)
                self.per_unit[item.key], self.units[item.key] = per_step, int(item.extra["steps"])
            elif item.stage not in ("evaluate", "baseline"):  # importing a given checkpoint: about a second
                self.per_unit[item.key], self.units[item.key] = 1.0, 1
            else:
                clips = self._clip_count(item.extra["set"])
                # an item scores with one process per thread it was given; a baseline at its one setting costs
                # about what a trained codec costs at one n_q (the metrics dominate, not the classic codecs)
                self.per_unit[item.key] = EVAL_SECONDS_PER_CLIP_NQ * calibration.speed_factor / calibration.threads
                self.units[item.key] = clips * (len(self.n_qs) if item.stage == "evaluate" else 1)
            item.estimate = self.per_unit[item.key] * self.units[item.key]

    def _clip_count(self, eval_set: str) -> int:
        path = self.layout.eval_manifest(eval_set)
        if path.is_file():
            with path.open("rb") as handle:
                return sum(1 for _ in handle)
        return self.clips.get(eval_set) or 30

    def done_units(self, item: Item) -> int:
        if item.key in self.finished:
            return self.units[item.key]
        if item.stage == "train":
            return min(self.units[item.key], _done_steps(self.layout.codec_dir(item.item)))
        if item.stage != "evaluate":
            return 0
        codec, eval_set = item.extra["codec"], item.extra["set"]
        return min(self.units[item.key], _scored(self.layout.eval_dir(codec, eval_set), self.n_qs))

    def remaining(self, item: Item) -> float:
        return max(0.0, (self.units[item.key] - self.done_units(item)) * self.per_unit[item.key])

    def total(self) -> float:
        return sum(i.estimate for i in self.items)

    def done(self) -> float:
        return sum(i.estimate - self.remaining(i) for i in self.items)

    def wall_clock(self, processes: int) -> float:
        """Remaining seconds with ``processes`` items at a time, in study order, evaluations after training."""
        free = [0.0] * max(1, processes)
        ends: dict[str, float] = {}
        for item in self.items:
            ready = max((ends.get(a, 0.0) for a in item.after), default=0.0)
            slot = min(range(len(free)), key=lambda k: max(free[k], ready))
            start = max(free[slot], ready)
            ends[item.key] = free[slot] = start + self.remaining(item)
        return max(free)


def format_minutes(seconds: float) -> str:
    minutes = seconds / 60
    if minutes < 1:
        return f"{seconds:.0f} s"
    if minutes < 90:
        return f"{minutes:.0f} min"
    return f"{minutes / 60:.1f} h"


def announcement(estimate: WorkEstimate, plan: Plan) -> str:
    """The line printed before training starts."""
    cal = estimate.calibration
    steps = ", ".join(f"{key.split()[0]} {value:.2f} s/step" for key, value in cal.seconds_per_step.items())
    train = sum(estimate.remaining(i) for i in estimate.items if i.stage == "train")
    score = sum(estimate.remaining(i) for i in estimate.items if i.stage != "train")
    threads = f"{plan.processes} process(es) x {plan.threads} thread(s)" if plan.parallel else "one item at a time"
    return (f"expected remaining time: about {format_minutes(estimate.wall_clock(plan.processes))} "
            f"(training {format_minutes(train)} and scoring {format_minutes(score)} of work, {threads}; "
            f"calibrated on this machine: {steps or 'no training left'})")


class StudyProgress:
    """One tqdm bar over the whole study, refreshed from the run folder by a background thread."""

    def __init__(self, estimate: WorkEstimate, enabled: bool, interval: float = 2.0) -> None:
        self.estimate = estimate
        self.enabled = enabled
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.bar: Any = None

    def __enter__(self) -> StudyProgress:
        if not self.enabled:
            return self
        from tqdm import tqdm

        total = max(1.0, self.estimate.total())
        # smoothing=0: the rate is the work done in this run over its elapsed time. Progress arrives in steps (each
        # process's log lines, every 50 training steps), and with parallel items tqdm's default moving average
        # jumped between the processes' intervals (the remaining time swung by a quarter from one refresh to the next).
        self.bar = tqdm(total=round(total), desc="study", unit="s of work", position=0, leave=True, smoothing=0,
                        bar_format="{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining} for the whole study]",
                        initial=round(self.estimate.done()))
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def item_finished(self, item: Item) -> None:
        self.estimate.finished.add(item.key)
        self.refresh()

    def refresh(self) -> None:
        if self.bar is not None:
            done = round(self.estimate.done())
            if done > self.bar.n:
                self.bar.update(done - self.bar.n)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.refresh()
            except OSError:  # a file replaced while read: the next refresh reads it again
                pass

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.bar is not None:
            self.bar.close()
