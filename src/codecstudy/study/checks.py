"""Everything a run would trip over later, checked before its first long stage.

Dataset folders, given checkpoints, codec configs with their overrides, numbers of codebooks, metric names,
settings and libraries, baselines, ``--only`` names. Each check returns notes for the plan or raises one
``ConfigError`` naming the study file and the key at fault.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from codecstudy.codec.catalog import open_codec
from codecstudy.codec.espnet import is_hub_name, locate
from codecstudy.codec.presets import resolve_codec_config
from codecstudy.corpus.conditions import select_eval_set
from codecstudy.corpus.manifest import load_manifest
from codecstudy.errors import CodecStudyError, ConfigError
from codecstudy.evaluate.base import MetricError
from codecstudy.evaluate.dependencies import check_available
from codecstudy.evaluate.metrics.runtime import torch_device
from codecstudy.evaluate.outputs import scoring_changes
from codecstudy.files import read_json_or_none
from codecstudy.study.layout import RunLayout
from codecstudy.study.settings import eval_settings, training_targets
from codecstudy.study.spec import StudySpec
from codecstudy.study.state import COMPLETE, alignment_stale, codec_identity, codec_state, corpus_state
from codecstudy.tts.config import load_tts_config


def check_checkpoint(source: str) -> str:
    """What a run would load from ``source`` (a note for the plan); CodecStudyError when it is not there."""
    if source.startswith("espnet:"):
        target = source[len("espnet:"):]
        if is_hub_name(target):
            return f"Hugging Face model {target} (`codecstudy study fetch` downloads it; jobs read the cache)"
        config, model = locate(target)
        return f"ESPnet model {model} ({config.name} beside it)"
    if not Path(source).is_file():
        raise CodecStudyError(f"codec checkpoint not found: {source}")
    return f"codec checkpoint {source}"


def check_checkpoints(spec: StudySpec) -> tuple[list[str], list[str]]:
    """``(notes, problems)`` for every given checkpoint; problems name the study key and the missing file."""
    notes, problems = [], []
    for condition, source in spec.checkpoints.items():
        try:
            notes.append(f"checkpoint for {condition}: {check_checkpoint(source)}")
        except CodecStudyError as exc:
            problems.append(f"checkpoints.{condition}: {exc}")
    return notes, problems


def check_inputs(spec: StudySpec, only: list[str] | None) -> list[str]:
    """Dataset folders, given checkpoints and ``--only`` names: every missing one at once, not one per attempt."""
    problems: list[str] = []
    for index, source in enumerate(spec.corpus.sources):
        try:
            source.check()
        except CodecStudyError as exc:
            problems.append(f"corpus.sources[{index}] ({source.kind}): {exc}")
    notes, missing = check_checkpoints(spec)
    problems += missing
    if problems:
        raise ConfigError(spec.where + "; ".join(problems))
    for name in only or []:
        if name not in spec.condition_names:
            raise ConfigError(f"--only {name}: no such condition (conditions: {', '.join(spec.condition_names)})")
    return notes


def check_codecs(spec: StudySpec) -> list[str]:
    """Each distinct codec config resolves, is of its architecture and has the codebooks ``evaluate.n_q`` asks."""
    notes = []
    seen: set[tuple[str, tuple[str, ...]]] = set()
    for run in spec.codec_runs():
        if run.pretrained or (run.source, run.overrides) in seen:
            continue
        seen.add((run.source, run.overrides))
        try:
            config = resolve_codec_config(run.source, list(run.overrides))
        except CodecStudyError as exc:
            raise ConfigError(f"{spec.where}codec (preset {spec.codec.preset!r}, {run.architecture}): {exc}") from None
        if config.architecture != run.architecture:
            raise ConfigError(
                f"{spec.where}codec.preset: {run.source} is a {config.architecture} codec, but architectures lists "
                f"{run.architecture}"
            )
        too_big = [n for n in spec.evaluate.n_q if n > config.quantizer.n_codebooks]
        if too_big:
            raise ConfigError(
                f"{spec.where}evaluate.n_q: {too_big} exceed the {config.quantizer.n_codebooks} codebooks of "
                f"{config.name} ({run.source} with codec.overrides)"
            )
        tc = config.train_config()
        notes.append(
            f"codec {run.source} ({run.architecture}): {config.quantizer.n_codebooks} x "
            f"{config.quantizer.codebook_size} codebooks, {tc.steps} steps of batch {tc.batch_size}"
        )
    return notes


def check_tts(spec: StudySpec) -> list[str]:
    if not spec.tts.enabled:
        return []
    try:
        tts = load_tts_config(spec.tts.preset, list(spec.tts.overrides))
    except CodecStudyError as exc:
        raise ConfigError(f"{spec.where}tts (preset {spec.tts.preset!r}): {exc}") from None
    return [f"tts: preset {spec.tts.preset}, {tts.train.steps} steps per codec on the transcribed "
            f"{'/'.join(spec.tts.languages)} train clips, scored on {spec.tts.eval_set}"]


def check_metrics(spec: StudySpec) -> list[str]:
    """Metric names, their settings, validity overrides and their libraries."""
    settings = eval_settings(spec)
    try:
        specs = settings.specs()
        settings.metric_settings()
    except CodecStudyError as exc:
        raise ConfigError(f"{spec.where}evaluate.metrics: {exc}") from None
    try:
        settings.validities()
    except CodecStudyError as exc:
        raise ConfigError(f"{spec.where}{exc}") from None
    try:
        check_available(specs)
    except CodecStudyError as exc:
        raise ConfigError(f"{spec.where}evaluate.metrics: {exc}") from None
    return [f"metrics ({spec.evaluate.mode} mode): {', '.join(s.name for s in specs)}"]


def check_baselines(spec: StudySpec) -> list[str]:
    """Open every baseline (library present, settings offered); a problem names ``baselines.codecs[i]``."""
    notes = []
    for index, baseline in enumerate(spec.baseline_runs()):
        try:
            codec = open_codec(baseline.codec)
        except CodecStudyError as exc:
            raise ConfigError(f"{spec.where}baselines.codecs[{index}] ({baseline.codec}): {exc}") from None
        settings = ", ".join(codec.setting(s).label for s in codec.default_settings())
        notes.append(f"baseline {baseline.name}: {baseline.codec} at {settings}, {codec.sample_rate} Hz")
    return notes


def check_device(spec: StudySpec) -> list[str]:
    """``evaluate.device`` names a device this machine has (a GPU asked for where none is visible fails here, not
    after training)."""
    if spec.evaluate.device in (None, "cpu"):
        return []
    try:
        device = torch_device(spec.evaluate.device)
    except MetricError as exc:
        raise ConfigError(f"{spec.where}evaluate.device: {exc}") from None
    return [f"model-based metrics on {device}"]


def check_corpus(spec: StudySpec, layout: RunLayout) -> list[str]:
    """Once the study's corpus is built: every trained condition and every evaluation set selects clips from it
    (a problem names the study key and the manifest)."""
    if corpus_state(spec, layout).status != COMPLETE:
        return []
    clips = load_manifest(layout.corpus)
    problems = []
    for index, condition in enumerate(spec.conditions.conditions):
        if condition.name not in spec.checkpoints and not condition.select(clips):
            problems.append(f"conditions[{index}] ({condition.name}): matches no clips of the "
                            f"{'/'.join(condition.splits)} split of {layout.manifest}")
    for index, eval_set in enumerate(spec.conditions.eval_sets):
        if not select_eval_set(clips, eval_set, spec.conditions.seed):
            problems.append(f"eval_sets[{index}] ({eval_set.name}): matches no clips of {layout.manifest}")
    if problems:
        raise ConfigError(spec.where + "; ".join(problems))
    return [f"corpus {layout.corpus}: every condition and evaluation set selects clips"]


#: The study key behind each part of an evaluation's fingerprint that the study decides.
STUDY_KEYS = {"metrics": "evaluate.metrics", "metric_settings": "evaluate.metric_settings",
                "mode": "evaluate.mode", "validity": "evaluate.validity"}


def _current_evaluations(spec: StudySpec, layout: RunLayout) -> list[tuple[Path, dict[str, Any]]]:
    """``(folder, meta)`` of each evaluation in the run folder that the run would add to rather than redo: one
    scored with the codec as it is now (finished training, same identity or source) under the same alignment."""
    settings = eval_settings(spec)
    alignment = settings.alignment()
    runs = spec.codec_runs()
    targets = training_targets(runs)
    found = []
    for run in runs:
        if codec_state(run, layout, targets).status != COMPLETE:
            continue  # trained (further) before it is scored again: its evaluations will be redone
        identity = codec_identity(layout.codec_file(run.name))
        for eval_set in spec.eval_set_names:
            meta = read_json_or_none(layout.eval_meta(run.name, eval_set))
            if isinstance(meta, dict) and meta.get("codec_identity") in (None, identity) \
                    and not alignment_stale(meta, alignment):
                found.append((layout.eval_dir(run.name, eval_set), meta))
    for baseline in spec.baseline_runs():
        for eval_set in spec.eval_set_names:
            meta = read_json_or_none(layout.eval_meta(baseline.name, eval_set))
            if isinstance(meta, dict) and meta.get("codec_source") == baseline.codec \
                    and not alignment_stale(meta, alignment):
                found.append((layout.eval_dir(baseline.name, eval_set), meta))
    return found


def check_evaluations(spec: StudySpec, layout: RunLayout) -> list[str]:
    """The evaluations already in the run folder were scored with the metrics, metric settings, mode and validity
    the study asks for now. A change is refused before anything runs, naming the key: a finished evaluation would
    be skipped (and its tables and ``study.yaml`` disagree), an unfinished one refused half-way; adding a metric to
    it would need every reconstruction again, which is a new evaluation, not a resumed one."""
    settings = eval_settings(spec)
    changed: dict[str, list[tuple[Path, dict[str, Any]]]] = {}
    for folder, meta in _current_evaluations(spec, layout):
        for part in scoring_changes(meta, settings):
            if part == "metrics" and list(meta.get("metrics") or {}) == [s.name for s in settings.specs()]:
                part = "metric_settings"  # the same metrics, other settings of them
            changed.setdefault(part, []).append((folder, meta))
    if not changed:
        return []
    part = next(p for p in STUDY_KEYS if p in changed)
    folders = changed[part]
    meta = folders[0][1]
    if part == "metrics":
        was = ", ".join(meta.get("metrics") or {}) or "none"
        asked = f"scored with {was}, not {', '.join(s.name for s in settings.specs())}"
    elif part == "mode":
        asked = f"scored in {meta.get('mode')} mode, not {settings.mode}"
    else:
        asked = "scored with other " + ("metric settings" if part == "metric_settings" else "validity overrides")
    count = f"{len(folders)} evaluation{'s' if len(folders) > 1 else ''}"
    raise ConfigError(
        f"{spec.where}{STUDY_KEYS[part]}: {count} in {layout.eval_root} (first {folders[0][0].name} of "
        f"{folders[0][0].parent.name}) were {asked}; a finished evaluation is not rescored with other settings: "
        f"put {STUDY_KEYS[part]} back, or remove {layout.eval_root} (or run into another --out) to score again"
    )


def check_study(spec: StudySpec, only: list[str] | None = None, layout: RunLayout | None = None) -> list[str]:
    """Every check above, in the order a run meets them; returns the plan's notes. With ``layout``, an existing
    corpus is checked against the conditions and evaluation sets too."""
    notes = check_inputs(spec, only)
    notes += check_corpus(spec, layout) if layout is not None else []
    notes += check_codecs(spec)
    notes += check_tts(spec)
    notes += check_metrics(spec)
    notes += check_evaluations(spec, layout) if layout is not None else []
    notes += check_device(spec)
    notes += check_baselines(spec)
    return notes
