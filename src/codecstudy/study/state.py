"""What is done: each stage's state decided from the files on disk alone, never from a log of earlier runs.

A stage is *complete* when its final file exists and matches the study (``corpus.json`` with the same config, a
training ``summary.json`` at the configured step, a result line for every clip and n_q, tables newer than every
result, a report newer than the tables); *partial* when some of its outputs exist (a killed build, checkpoints,
some result lines), which the stage's own resume mechanism continues; *missing* otherwise. Because the decision
reads only files, several processes (``--only``) and a re-run after a kill see the same state.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codecstudy.codec.registry import unwrap_codec_payload
from codecstudy.jsonl import read_jsonl
from codecstudy.study.layout import RunLayout
from codecstudy.study.spec import CodecRun, StudySpec

COMPLETE, PARTIAL, MISSING = "complete", "partial", "missing"
_STEP_FILE = re.compile(r"step-(\d+)\.pt$")


@dataclass(frozen=True)
class StageState:
    """One row of ``study status``: a stage, the item it is about (a codec, codec/set), its state and a detail."""

    stage: str
    item: str
    status: str
    detail: str = ""
    stale: bool = False  # outputs exist but were made from other inputs (a retrained codec): redo, don't resume


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def corpus_state(spec: StudySpec, layout: RunLayout) -> StageState:
    summary = _read_json(layout.corpus / "corpus.json")
    if isinstance(summary, dict) and summary.get("config") == spec.corpus.to_dict():
        return StageState("corpus", "", COMPLETE, f"{summary.get('clips')} clips, {summary.get('hours')} h")
    if (layout.corpus / ".build").is_dir():
        return StageState("corpus", "", PARTIAL, "build started" if summary is None else "config changed")
    return StageState("corpus", "", MISSING)


def conditions_fingerprint(spec: StudySpec, layout: RunLayout) -> dict[str, Any]:
    """What decides the condition and eval-set files: their config and the manifest they were drawn from."""
    manifest = layout.corpus / "manifest.jsonl"
    given = {"given_codecs": sorted(spec.checkpoints)} if spec.checkpoints else {}  # these draw no clips
    return {
        "config": spec.conditions.model_dump(mode="json"),
        "manifest_sha256": file_digest(manifest) if manifest.is_file() else None,
        **given,
    }


def conditions_state(spec: StudySpec, layout: RunLayout) -> StageState:
    done = _read_json(layout.conditions_done)
    if isinstance(done, dict) and done.get("fingerprint") == conditions_fingerprint(spec, layout):
        return StageState("conditions", "", COMPLETE, f"{len(spec.condition_names)} conditions")
    if (layout.corpus / "conditions").is_dir():
        return StageState("conditions", "", PARTIAL, "out of date" if done else "not finished")
    return StageState("conditions", "", MISSING)


def target_steps(run: CodecRun) -> int:
    """``train.steps`` of a codec run after its overrides."""
    from codecstudy.codec.presets import resolve_codec_config

    return int(resolve_codec_config(run.source, list(run.overrides)).train_config().steps)


def last_checkpoint_step(codec_dir: Path) -> int | None:
    steps = [int(m.group(1)) for p in (codec_dir / "checkpoints").glob("step-*.pt") if (m := _STEP_FILE.search(p.name))]
    return max(steps) if steps else None


def train_state(run: CodecRun, layout: RunLayout, steps: int) -> StageState:
    folder = layout.codec_dir(run.name)
    summary = _read_json(folder / "summary.json")
    if isinstance(summary, dict) and int(summary.get("step", -1)) >= steps and layout.codec_file(run.name).is_file():
        return StageState("train", run.name, COMPLETE, f"step {summary['step']}/{steps}")
    last = last_checkpoint_step(folder)
    if last is not None:
        return StageState("train", run.name, PARTIAL, f"checkpoint at step {last}/{steps}")
    if folder.is_dir():
        return StageState("train", run.name, PARTIAL, f"started, no checkpoint yet (0/{steps})")
    return StageState("train", run.name, MISSING, f"0/{steps}")


def checkpoint_state(run: CodecRun, layout: RunLayout) -> StageState:
    """A given codec (study ``checkpoints:``): complete once imported from this very source."""
    marker = _read_json(layout.codec_dir(run.name) / "imported.json")
    if isinstance(marker, dict) and marker.get("source") == run.source and layout.codec_file(run.name).is_file():
        return StageState("import", run.name, COMPLETE, f"from {run.source}")
    return StageState("import", run.name, MISSING, f"from {run.source}")


def eval_clip_ids(layout: RunLayout, eval_set: str) -> list[str]:
    return [record["id"] for record in read_jsonl(layout.eval_manifest(eval_set))]


def codec_identity(path: Path) -> str | None:
    """The identity hash stored in a codec checkpoint (what the scorer records as ``codec_identity``)."""
    import torch

    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # missing or unreadable: the evaluation will say why
        return None
    payload = unwrap_codec_payload(payload)
    return payload.get("identity") if isinstance(payload, dict) else None


ALIGNMENT_STALE = "scored under another delay rule or alignment setting"


def alignment_stale(meta: Any, alignment: dict[str, Any] | None) -> bool:
    """An evaluation's ``meta.json`` was written under other alignment settings (they carry the delay rule's
    version), so its numbers are not comparable with a new run's and must be redone, not resumed."""
    return alignment is not None and isinstance(meta, dict) and meta.get("alignment") != alignment


def eval_state(
    codec: str,
    eval_set: str,
    layout: RunLayout,
    n_qs: list[int],
    clip_ids: list[str],
    identity: str | None = None,
    alignment: dict[str, Any] | None = None,
) -> StageState:
    """Complete when every clip has a line at every n_q (and usage.json) for *this* codec (``identity``) under
    *these* alignment settings (``alignment``, which carry the delay rule's version)."""
    from codecstudy.evaluate.scorer import done_clips

    folder = layout.eval_dir(codec, eval_set)
    item = f"{codec}/{eval_set}"
    meta = _read_json(folder / "meta.json")
    if identity is not None and isinstance(meta, dict) and meta.get("codec_identity") not in (None, identity):
        return StageState("evaluate", item, PARTIAL, "scored with an earlier version of the codec", stale=True)
    if alignment_stale(meta, alignment):
        return StageState("evaluate", item, PARTIAL, ALIGNMENT_STALE, stale=True)
    expected = set(clip_ids)
    done = 0
    complete = bool(expected)
    for n_q in n_qs:
        have = done_clips(folder / str(n_q)) & expected
        done += len(have)
        if have != expected or not (folder / str(n_q) / "usage.json").is_file():
            complete = False
    total = len(expected) * len(n_qs)
    detail = f"{done}/{total} clip x n_q"
    if complete:
        return StageState("evaluate", item, COMPLETE, detail)
    if done or (folder / "meta.json").is_file():
        return StageState("evaluate", item, PARTIAL, detail)
    return StageState("evaluate", item, MISSING, detail)


def tts_steps(spec: StudySpec) -> int:
    """``train.steps`` of the study's TTS config after its overrides."""
    from codecstudy.tts.config import load_tts_config

    return int(load_tts_config(spec.tts.preset, list(spec.tts.overrides)).train.steps)


def tts_state(codec: str, layout: RunLayout, steps: int) -> StageState:
    """Complete when the TTS reached its steps and its evaluation tables were written after the model and the codec.

    A retrained codec (``codec.pt`` newer than the TTS model) makes the stage stale, like an evaluation.
    """
    folder = layout.tts_dir(codec)
    model, table = folder / "model" / "model.pt", folder / "eval" / "summary.json"
    summary = _read_json(folder / "model" / "summary.json")
    step = int(summary.get("steps", 0)) if isinstance(summary, dict) else 0
    codec_file = layout.codec_file(codec)
    fresh = model.is_file() and (not codec_file.is_file() or codec_file.stat().st_mtime <= model.stat().st_mtime)
    if fresh and step >= steps and table.is_file() and table.stat().st_mtime >= model.stat().st_mtime:
        return StageState("tts", codec, COMPLETE, f"step {step}/{steps}, evaluated")
    if model.is_file() and not fresh:
        return StageState("tts", codec, PARTIAL, "the codec was retrained after this TTS", stale=True)
    if folder.is_dir():
        return StageState("tts", codec, PARTIAL, f"step {step}/{steps}" + (", not evaluated" if step >= steps else ""))
    return StageState("tts", codec, MISSING, f"0/{steps}")


def newest_result_mtime(layout: RunLayout, codecs: list[str]) -> float | None:
    times = [
        p.stat().st_mtime
        for codec in codecs
        for p in (layout.eval_root / codec).rglob("results*.jsonl")
        if (layout.eval_root / codec).is_dir()
    ]
    times += [p.stat().st_mtime for codec in codecs if (p := layout.tts_dir(codec) / "eval" / "summary.json").is_file()]
    return max(times) if times else None


def aggregate_state(layout: RunLayout, codecs: list[str]) -> StageState:
    """Complete when the tables' completion marker (written after every table file) is newer than every result:
    ``summary.csv`` alone is written first, so an aggregation that failed half-way is redone, not kept."""
    done = layout.tables_done
    newest = newest_result_mtime(layout, codecs)
    if not done.is_file():
        detail = "unfinished" if (layout.tables / "summary.csv").is_file() else ""
        return StageState("aggregate", "", PARTIAL if detail else MISSING, detail)
    if newest is not None and done.stat().st_mtime < newest:
        return StageState("aggregate", "", PARTIAL, "older than the results")
    return StageState("aggregate", "", COMPLETE)


def report_state(layout: RunLayout) -> StageState:
    report, tables = layout.report_file, layout.tables_done
    if not report.is_file():
        return StageState("report", "", MISSING)
    if tables.is_file() and report.stat().st_mtime < tables.stat().st_mtime:
        return StageState("report", "", PARTIAL, "older than the tables")
    return StageState("report", "", COMPLETE, str(report))


def eval_settings(spec: StudySpec, threads: int | None = None) -> Any:
    """The scorer's settings for a study's evaluations (also what their ``meta.json`` must match to be current).

    ``threads``: the cores the study runner gave this evaluation (it runs beside others), used as scoring processes
    of one torch thread each instead of one process per core."""
    import os

    from codecstudy.evaluate.scorer import EvalSettings, default_ref_cache

    ev = spec.evaluate
    workers = ev.workers or os.cpu_count() or 1
    return EvalSettings(
        metrics=list(ev.metrics),
        mode=ev.mode,
        overrides={k: dict(v) for k, v in ev.metric_settings.items()},
        delay_compensation=ev.delay_compensation,
        validity={k: dict(v) for k, v in ev.validity.items()},
        workers=workers if threads is None else max(1, min(workers, threads)),
        ref_cache=default_ref_cache(False, None),
        threads=None if threads is None else 1,
        device=ev.device,
    )


def study_state(spec: StudySpec, layout: RunLayout, only: list[str] | None = None) -> list[StageState]:
    """Every stage's state, in run order (evaluation rows only once the eval sets exist)."""
    states = [corpus_state(spec, layout), conditions_state(spec, layout)]
    runs = spec.codec_runs(only)
    steps_cache: dict[tuple[str, tuple[str, ...]], int] = {}
    for run in runs:
        if run.pretrained:
            states.append(checkpoint_state(run, layout))
            continue
        key = (run.source, run.overrides)
        if key not in steps_cache:
            steps_cache[key] = target_steps(run)
        states.append(train_state(run, layout, steps_cache[key]))
    identities = {run.name: codec_identity(layout.codec_file(run.name)) for run in runs}
    alignment = eval_settings(spec).alignment()
    for eval_set in spec.eval_set_names:
        ids = eval_clip_ids(layout, eval_set) if layout.eval_manifest(eval_set).is_file() else []
        for run in runs:
            if not ids:
                states.append(StageState("evaluate", f"{run.name}/{eval_set}", MISSING, "eval set not built"))
            else:
                states.append(eval_state(run.name, eval_set, layout, spec.evaluate.n_q, ids, identities[run.name],
                                         alignment))
    if spec.baseline_runs() and not only:
        from codecstudy.study.baselines import baseline_state

        for eval_set in spec.eval_set_names:
            ids = eval_clip_ids(layout, eval_set) if layout.eval_manifest(eval_set).is_file() else []
            states += [baseline_state(b, eval_set, layout, ids, alignment) for b in spec.baseline_runs()]
    if spec.tts.enabled:
        steps = tts_steps(spec)
        states += [tts_state(run.name, layout, steps) for run in runs]
    all_codecs = [r.name for r in spec.codec_runs()] + [b.name for b in spec.baseline_runs()]
    if spec.listen.enabled:
        states.append(listen_state(spec, layout))
    states.append(aggregate_state(layout, all_codecs))
    states.append(report_state(layout))
    return states


def listen_state(spec: StudySpec, layout: RunLayout) -> StageState:
    """The listening test: complete when built for the study as it is now (its stimuli are rebuilt, not resumed)."""
    from codecstudy.study.listening import listening_state

    complete, detail = listening_state(spec, layout)
    return StageState("listen", "", COMPLETE if complete else MISSING, detail)


def format_states(states: list[StageState]) -> str:
    """The ``study status`` table."""
    width = max([len(s.item) for s in states] + [4])
    lines = [f"{'stage':<11}{'item':<{width + 2}}{'state':<10}detail", "-" * (width + 40)]
    for s in states:
        lines.append(f"{s.stage:<11}{s.item or '-':<{width + 2}}{s.status:<10}{s.detail}")
    counts = {k: sum(1 for s in states if s.status == k) for k in (COMPLETE, PARTIAL, MISSING)}
    lines.append(f"\n{counts[COMPLETE]} complete, {counts[PARTIAL]} partial, {counts[MISSING]} missing")
    return "\n".join(lines)
