"""``codecstudy study run``: corpus -> conditions -> train -> evaluate -> aggregate -> report, skipping what is done.

Each stage asks :mod:`codecstudy.study.state` whether its outputs are complete, partial or missing. Complete stages
are skipped; partial ones are handed to the stage's own resume mechanism (the corpus builder's progress log, the
trainer's checkpoints, the scorer's per-clip result lines), so a re-run after a kill redoes at most one item. The
work itself is :mod:`codecstudy.study.stages`; the runner decides what runs, in which order and beside what.

``only`` restricts training and evaluation to some conditions, so several processes or machines can share the
work; the corpus stages run under a file lock (the first process builds, the others wait and then skip), and the
tables and report are left to a final run without ``only``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

from codecstudy.csvtable import read_csv
from codecstudy.files import file_lock
from codecstudy.jsonl import JsonlAppender, read_jsonl
from codecstudy.study import state
from codecstudy.study.checks import check_corpus, check_study
from codecstudy.study.eta import StudyProgress, WorkEstimate, announcement, calibrate
from codecstudy.study.hubs import check_hub_models
from codecstudy.study.layout import RunLayout, default_run_dir, share_suffix
from codecstudy.study.listening import build_listening_test, write_listening_tables
from codecstudy.study.parallel import BY_ANOTHER, Item, Outcome, Scheduler, plan, run_item
from codecstudy.study.report.build import build_report
from codecstudy.study.schedule import count_items, study_items
from codecstudy.study.settings import tts_steps
from codecstudy.study.spec import CodecRun, StudySpec
from codecstudy.study.stages import (
    baseline_stage,
    cards_stage,
    conditions_stage,
    corpus_stage,
    discard_evaluation,
    evaluate_stage,
    tts_stage,
    tts_train_manifest,
    write_study_file,
)
from codecstudy.study.state import COMPLETE, PARTIAL, StageState
from codecstudy.study.tables import mark_tables_done, write_study_tables

Echo = Callable[[str], None]


@dataclass
class StageRecord:
    """What one run did with one stage item: ``ran`` (was missing), ``resumed`` (was partial), ``skipped`` (was
    complete) or ``done by another runner`` (complete once another runner released the item's lock)."""

    stage: str
    item: str
    action: str
    seconds: float = 0.0
    detail: str = ""


class StudyRunner:
    """Runs one study into one run folder; every stage goes through :meth:`_stage` (state check, record, log)."""

    def __init__(self, spec: StudySpec, out: Path | None = None, *, progress: bool = True,
                 echo: Echo = print, parallel: int | str | None = None, stages_log: Path | None = None) -> None:
        self.spec = spec
        self.layout = RunLayout(Path(out) if out else default_run_dir(spec.name))
        # where this runner's records go: the run's stages.jsonl, or one file per cluster job (several nodes)
        self.stages_log = stages_log or self.layout.stages_log
        self.progress = progress
        self.echo = echo
        self.records: list[StageRecord] = []
        self.parallel = spec.parallel if parallel is None else parallel  # CLI --parallel beats the study file

    # ------------------------------------------------------------------------------------------- one item
    def _stage(self, current: StageState, work: Callable[[], str]) -> StageRecord:
        if not self._begin(current):
            return self.records[-1]
        began = time.perf_counter()
        detail = work()
        return self._finish(current, detail, time.perf_counter() - began)

    def _begin(self, current: StageState) -> bool:
        """Announce a stage item; a complete one is recorded as skipped and False returned."""
        label = f"{current.stage}" + (f" {current.item}" if current.item else "")
        if current.status == COMPLETE:
            self.echo(f"[skip]   {label}: complete" + (f" ({current.detail})" if current.detail else ""))
            self._record(StageRecord(current.stage, current.item, "skipped", 0.0, current.detail))
            return False
        verb = "resume" if current.status == PARTIAL else "run"
        self.echo(f"[{verb}]    {label}" + (f" ({current.detail})" if current.detail else ""))
        return True

    def _finish(self, current: StageState, detail: str, seconds: float) -> StageRecord:
        label = f"{current.stage}" + (f" {current.item}" if current.item else "")
        verb = "resumed" if current.status == PARTIAL else "ran"
        record = StageRecord(current.stage, current.item, verb, round(seconds, 2), detail)
        self.echo(f"         {label}: {detail} ({record.seconds:.1f} s)")
        return self._record(record)

    def _by_another(self, current: StageState) -> StageRecord:
        """The item was complete once its lock was free: another runner did it while this one waited."""
        label = f"{current.stage}" + (f" {current.item}" if current.item else "")
        self.echo(f"         {label}: {BY_ANOTHER}")
        return self._record(StageRecord(current.stage, current.item, BY_ANOTHER, 0.0, ""))

    def _record(self, record: StageRecord) -> StageRecord:
        self.records.append(record)
        with JsonlAppender(self.stages_log) as log:
            log.write({**asdict(record), "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "pid": os.getpid()})
        return record

    # -------------------------------------------------------------------------------------------- the run
    def dry_run(self, only: list[str] | None = None) -> str:
        # the hub models first: the checks below open the baselines, which would reach for a missing model's hub
        notes = check_hub_models(self.spec) + check_study(self.spec, only, self.layout)
        states = state.study_state(self.spec, self.layout, only)
        if only:
            states = [s for s in states if s.stage not in ("aggregate", "report")]
        return (
            f"study {self.spec.name}: run folder {self.layout.root}\n"
            + "\n".join(f"  {n}" for n in notes)
            + f"\nplan (nothing was run):\n{state.plan_text(states)}"
        )

    def run(self, only: list[str] | None = None) -> list[StageRecord]:
        spec = self.spec
        check_study(spec, only, self.layout)
        self.prepare()
        runs = spec.codec_runs(only)
        self._train_and_evaluate(runs, baselines=not only)
        if spec.tts.enabled:
            self.tts(runs)
        if only:
            self._record_study()
            self.echo(f"--only {', '.join(only)}: done; run `codecstudy study run` without --only once every "
                      "condition is trained to write the tables and the report")
            return self.records
        return self.conclude()

    def prepare(self) -> list[StageRecord]:
        """The study record, the corpus and the conditions, under the corpus lock (the first runner builds them,
        the others wait and then skip)."""
        spec, layout = self.spec, self.layout
        with file_lock(layout.run_lock("corpus"), timeout=None):
            self._stage(state.corpus_state(spec, layout), lambda: corpus_stage(spec, layout, self.progress))
            check_corpus(spec, layout)  # a condition or set that selects nothing, named before anything is drawn
            self._stage(state.conditions_state(spec, layout), lambda: conditions_stage(spec, layout))
        return self.records

    def run_one(self, item: Item, shard: tuple[int, int] | None = None, part: str | None = None) -> StageRecord:
        """One training or scoring item (or one ``shard`` or metric ``part`` of a scoring item: the part's state
        decides) under its lock, recorded like the scheduler's: a cluster job's work."""
        lock = self.layout.item_lock(item.stage, item.item)
        work, item_state = item.work, item.state
        if part is not None or (shard is not None and shard[1] > 1):
            with file_lock(lock, timeout=None):  # a stale evaluation is discarded once, before any shard resumes it
                current = item.state()
                if current.stale:
                    discard_evaluation(item.codec, item.eval_set, self.layout)
            shard = shard or (0, 1)
            lock = self.layout.item_lock(item.stage, f"{item.item}{share_suffix(shard, part)}")
            work = partial(_shard_work, item, shard, self.spec, self.layout, part=part)
            if part is not None:
                item_state = partial(state.codec_eval_state, item.codec, item.eval_set, self.spec, self.layout, part)
        current = item_state()
        if not self._begin(current):
            return self.records[-1]
        outcome = run_item(work, item_state, lock, None)
        if outcome.by_another:
            return self._by_another(current)
        return self._finish(current, outcome.detail, outcome.seconds)

    def conclude(self) -> list[StageRecord]:
        """The listening test, the tables and the report, under the report lock (TTS is the caller's)."""
        spec, layout = self.spec, self.layout
        with file_lock(layout.run_lock("report"), timeout=None):
            all_codecs = [r.name for r in spec.codec_runs()] + [b.name for b in spec.baseline_runs()]
            if spec.listen.enabled:  # before the report, which links to it
                self._stage(state.listen_state(spec, layout), lambda: str(build_listening_test(spec, layout)))
            self._stage(state.aggregate_state(layout, all_codecs), self._aggregate)
            self._record_study()  # before the report, which shows it
            self._stage(state.report_state(layout), lambda: str(build_report(spec, layout)))
        return self.records

    def _record_study(self) -> None:
        """``study.yaml`` describes what the run folder holds, so it is written once the stages that ran under this
        study have run, and only when one did (or there is none yet): a run that failed keeps the previous one, and
        a run that found everything complete does not claim settings (a device, a report option) nothing was made
        with. A change that would make the folder's results disagree with it is refused before anything runs
        (:func:`codecstudy.study.checks.check_evaluations`)."""
        if self.layout.study_file.is_file() and not any(r.action in ("ran", "resumed") for r in self.records):
            return
        write_study_file(self.spec, self.layout)

    def tts(self, runs: list[CodecRun]) -> None:
        spec, layout = self.spec, self.layout
        runs = [run for run in runs if not run.probe]  # a noise probe measures training noise, not the TTS
        steps = tts_steps(spec)
        states = [state.tts_state(run.name, layout, steps) for run in runs]
        # one pass over the corpus manifest for every codec's TTS, and none when all of them are complete
        manifest = tts_train_manifest(spec, layout) if any(s.status != COMPLETE for s in states) else None
        for run, current in zip(runs, states):
            self._stage(current, lambda run=run, stale=current.stale: tts_stage(
                run.name, spec, layout, manifest, self.progress, stale))

    def _train_and_evaluate(self, runs: list[CodecRun], baselines: bool) -> None:
        """Every codec's training, then its evaluations (and, with ``baselines``, the baselines' evaluations),
        concurrently where ``parallel`` and the cores allow (:mod:`codecstudy.study.parallel`); in study order, one
        at a time, otherwise."""
        chosen = plan(self.parallel, count_items(self.spec, runs, baselines))
        # several processes' progress bars would garble one terminal: workers run without theirs
        items = study_items(self.spec, self.layout, runs, self.progress and not chosen.parallel, baselines)
        if chosen.note:
            self.echo(chosen.note)
        elif chosen.parallel:
            self.echo(f"parallel: {chosen.processes} processes x {chosen.threads} thread(s) for training and "
                      "evaluation (study key `parallel`, or --parallel 1 to run one item at a time)")
        pending = [i for i in items if i.stage == "train" and i.state and i.state().status != COMPLETE]
        estimate = WorkEstimate(items, calibrate(pending, chosen), self.spec, self.layout)
        if pending:
            self.echo(announcement(estimate, chosen))
        with StudyProgress(estimate, self.progress) as progress:

            def begin(item: Item, current: StageState) -> bool:
                if self._begin(current):
                    return True
                progress.item_finished(item)
                return False

            def finish(item: Item, current: StageState, outcome: Outcome) -> None:
                if outcome.by_another:
                    self._by_another(current)
                else:
                    self._finish(current, outcome.detail, outcome.seconds)
                progress.item_finished(item)

            lock_of = lambda item: self.layout.item_lock(item.stage, item.item)  # noqa: E731
            Scheduler(chosen, lock_of).run(items, begin=begin, finish=finish)

    def _aggregate(self) -> str:
        written = write_tables_stage(self.spec, self.layout)
        return f"{len(written)} table files in {self.layout.tables}"


def _shard_work(item: Item, shard: tuple[int, int], spec: StudySpec, layout: RunLayout, threads: int | None,
                part: str | None = None) -> str:
    """One shard (or metric part) of an evaluation or a baseline (never forced: a stale one was discarded before)."""
    if item.stage == "baseline":
        baseline = next(b for b in spec.baseline_runs() if b.name == item.codec)
        return baseline_stage(baseline, item.eval_set, spec, layout, False, threads=threads, shard=shard)
    return evaluate_stage(item.codec, item.eval_set, spec, layout, False, threads=threads, shard=shard, part=part)


def stage_records(layout: RunLayout) -> list[dict[str, object]]:
    """Every record of a run: ``stages.jsonl`` and each cluster job's ``stages/<job>.jsonl``, in time order."""
    files = [layout.stages_log, *sorted(layout.job_stages_dir.glob("*.jsonl"))]
    records = [r for path in files if path.is_file() for r in read_jsonl(path)]
    return sorted(records, key=lambda r: str(r.get("time", "")))


def write_tables_stage(spec: StudySpec, layout: RunLayout) -> dict[str, Path]:
    """Every table (the MUSHRA ones after the metrics they correlate with), then the marker that they are whole.
    The codecs' cost cards are measured first where a codec has none yet (``tables/codecs.csv``)."""
    cards_stage(spec, layout)
    written = write_study_tables(spec, layout)
    written.update(write_listening_tables(spec, layout))
    mark_tables_done(layout, written)
    return written


def summary_text(layout: RunLayout) -> str:
    """What the run prints at the end: the paper-style tables and counts, and where the report is."""
    parts = []
    paper = layout.table("paper.md")
    if paper.is_file():
        parts.append(paper.read_text(encoding="utf-8").rstrip())
    counts = read_csv(layout.table("paper_counts.csv"))
    if counts:
        parts.append("best / worst per condition (language/domain x metric cells):")
        parts += [f"  {c['condition']:<32} best {c['best']:>3}  worst {c['worst']:>3}" for c in counts]
    if layout.report_file.is_file():
        parts.append(f"report: {layout.report_file.resolve()}")
    return "\n".join(parts)
