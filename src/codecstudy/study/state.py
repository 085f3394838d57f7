"""What is done: each stage's state decided from the files on disk alone, never from a log of earlier runs.

A stage is *complete* when its final file exists and matches the study (``corpus.json`` with the same config, a
training ``summary.json`` at the configured step, a result line for every clip and n_q, tables newer than every
result, a report newer than the tables); *partial* when some of its outputs exist (a killed build, checkpoints,
some result lines), which the stage's own resume mechanism continues; *missing* otherwise. Because the decision
reads only files, several processes (``--only``) and a re-run after a kill see the same state. Every "is it
done?" of a study lives here, the baselines' and the listening test's included.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from codecstudy.codec.registry import unwrap_codec_payload
from codecstudy.errors import CodecStudyError
from codecstudy.evaluate.outputs import done_clips
from codecstudy.files import read_json_or_none, sha256_file
from codecstudy.jsonl import read_jsonl
from codecstudy.listen.formats import ListeningTest, read_listening_test
from codecstudy.study.layout import RunLayout
from codecstudy.study.settings import eval_settings, listening_hash, training_key, training_targets, tts_steps
from codecstudy.study.spec import Baseline, CodecRun, StudySpec

COMPLETE, PARTIAL, MISSING = "complete", "partial", "missing"
ALIGNMENT_STALE = "scored under another delay rule or alignment setting"


@dataclass(frozen=True)
class StageState:
    """One row of ``study status``: a stage, the item it is about (a codec, codec/set), its state and a detail."""

    stage: str
    item: str
    status: str
    detail: str = ""
    stale: bool = False  # outputs exist but were made from other inputs (a retrained codec): redo, don't resume


# -------------------------------------------------------------------------------------------- corpus stages
def corpus_state(spec: StudySpec, layout: RunLayout) -> StageState:
    summary = read_json_or_none(layout.corpus_summary)
    if isinstance(summary, dict) and summary.get("config") == spec.corpus.to_dict():
        return StageState("corpus", "", COMPLETE, f"{summary.get('clips')} clips, {summary.get('hours')} h")
    if layout.corpus_build_dir.is_dir():
        return StageState("corpus", "", PARTIAL, "build started" if summary is None else "config changed")
    return StageState("corpus", "", MISSING)


def conditions_fingerprint(spec: StudySpec, layout: RunLayout) -> dict[str, Any]:
    """What decides the condition and eval-set files: their config and the manifest they were drawn from."""
    manifest = layout.manifest
    given = {"given_codecs": sorted(spec.checkpoints)} if spec.checkpoints else {}  # these draw no clips
    return {
        "config": spec.conditions.model_dump(mode="json"),
        "manifest_sha256": sha256_file(manifest) if manifest.is_file() else None,
        **given,
    }


def conditions_state(spec: StudySpec, layout: RunLayout) -> StageState:
    done = read_json_or_none(layout.conditions_done)
    if isinstance(done, dict) and done.get("fingerprint") == conditions_fingerprint(spec, layout):
        return StageState("conditions", "", COMPLETE, f"{len(spec.condition_names)} conditions")
    if layout.conditions_dir.is_dir():
        return StageState("conditions", "", PARTIAL, "out of date" if done else "not finished")
    return StageState("conditions", "", MISSING)


# ------------------------------------------------------------------------------------------------- training
def train_state(run: CodecRun, layout: RunLayout, steps: int) -> StageState:
    summary = read_json_or_none(layout.train_summary(run.name))
    if isinstance(summary, dict) and int(summary.get("step", -1)) >= steps and layout.codec_file(run.name).is_file():
        return StageState("train", run.name, COMPLETE, f"step {summary['step']}/{steps}")
    last = layout.last_checkpoint_step(run.name)
    if last is not None:
        return StageState("train", run.name, PARTIAL, f"checkpoint at step {last}/{steps}")
    if layout.codec_dir(run.name).is_dir():
        return StageState("train", run.name, PARTIAL, f"started, no checkpoint yet (0/{steps})")
    return StageState("train", run.name, MISSING, f"0/{steps}")


def checkpoint_state(run: CodecRun, layout: RunLayout) -> StageState:
    """A given codec (study ``checkpoints:``): complete once imported from this very source."""
    marker = read_json_or_none(layout.imported_marker(run.name))
    if isinstance(marker, dict) and marker.get("source") == run.source and layout.codec_file(run.name).is_file():
        return StageState("import", run.name, COMPLETE, f"from {run.source}")
    return StageState("import", run.name, MISSING, f"from {run.source}")


def codec_state(run: CodecRun, layout: RunLayout, targets: dict[Any, int]) -> StageState:
    """A codec's training or, for a given checkpoint, its import."""
    if run.pretrained:
        return checkpoint_state(run, layout)
    return train_state(run, layout, targets[training_key(run)])


def codec_identity(path: Path) -> str | None:
    """The identity hash stored in a codec checkpoint (what the scorer records as ``codec_identity``)."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # missing or unreadable: the evaluation will say why
        return None
    payload = unwrap_codec_payload(payload)
    return payload.get("identity") if isinstance(payload, dict) else None


# ----------------------------------------------------------------------------------------------- evaluation
def eval_clip_ids(layout: RunLayout, eval_set: str) -> list[str]:
    return [record["id"] for record in read_jsonl(layout.eval_manifest(eval_set))]


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
    part: str | None = None,
) -> StageState:
    """Complete when every clip has a line at every n_q (and usage.json) for *this* codec (``identity``) under
    *these* alignment settings (``alignment``, which carry the delay rule's version). A split evaluation's clip has
    a line once every metric part scored it; with ``part``, the state of that part alone (a cluster job's)."""
    item = f"{codec}/{eval_set}"
    meta = read_json_or_none(layout.eval_meta(codec, eval_set))
    if identity is not None and isinstance(meta, dict) and meta.get("codec_identity") not in (None, identity):
        return StageState("evaluate", item, PARTIAL, "scored with an earlier version of the codec", stale=True)
    if alignment_stale(meta, alignment):
        return StageState("evaluate", item, PARTIAL, ALIGNMENT_STALE, stale=True)
    expected = set(clip_ids)
    done = 0
    complete = bool(expected)
    for n_q in n_qs:
        have = done_clips(layout.eval_setting_dir(codec, eval_set, n_q), part) & expected
        done += len(have)
        if have != expected or not layout.eval_usage(codec, eval_set, n_q).is_file():
            complete = False
    scope = f"{part} metrics, " if part else ""
    detail = f"{scope}{done}/{len(expected) * len(n_qs)} clip x n_q"
    if complete:
        return StageState("evaluate", item, COMPLETE, detail)
    if done or layout.eval_meta(codec, eval_set).is_file():
        return StageState("evaluate", item, PARTIAL, detail)
    return StageState("evaluate", item, MISSING, detail)


def codec_eval_state(codec: str, eval_set: str, spec: StudySpec, layout: RunLayout,
                     part: str | None = None) -> StageState:
    """A trained codec's evaluation on one set (or one metric ``part`` of it), read when it is due (the codec's
    identity exists only after its training)."""
    return eval_state(codec, eval_set, layout, list(spec.evaluate.n_q), eval_clip_ids(layout, eval_set),
                      codec_identity(layout.codec_file(codec)), eval_settings(spec).alignment(), part)


def baseline_state(
    baseline: Baseline, eval_set: str, layout: RunLayout, clip_ids: list[str], alignment: dict[str, Any] | None = None
) -> StageState:
    """Complete when every clip has a line at every setting the last run chose (from its meta.json)."""
    item = f"{baseline.name}/{eval_set}"
    meta = read_json_or_none(layout.eval_meta(baseline.name, eval_set))
    if not isinstance(meta, dict):
        return StageState("evaluate", item, MISSING, "baseline")
    if meta.get("codec_source") != baseline.codec:
        return StageState("evaluate", item, PARTIAL, f"scored as {meta.get('codec_source')}", stale=True)
    if alignment_stale(meta, alignment):
        return StageState("evaluate", item, PARTIAL, ALIGNMENT_STALE, stale=True)
    expected = set(clip_ids)
    settings = meta.get("settings") or []
    done = sum(len(done_clips(layout.eval_setting_dir(baseline.name, eval_set, s)) & expected) for s in settings)
    detail = f"baseline, {done}/{len(expected) * len(settings)} clip x setting"
    complete = bool(expected) and bool(settings) and done == len(expected) * len(settings)
    return StageState("evaluate", item, COMPLETE if complete else PARTIAL, detail)


def study_baseline_state(baseline: Baseline, eval_set: str, spec: StudySpec, layout: RunLayout) -> StageState:
    """A baseline's evaluation on one set, read when it is due."""
    return baseline_state(baseline, eval_set, layout, eval_clip_ids(layout, eval_set),
                          eval_settings(spec).alignment())


# ---------------------------------------------------------------------------------------------------- TTS
def tts_state(codec: str, layout: RunLayout, steps: int) -> StageState:
    """Complete when the TTS reached its steps and its evaluation tables were written after the model and the codec.

    A retrained codec (``codec.pt`` newer than the TTS model) makes the stage stale, like an evaluation.
    """
    model, table = layout.tts_model(codec), layout.tts_eval_summary(codec)
    summary = read_json_or_none(layout.tts_model_summary(codec))
    step = int(summary.get("steps", 0)) if isinstance(summary, dict) else 0
    codec_file = layout.codec_file(codec)
    fresh = model.is_file() and (not codec_file.is_file() or codec_file.stat().st_mtime <= model.stat().st_mtime)
    if fresh and step >= steps and table.is_file() and table.stat().st_mtime >= model.stat().st_mtime:
        return StageState("tts", codec, COMPLETE, f"step {step}/{steps}, evaluated")
    if model.is_file() and not fresh:
        return StageState("tts", codec, PARTIAL, "the codec was retrained after this TTS", stale=True)
    if layout.tts_dir(codec).is_dir():
        return StageState("tts", codec, PARTIAL, f"step {step}/{steps}" + (", not evaluated" if step >= steps else ""))
    return StageState("tts", codec, MISSING, f"0/{steps}")


# ------------------------------------------------------------------------------ listening, tables and report
def listening_test(layout: RunLayout) -> ListeningTest | None:
    """The built listening test's ``trials.json``, None when there is none; a damaged one is a one-line error."""
    return read_listening_test(layout.listen_trials)


def listen_state(spec: StudySpec, layout: RunLayout) -> StageState:
    """The listening test: complete when built for the study as it is now (its stimuli are rebuilt, not resumed)."""
    try:
        test = listening_test(layout)
    except CodecStudyError:
        return StageState("listen", "", MISSING, "trials.json damaged")
    if test is None or not layout.listen_page.is_file():
        return StageState("listen", "", MISSING, "not built")
    if test.study.hash != listening_hash(spec):
        return StageState("listen", "", MISSING, "built for another version of the study")
    return StageState("listen", "", COMPLETE, f"{len(test.trials)} trials")


def newest_result_mtime(layout: RunLayout, codecs: list[str]) -> float | None:
    times = [p.stat().st_mtime for codec in codecs for p in layout.all_eval_results(codec)]
    times += [p.stat().st_mtime for codec in codecs if (p := layout.tts_eval_summary(codec)).is_file()]
    return max(times) if times else None


def aggregate_state(layout: RunLayout, codecs: list[str]) -> StageState:
    """Complete when the tables' completion marker (written after every table file) is newer than every result:
    ``summary.csv`` alone is written first, so an aggregation that failed half-way is redone, not kept."""
    done = layout.tables_done
    newest = newest_result_mtime(layout, codecs)
    if not done.is_file():
        detail = "unfinished" if layout.table("summary.csv").is_file() else ""
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


# --------------------------------------------------------------------------------------------- the study
def _unbuilt_set(spec: StudySpec, eval_set: str) -> str:
    """The plan's detail for an evaluation set still to be (re)built: what the study asks of it."""
    limit = next((s.max_clips for s in spec.conditions.eval_sets if s.name == eval_set), None)
    clips = f"at most {limit} clips" if limit else "every matching clip"
    return f"eval set to be built: {clips} x {len(spec.evaluate.n_q)} n_q"


def _evaluation_states(spec: StudySpec, layout: RunLayout, runs: list[CodecRun], baselines: bool,
                       sets_current: bool) -> list[StageState]:
    """Each codec x set; ``sets_current`` is False when the eval sets are still to be (re)built, so that the
    plan shows what the study asks (its ``max_clips``), not what an earlier version of the sets held."""
    identities = {run.name: codec_identity(layout.codec_file(run.name)) for run in runs}
    alignment = eval_settings(spec).alignment()
    states = []
    for eval_set in spec.eval_set_names:
        built = sets_current and layout.eval_manifest(eval_set).is_file()
        ids = eval_clip_ids(layout, eval_set) if built else []
        for run in runs:
            if not ids:
                states.append(StageState("evaluate", f"{run.name}/{eval_set}", MISSING, _unbuilt_set(spec, eval_set)))
            else:
                states.append(eval_state(run.name, eval_set, layout, spec.evaluate.n_q, ids, identities[run.name],
                                         alignment))
    for eval_set in spec.eval_set_names if baselines else ():
        built = sets_current and layout.eval_manifest(eval_set).is_file()
        ids = eval_clip_ids(layout, eval_set) if built else []
        states += [baseline_state(b, eval_set, layout, ids, alignment) for b in spec.baseline_runs()]
    return states


def study_state(spec: StudySpec, layout: RunLayout, only: list[str] | None = None) -> list[StageState]:
    """Every stage's state, in run order (evaluation rows only once the eval sets exist)."""
    states = [corpus_state(spec, layout), conditions_state(spec, layout)]
    runs = spec.codec_runs(only)
    targets = training_targets(runs)
    states += [codec_state(run, layout, targets) for run in runs]
    states += _evaluation_states(spec, layout, runs, baselines=bool(spec.baseline_runs()) and not only,
                                 sets_current=states[1].status == COMPLETE)
    if spec.tts.enabled:
        steps = tts_steps(spec)
        states += [tts_state(run.name, layout, steps) for run in runs if not run.probe]
    all_codecs = [r.name for r in spec.codec_runs()] + [b.name for b in spec.baseline_runs()]
    if spec.listen.enabled:
        states.append(listen_state(spec, layout))
    states.append(aggregate_state(layout, all_codecs))
    states.append(report_state(layout))
    return states


def format_states(states: list[StageState]) -> str:
    """The ``study status`` table."""
    width = max([len(s.item) for s in states] + [4])
    lines = [f"{'stage':<11}{'item':<{width + 2}}{'state':<10}detail", "-" * (width + 40)]
    for s in states:
        lines.append(f"{s.stage:<11}{s.item or '-':<{width + 2}}{s.status:<10}{s.detail}")
    counts = {k: sum(1 for s in states if s.status == k) for k in (COMPLETE, PARTIAL, MISSING)}
    lines.append(f"\n{counts[COMPLETE]} complete, {counts[PARTIAL]} partial, {counts[MISSING]} missing")
    return "\n".join(lines)


def plan_text(states: list[StageState]) -> str:
    """The dry-run plan: what each stage would do."""
    action = {COMPLETE: "skip", PARTIAL: "resume", MISSING: "run"}
    lines = []
    for s in states:
        item = f" {s.item}" if s.item else ""
        lines.append(f"  {action[s.status]:<7}{s.stage}{item}" + (f"  ({s.status}; {s.detail})" if s.detail else
                                                                    f"  ({s.status})"))
    return "\n".join(lines)
