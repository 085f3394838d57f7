"""``codecstudy study run``: corpus -> conditions -> train -> evaluate -> aggregate -> report, skipping what is done.

Each stage asks :mod:`codecstudy.study.state` whether its outputs are complete, partial or missing. Complete stages
are skipped; partial ones are handed to the stage's own resume mechanism (the corpus builder's progress log, the
trainer's checkpoints, the scorer's per-clip result lines), so a re-run after a kill redoes at most one item. The
runner calls the stages' Python functions directly: the same code paths as ``codecstudy corpus|train|evaluate``.

``only`` restricts training and evaluation to some conditions, so several processes or machines can share the
work; the corpus stages run under a file lock (the first process builds, the others wait and then skip), and the
tables and report are left to a final run without ``only``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from codecstudy.errors import CodecStudyError, ConfigError
from codecstudy.jsonl import JsonlAppender, write_json_atomic, write_jsonl_atomic
from codecstudy.study import state as S
from codecstudy.study.layout import RunLayout
from codecstudy.study.spec import CodecRun, StudySpec
from codecstudy.study.state import eval_settings

Echo = Callable[[str], None]


@dataclass
class StageRecord:
    """What one run did with one stage item: ``ran`` (was missing), ``resumed`` (was partial) or ``skipped``."""

    stage: str
    item: str
    action: str
    seconds: float = 0.0
    detail: str = ""


def default_run_dir(spec: StudySpec) -> Path:
    return Path("runs") / spec.name


# ------------------------------------------------------------------------------------------------- validation
def _where(spec: StudySpec) -> str:
    return f"{spec.path}: " if spec.path else ""


def check_study(spec: StudySpec, only: list[str] | None = None) -> list[str]:
    """Everything a run would trip over later, checked now: dataset folders, codec configs with their overrides,
    numbers of codebooks, metric names, settings and libraries, ``--only`` names. Returns notes for the plan;
    raises ConfigError naming the study key at fault."""
    from codecstudy.codec.presets import resolve_codec_config
    from codecstudy.evaluate.registry import check_available
    from codecstudy.study.checkpoints import check_checkpoints

    where = _where(spec)
    problems: list[str] = []
    for index, source in enumerate(spec.corpus.sources):
        try:
            source.check()
        except CodecStudyError as exc:
            problems.append(f"corpus.sources[{index}] ({source.kind}): {exc}")
    notes, missing = check_checkpoints(spec)
    problems += missing
    if problems:  # every missing folder and checkpoint at once, not one per attempt
        raise ConfigError(where + "; ".join(problems))
    for name in only or []:
        if name not in spec.condition_names:
            raise ConfigError(f"--only {name}: no such condition (conditions: {', '.join(spec.condition_names)})")
    seen: set[tuple[str, tuple[str, ...]]] = set()
    for run in spec.codec_runs():
        if run.pretrained or (run.source, run.overrides) in seen:
            continue
        seen.add((run.source, run.overrides))
        try:
            config = resolve_codec_config(run.source, list(run.overrides))
        except CodecStudyError as exc:
            raise ConfigError(f"{where}codec (preset {spec.codec.preset!r}, {run.architecture}): {exc}") from None
        if config.architecture != run.architecture:
            raise ConfigError(
                f"{where}codec.preset: {run.source} is a {config.architecture} codec, but architectures lists "
                f"{run.architecture}"
            )
        too_big = [n for n in spec.evaluate.n_q if n > config.quantizer.n_codebooks]
        if too_big:
            raise ConfigError(
                f"{where}evaluate.n_q: {too_big} exceed the {config.quantizer.n_codebooks} codebooks of "
                f"{config.name} ({run.source} with codec.overrides)"
            )
        tc = config.train_config()
        notes.append(
            f"codec {run.source} ({run.architecture}): {config.quantizer.n_codebooks} x "
            f"{config.quantizer.codebook_size} codebooks, {tc.steps} steps of batch {tc.batch_size}"
        )
    if spec.tts.enabled:
        from codecstudy.tts.config import load_tts_config

        try:
            tts = load_tts_config(spec.tts.preset, list(spec.tts.overrides))
        except CodecStudyError as exc:
            raise ConfigError(f"{where}tts (preset {spec.tts.preset!r}): {exc}") from None
        notes.append(f"tts: preset {spec.tts.preset}, {tts.train.steps} steps per codec on the transcribed "
                     f"{'/'.join(spec.tts.languages)} train clips, scored on {spec.tts.eval_set}")
    settings = eval_settings(spec)
    try:
        specs = settings.specs()
        settings.metric_settings()
    except CodecStudyError as exc:
        raise ConfigError(f"{where}evaluate.metrics: {exc}") from None
    try:
        settings.validities()
    except CodecStudyError as exc:
        raise ConfigError(f"{where}{exc}") from None
    try:
        check_available(specs)
    except CodecStudyError as exc:
        raise ConfigError(f"{where}evaluate.metrics: {exc}") from None
    notes.append(f"metrics ({spec.evaluate.mode} mode): {', '.join(s.name for s in specs)}")
    if spec.baseline_runs():
        from codecstudy.study.baselines import check_baselines

        notes += check_baselines(spec)
    return notes


# ------------------------------------------------------------------------------------------------------ stages
@contextlib.contextmanager
def run_lock(layout: RunLayout, name: str) -> Iterator[None]:
    """An exclusive lock on ``<run>/.<name>.lock`` (parallel ``--only`` processes build the corpus once)."""
    layout.root.mkdir(parents=True, exist_ok=True)
    with open(layout.root / f".{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_study_file(spec: StudySpec, layout: RunLayout) -> Path:
    """``study.yaml``: the resolved study, then where and with what it ran."""
    from codecstudy.provenance import environment_info

    env = environment_info()
    env["packages"].update(_more_versions())
    data = {
        **spec.resolved(),
        "provenance": {
            "study_file": str(spec.path) if spec.path else None,
            "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "command": sys.argv,
            **env,
        },
    }
    layout.root.mkdir(parents=True, exist_ok=True)
    tmp = layout.study_file.with_name(layout.study_file.name + ".tmp")
    tmp.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    os.replace(tmp, layout.study_file)
    return layout.study_file


def _more_versions() -> dict[str, str | None]:
    from codecstudy.provenance import package_versions

    return package_versions(("pydantic", "matplotlib", "pesq", "pystoi", "librosa", "pyworld"))


def build_conditions_stage(spec: StudySpec, layout: RunLayout) -> str:
    """Conditions, evaluation sets, validation sets and the leakage check; the done marker is written last."""
    from codecstudy.corpus.conditions import build_conditions
    from codecstudy.corpus.leakage import format_leakage, leakage_report
    from codecstudy.corpus.manifest import load_manifest

    clips = load_manifest(layout.corpus)
    # a condition whose codec is given (checkpoints:) draws no training clips from this corpus
    trained = [c for c in spec.conditions.conditions if c.name not in spec.checkpoints]
    config = spec.conditions.model_copy(update={"conditions": trained}) if spec.checkpoints else spec.conditions
    conditions, eval_sets = build_conditions(clips, config, layout.corpus)
    for condition in trained:
        valid = condition.model_copy(update={"splits": ["valid"]}).select(clips)
        write_jsonl_atomic(layout.valid_manifest(condition.name), (c.to_json() for c in valid))
    rows = leakage_report(conditions, eval_sets)
    (layout.corpus / "leakage.txt").write_text(format_leakage(rows) + "\n", encoding="utf-8")
    write_json_atomic(layout.corpus / "leakage.json", [row.to_json() for row in rows])
    write_json_atomic(layout.conditions_done, {"fingerprint": S.conditions_fingerprint(spec, layout)})
    leaks = sum(1 for row in rows if not row.clean)
    return f"{len(conditions)} conditions, {len(eval_sets)} eval sets, {leaks} leakage warnings"


def train_stage(run: CodecRun, spec: StudySpec, layout: RunLayout, progress: bool, threads: int | None = None) -> str:
    """Train (or resume) one codec; ``threads`` as :func:`eval_settings` (a codec's ``train.threads`` wins)."""
    from codecstudy.codec.presets import resolve_codec_config
    from codecstudy.train.trainer import train

    if threads is not None:
        import torch

        torch.set_num_threads(threads)

    config = resolve_codec_config(run.source, list(run.overrides))
    valid_path = layout.valid_manifest(run.condition)
    valid = valid_path if spec.train.validation and valid_path.is_file() and valid_path.stat().st_size else None
    result = train(
        config,
        layout.condition_manifest(run.condition),
        layout.codec_dir(run.name),
        valid=valid,
        cache_dir=layout.audio_cache,
        show_progress=progress,
    )
    return f"step {result.step} in {result.seconds / 60:.1f} min"


def evaluate_stage(
    codec: str, eval_set: str, spec: StudySpec, layout: RunLayout, progress: bool, force: bool = False,
    threads: int | None = None,
) -> str:
    from codecstudy.evaluate.scorer import evaluate_codec

    summary = evaluate_codec(
        str(layout.codec_file(codec)),
        layout.eval_manifest(eval_set),
        layout.eval_dir(codec, eval_set),
        list(spec.evaluate.n_q),
        eval_settings(spec, threads),
        set_name=eval_set,
        name=codec,
        progress=progress,
        force=force,
    )
    failed = sum(summary.failed_metrics.values())
    return f"{summary.scored} clips scored" + (f", {failed} metric failures (see results.jsonl)" if failed else "")


def tts_train_manifest(spec: StudySpec, layout: RunLayout) -> Path:
    """The transcribed train-split speech of ``tts.languages``, shared by every codec's TTS.

    Recomputed on every call (a second) but rewritten only when it changes, so a changed ``tts.languages`` is not
    silently ignored and an unchanged one keeps the file as it was.
    """
    import json

    from codecstudy.corpus.manifest import load_manifest

    path = layout.tts_train_manifest
    languages = set(spec.tts.languages)
    clips = [
        c for c in load_manifest(layout.corpus)
        if c.split == "train" and c.domain == "speech" and c.language in languages and (c.text or "").strip()
    ]
    if not clips:
        raise ConfigError(f"{_where(spec)}tts.languages: no transcribed training clips in {sorted(languages)}")
    lines = [json.dumps(c.to_json(), ensure_ascii=False) for c in clips]
    old = path.read_text(encoding="utf-8").splitlines() if path.is_file() else None
    if old is None or [json.loads(x) for x in old] != [json.loads(x) for x in lines]:
        write_jsonl_atomic(path, (c.to_json() for c in clips))
    return path


def tts_stage(
    codec: str, spec: StudySpec, layout: RunLayout, train_manifest: Path, progress: bool, stale: bool = False
) -> str:
    """Train (or resume) and evaluate one codec's TTS (:func:`codecstudy.tts.stage.run_tts`)."""
    import shutil

    from codecstudy.tts.config import load_tts_config
    from codecstudy.tts.stage import run_tts

    if stale:  # made with an earlier version of the codec: its tokens are no longer this codec's tokens
        shutil.rmtree(layout.tts_dir(codec))
    result = run_tts(
        layout.codec_file(codec),
        train_manifest,
        layout.eval_manifest(spec.tts.eval_set),
        layout.tts_dir(codec),
        load_tts_config(spec.tts.preset, list(spec.tts.overrides)),
        systems=list(spec.tts.systems),
        metrics=list(spec.tts.metrics),
        max_eval_clips=spec.tts.max_eval_clips,
        show_progress=progress,
    )
    wer = {row["system"]: row["wer"] for row in result["table"]}
    return ", ".join(f"{system} WER {value:.3f}" for system, value in wer.items())


# ---------------------------------------------------------------------------------------------------- the run
def plan_text(states: list[S.StageState]) -> str:
    """The dry-run plan: what each stage would do."""
    action = {S.COMPLETE: "skip", S.PARTIAL: "resume", S.MISSING: "run"}
    lines = []
    for s in states:
        item = f" {s.item}" if s.item else ""
        lines.append(f"  {action[s.status]:<7}{s.stage}{item}" + (f"  ({s.status}; {s.detail})" if s.detail else
                                                                    f"  ({s.status})"))
    return "\n".join(lines)


class StudyRunner:
    """Runs one study into one run folder; every stage goes through :meth:`_stage` (state check, record, log)."""

    def __init__(self, spec: StudySpec, out: Path | None = None, *, progress: bool = True,
                 echo: Echo = print, parallel: int | str | None = None) -> None:
        self.spec = spec
        self.layout = RunLayout(Path(out) if out else default_run_dir(spec))
        self.progress = progress
        self.echo = echo
        self.records: list[StageRecord] = []
        self.parallel = spec.parallel if parallel is None else parallel  # CLI --parallel beats the study file

    def _stage(self, current: S.StageState, work: Callable[[], str]) -> StageRecord:
        if not self._begin(current):
            return self.records[-1]
        began = time.perf_counter()
        detail = work()
        return self._finish(current, detail, time.perf_counter() - began)

    def _begin(self, current: S.StageState) -> bool:
        """Announce a stage item; a complete one is recorded as skipped and False returned."""
        label = f"{current.stage}" + (f" {current.item}" if current.item else "")
        if current.status == S.COMPLETE:
            self.echo(f"[skip]   {label}: complete" + (f" ({current.detail})" if current.detail else ""))
            self._record(StageRecord(current.stage, current.item, "skipped", 0.0, current.detail))
            return False
        verb = "resume" if current.status == S.PARTIAL else "run"
        self.echo(f"[{verb}]    {label}" + (f" ({current.detail})" if current.detail else ""))
        return True

    def _finish(self, current: S.StageState, detail: str, seconds: float) -> StageRecord:
        label = f"{current.stage}" + (f" {current.item}" if current.item else "")
        verb = "resumed" if current.status == S.PARTIAL else "ran"
        record = StageRecord(current.stage, current.item, verb, round(seconds, 2), detail)
        self.echo(f"         {label}: {detail} ({record.seconds:.1f} s)")
        return self._record(record)

    def _record(self, record: StageRecord) -> StageRecord:
        self.records.append(record)
        with JsonlAppender(self.layout.stages_log) as log:
            log.write({**asdict(record), "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "pid": os.getpid()})
        return record

    def dry_run(self, only: list[str] | None = None) -> str:
        notes = check_study(self.spec, only)
        states = S.study_state(self.spec, self.layout, only)
        if only:
            states = [s for s in states if s.stage not in ("aggregate", "report")]
        text = (
            f"study {self.spec.name}: run folder {self.layout.root}\n"
            + "\n".join(f"  {n}" for n in notes)
            + f"\nplan (nothing was run):\n{plan_text(states)}"
        )
        return text

    def run(self, only: list[str] | None = None) -> list[StageRecord]:
        spec, layout = self.spec, self.layout
        check_study(spec, only)
        write_study_file(spec, layout)
        with run_lock(layout, "corpus"):
            self._stage(S.corpus_state(spec, layout), self._build_corpus)
            self._stage(S.conditions_state(spec, layout), lambda: build_conditions_stage(spec, layout))
        runs = spec.codec_runs(only)
        self._train_and_evaluate(runs, baselines=not only)
        if spec.tts.enabled:
            steps = S.tts_steps(spec)
            states = [S.tts_state(run.name, layout, steps) for run in runs]
            # one pass over the corpus manifest for every codec's TTS, and none when all of them are complete
            manifest = tts_train_manifest(spec, layout) if any(s.status != S.COMPLETE for s in states) else None
            for run, current in zip(runs, states):
                self._stage(current, lambda run=run, stale=current.stale: tts_stage(
                    run.name, spec, layout, manifest, self.progress, stale))
        if only:
            self.echo(f"--only {', '.join(only)}: done; run `codecstudy study run` without --only once every "
                      "condition is trained to write the tables and the report")
            return self.records
        with run_lock(layout, "report"):
            all_codecs = [r.name for r in spec.codec_runs()] + [b.name for b in spec.baseline_runs()]
            if spec.listen.enabled:  # before the report, which links to it
                self._stage(S.listen_state(spec, layout), self._listen)
            self._stage(S.aggregate_state(layout, all_codecs), self._aggregate)
            self._stage(S.report_state(layout), self._report)
        return self.records

    def _train_and_evaluate(self, runs: list[CodecRun], baselines: bool) -> None:
        """Every codec's training, then its evaluations (and, with ``baselines``, the baselines' evaluations),
        concurrently where ``parallel`` and the cores allow (:mod:`codecstudy.study.parallel`); in study order, one
        at a time, otherwise."""
        from codecstudy.study.parallel import Scheduler, plan
        from codecstudy.study.schedule import count_items, study_items

        chosen = plan(self.parallel, count_items(self.spec, runs, baselines))
        # several processes' progress bars would garble one terminal: workers run without theirs
        items = study_items(self.spec, self.layout, runs, self.progress and not chosen.parallel, baselines)
        if chosen.note:
            self.echo(chosen.note)
        elif chosen.parallel:
            self.echo(f"parallel: {chosen.processes} processes x {chosen.threads} thread(s) for training and "
                      "evaluation (study key `parallel`, or --parallel 1 to run one item at a time)")
        from codecstudy.study.eta import StudyProgress, WorkEstimate, announcement, calibrate

        pending = [i for i in items if i.stage == "train" and i.state and i.state().status != S.COMPLETE]
        estimate = WorkEstimate(items, calibrate(pending, chosen), self.spec, self.layout)
        if pending:
            self.echo(announcement(estimate, chosen))
        with StudyProgress(estimate, self.progress) as progress:

            def begin(item: Any, state: S.StageState) -> bool:
                if self._begin(state):
                    return True
                progress.item_finished(item)
                return False

            def finish(item: Any, state: S.StageState, detail: str, seconds: float) -> None:
                self._finish(state, detail, seconds)
                progress.item_finished(item)

            Scheduler(chosen, self.layout.root).run(items, begin=begin, finish=finish)

    def _build_corpus(self) -> str:
        from codecstudy.corpus.builder import build_corpus

        result = build_corpus(self.spec.corpus, self.layout.corpus, workers=os.cpu_count() or 1,
                              show_progress=self.progress)
        return f"{len(result.clips)} clips"

    def _aggregate(self) -> str:
        from codecstudy.study.tables import write_study_tables

        written = write_study_tables(self.spec, self.layout)
        return f"{len(written)} table files in {self.layout.tables}"

    def _listen(self) -> str:
        from codecstudy.study.listening import build_listening_test

        return str(build_listening_test(self.spec, self.layout))

    def _report(self) -> str:
        from codecstudy.study.report import build_report

        return str(build_report(self.spec, self.layout))


def summary_text(layout: RunLayout) -> str:
    """What the run prints at the end: the paper-style tables and counts, and where the report is."""
    parts = []
    paper = layout.tables / "paper.md"
    if paper.is_file():
        parts.append(paper.read_text(encoding="utf-8").rstrip())
    from codecstudy.study.tables import read_csv

    counts = read_csv(layout.tables / "paper_counts.csv")
    if counts:
        parts.append("best / worst per condition (language/domain x metric cells):")
        parts += [f"  {c['condition']:<32} best {c['best']:>3}  worst {c['worst']:>3}" for c in counts]
    if layout.report_file.is_file():
        parts.append(f"report: {layout.report_file.resolve()}")
    return "\n".join(parts)
