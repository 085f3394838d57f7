"""What a study asks of each stage, resolved from the study file alone (no disk state, nothing run).

The state checks compare these with what the files were made with, and the stages run with them, so both read
them from here: the scorer's settings, a codec's training target, the TTS's target, the rate baselines are scored
at, the report's bitrate and what decides a listening test's stimuli.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from codecstudy.codec.presets import resolve_codec_config
from codecstudy.errors import CodecStudyError
from codecstudy.evaluate.parts import parts_of
from codecstudy.evaluate.registry import has_frame_rule, resolve_metrics
from codecstudy.evaluate.settings import EvalSettings, default_ref_cache
from codecstudy.machine import available_cores
from codecstudy.study.spec import CodecRun, StudySpec
from codecstudy.tts.config import load_tts_config

#: The parts of a study that decide what a listening test plays; its hash goes into the page and every export.
STIMULUS_KEYS = ("name", "corpus", "conditions", "eval_sets", "match_volume", "seed", "architectures", "codec",
                 "train", "listen")

TrainingKey = tuple[str, tuple[str, ...]]


def eval_settings(spec: StudySpec, threads: int | None = None, shard: tuple[int, int] = (0, 1),
                  part: str | None = None) -> EvalSettings:
    """The scorer's settings for a study's evaluations (also what their ``meta.json`` must match to be current).

    ``threads``: the cores the study runner gave this evaluation (it runs beside others), used as scoring processes
    of one torch thread each instead of one process per core. ``part``: score only one metric part
    (:func:`metric_parts`), a cluster job's share."""
    ev = spec.evaluate
    workers = ev.workers or available_cores()
    return EvalSettings(
        metrics=list(ev.metrics),
        mode=ev.mode,
        overrides=metric_overrides(spec),
        delay_compensation=ev.delay_compensation,
        validity={k: dict(v) for k, v in ev.validity.items()},
        workers=workers if threads is None else max(1, min(workers, threads)),
        ref_cache=default_ref_cache(False, None),
        threads=None if threads is None else 1,
        device=ev.device,
        shard=shard,
        part=part,
    )


def metric_parts(spec: StudySpec) -> list[str]:
    """The metric parts (``gpu``, ``cpu``: :mod:`codecstudy.evaluate.parts`) each codec x set is scored in by
    separate cluster jobs, GPU metrics on GPU nodes and DSP metrics on CPU nodes; empty when it is one job. It is one
    job when ``evaluate.device`` is ``cpu`` (every metric runs on a CPU node anyway, and one job puts each clip
    through the codec once instead of twice) and when the study's metrics are all of one part."""
    if spec.evaluate.device == "cpu":
        return []
    try:
        parts = parts_of(resolve_metrics(list(spec.evaluate.metrics)))
    except CodecStudyError:  # an unknown name: reported where the settings are checked
        return []
    return parts if len(parts) > 1 else []


def metric_overrides(spec: StudySpec) -> dict[str, dict[str, Any]]:
    """``evaluate.metric_settings`` with the study's frame rule (``evaluate.frames``, default robust) added to every
    requested metric that has one; a metric's own ``frames`` setting wins. ``codecstudy evaluate`` alone keeps its
    metrics' parity default: the robust rule is the study's choice, made here."""
    ev = spec.evaluate
    overrides = {k: dict(v) for k, v in ev.metric_settings.items()}
    try:
        requested = resolve_metrics(list(ev.metrics))
    except CodecStudyError:  # an unknown name: reported where the settings are checked (settings.specs())
        return overrides
    for metric in requested:
        if has_frame_rule(metric):
            overrides.setdefault(metric.name, {}).setdefault("frames", ev.frames)
    return overrides


def frame_rules(spec: StudySpec) -> dict[str, str]:
    """The frame rule each requested metric that has one is scored with (what the tables say they show)."""
    return {m: str(o["frames"]) for m, o in metric_overrides(spec).items() if "frames" in o}


def training_key(run: CodecRun) -> TrainingKey:
    """Runs with the same key train the same config (only their data differ): resolved once."""
    return (run.source, run.overrides)


def target_steps(run: CodecRun) -> int:
    """``train.steps`` of a codec run after its overrides."""
    return int(resolve_codec_config(run.source, list(run.overrides)).train_config().steps)


def training_targets(runs: list[CodecRun]) -> dict[TrainingKey, int]:
    """Target steps of every run to train (given checkpoints have none), each distinct config resolved once."""
    targets: dict[TrainingKey, int] = {}
    for run in runs:
        if not run.pretrained and training_key(run) not in targets:
            targets[training_key(run)] = target_steps(run)
    return targets


def tts_steps(spec: StudySpec) -> int:
    """``train.steps`` of the study's TTS config after its overrides."""
    return int(load_tts_config(spec.tts.preset, list(spec.tts.overrides)).train.steps)


def scoring_rate(spec: StudySpec) -> int:
    """The sample rate the trained codecs are scored at (their config's), which the baselines are scored at too."""
    return int(resolve_codec_config(spec.codec_source(spec.architectures[0]), list(spec.codec.overrides)).sample_rate)


def table_n_q(available: list[int], target: int) -> int:
    """The bitrate of the paper-style tables: the largest evaluated n_q not above ``target`` (else the smallest)."""
    below = [n for n in available if n <= target]
    return max(below) if below else min(available)


def listening_n_q(spec: StudySpec) -> int:
    """The listening test's bitrate: the paper tables' number of codebooks."""
    return table_n_q(sorted(spec.evaluate.n_q), spec.report.n_q)


def listening_sets(spec: StudySpec) -> list[str]:
    return list(spec.listen.sets) if spec.listen.sets is not None else spec.eval_set_names


def listening_hash(spec: StudySpec) -> str:
    """What decides a listening test's stimuli, hashed: a test built for another version of the study is stale."""
    resolved = spec.resolved()
    wanted = {k: resolved[k] for k in STIMULUS_KEYS if k in resolved}
    wanted["listen"] = {k: v for k, v in wanted["listen"].items() if k != "enabled"}  # how, not what, it is built
    wanted["n_q"] = listening_n_q(spec)
    text = json.dumps(wanted, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
