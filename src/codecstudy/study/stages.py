"""The study's work: corpus, conditions, training (or import), evaluation, baselines and TTS, one function each.

These are the only study functions that run train/, evaluate/ and tts/ (the same code paths as ``codecstudy
corpus|train|evaluate|tts``); everything above them (the schedule, the executors, the runner) decides only what
runs when and where. Each takes the study and its run folder and returns the one-line detail the runner prints.
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
import yaml

from codecstudy.bench.harness import speechy_batch
from codecstudy.codec.card import card_rows, codec_card
from codecstudy.codec.catalog import load_codec, open_codec
from codecstudy.codec.presets import resolve_codec_config
from codecstudy.codec.registry import save_codec
from codecstudy.corpus.builder import build_corpus
from codecstudy.corpus.conditions import build_conditions
from codecstudy.corpus.leakage import format_leakage, leakage_report, speaker_splits
from codecstudy.corpus.manifest import load_manifest
from codecstudy.errors import ConfigError
from codecstudy.evaluate.outputs import discard
from codecstudy.evaluate.scorer import evaluate_codec
from codecstudy.files import read_json_or_none, write_json_atomic, write_text_atomic
from codecstudy.jsonl import write_jsonl_atomic
from codecstudy.machine import available_cores
from codecstudy.provenance import environment_info, package_versions
from codecstudy.study.layout import RunLayout
from codecstudy.study.settings import eval_settings, scoring_rate
from codecstudy.study.spec import Baseline, CodecRun, StudySpec
from codecstudy.study.state import codec_identity, conditions_fingerprint
from codecstudy.train.launch import run_launched, train_command
from codecstudy.train.trainer import Trainer, train
from codecstudy.tts.config import load_tts_config
from codecstudy.tts.stage import run_tts

#: Library versions beside the resolved study in ``study.yaml`` (the metric libraries decide its numbers).
RECORDED_PACKAGES = ("pydantic", "matplotlib", "pesq", "pystoi", "librosa", "pyworld")
CALIBRATION_STEPS = 4


def write_study_file(spec: StudySpec, layout: RunLayout) -> Path:
    """``study.yaml``: the resolved study, then where and with what it ran."""
    env = environment_info()
    env["packages"].update(package_versions(RECORDED_PACKAGES))
    data = {
        **spec.resolved(),
        "provenance": {
            "study_file": str(spec.path) if spec.path else None,
            "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "command": sys.argv,
            **env,
        },
    }
    return write_text_atomic(layout.study_file, yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


# --------------------------------------------------------------------------------------------------- corpus
def corpus_stage(spec: StudySpec, layout: RunLayout, progress: bool) -> str:
    result = build_corpus(spec.corpus, layout.corpus, workers=available_cores(), show_progress=progress)
    return f"{len(result.clips)} clips"


def conditions_stage(spec: StudySpec, layout: RunLayout) -> str:
    """Conditions, evaluation sets, validation sets, the leakage check and each set's seen-speaker split per
    condition; the done marker is written last."""
    clips = load_manifest(layout.corpus)
    # a condition whose codec is given (checkpoints:) draws no training clips from this corpus
    trained = [c for c in spec.conditions.conditions if c.name not in spec.checkpoints]
    config = spec.conditions.model_copy(update={"conditions": trained}) if spec.checkpoints else spec.conditions
    conditions, eval_sets = build_conditions(clips, config, layout.corpus)
    for condition in trained:
        valid = condition.model_copy(update={"splits": ["valid"]}).select(clips)
        write_jsonl_atomic(layout.valid_manifest(condition.name), (c.to_json() for c in valid))
    rows = leakage_report(conditions, eval_sets)
    write_text_atomic(layout.leakage_text, format_leakage(rows) + "\n")
    write_json_atomic(layout.leakage_json, [row.to_json() for row in rows])
    write_json_atomic(layout.speakers_json, [split.to_json() for split in speaker_splits(conditions, eval_sets)])
    write_json_atomic(layout.conditions_done, {"fingerprint": conditions_fingerprint(spec, layout)})
    leaks = sum(1 for row in rows if not row.clean)
    return f"{len(conditions)} conditions, {len(eval_sets)} eval sets, {leaks} leakage warnings"


# ------------------------------------------------------------------------------------------------- training
def train_stage(run: CodecRun, spec: StudySpec, layout: RunLayout, progress: bool, threads: int | None = None,
                launch: str | None = None) -> str:
    """Train (or resume) one codec; ``threads`` as :func:`eval_settings` (a codec's ``train.threads`` wins).

    With ``launch`` (a cluster job's ``torchrun ...``), the training runs as that command's processes and this one
    watches it (:mod:`codecstudy.train.launch`)."""
    valid_path = layout.valid_manifest(run.condition)
    valid = valid_path if spec.train.validation and valid_path.is_file() and valid_path.stat().st_size else None
    if launch:
        command = train_command(launch, run.source, run.overrides, layout.condition_manifest(run.condition),
                                layout.codec_dir(run.name), valid=valid, cache_dir=layout.audio_cache)
        launched = run_launched(command, layout.codec_dir(run.name))
        return f"step {launched.step} in {launched.seconds / 60:.1f} min on {launched.world_size} processes"
    if threads is not None:
        torch.set_num_threads(threads)
    config = resolve_codec_config(run.source, list(run.overrides))
    result = train(
        config,
        layout.condition_manifest(run.condition),
        layout.codec_dir(run.name),
        valid=valid,
        cache_dir=layout.audio_cache,
        show_progress=progress,
    )
    return f"step {result.step} in {result.seconds / 60:.1f} min"


def import_stage(run: CodecRun, layout: RunLayout, threads: int | None = None) -> str:
    """A given codec (study ``checkpoints:``) loaded and saved where a trained codec of this run would be."""
    model = load_codec(run.source)
    save_codec(layout.codec_file(run.name), model)
    identity = model.identity_hash()
    write_json_atomic(layout.imported_marker(run.name), {"source": run.source, "identity": identity})
    return f"imported {model.config.name} ({identity[:12]})"


def time_training_steps(config: Any, steps: int = CALIBRATION_STEPS, threads: int | None = None) -> float:
    """Median wall seconds of ``steps`` training steps (after one warm-up) of ``config`` on synthetic audio: the
    study's remaining-time estimate calibrates on it (:mod:`codecstudy.study.eta`)."""
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


def seconds_per_step(run: CodecRun, threads: int | None) -> float:
    return time_training_steps(resolve_codec_config(run.source, list(run.overrides)), threads=threads)


# ----------------------------------------------------------------------------------------------- evaluation
def evaluate_stage(codec: str, eval_set: str, spec: StudySpec, layout: RunLayout, progress: bool,
                   force: bool = False, threads: int | None = None,
                   shard: tuple[int, int] = (0, 1), part: str | None = None) -> str:
    """Score one trained codec on one set (or one ``shard`` of it, or one metric ``part``: a cluster job's share);
    ``force`` redoes stale results instead of resuming them."""
    summary = evaluate_codec(
        str(layout.codec_file(codec)),
        layout.eval_manifest(eval_set),
        layout.eval_dir(codec, eval_set),
        list(spec.evaluate.n_q),
        eval_settings(spec, threads, shard, part),
        set_name=eval_set,
        name=codec,
        progress=progress,
        force=force,
    )
    failed = sum(summary.failed_metrics.values())
    return f"{summary.scored} clips scored" + (f", {failed} metric failures (see results.jsonl)" if failed else "")


def baseline_stage(baseline: Baseline, eval_set: str, spec: StudySpec, layout: RunLayout, progress: bool,
                   force: bool = False, threads: int | None = None,
                   shard: tuple[int, int] = (0, 1)) -> str:
    """Score one baseline on one set at the trained codecs' sample rate."""
    summary = evaluate_codec(
        baseline.codec,
        layout.eval_manifest(eval_set),
        layout.eval_dir(baseline.name, eval_set),
        None,
        eval_settings(spec, threads, shard),
        set_name=eval_set,
        name=baseline.name,
        progress=progress,
        force=force,
        sample_rate=scoring_rate(spec),
    )
    failed = summary.failed_metrics.get("clip", 0)
    return f"{summary.scored} clips scored" + (f", {failed} failed in the codec (see results.jsonl)" if failed else "")


def discard_evaluation(codec: str, eval_set: str, layout: RunLayout) -> None:
    """Remove a stale evaluation's results (every shard's and metric part's) and meta once, before its shards and
    parts resume it (``--force`` per shard would remove the other shards' fresh lines)."""
    discard(layout.eval_dir(codec, eval_set))


# ----------------------------------------------------------------------------------------------------- cards
def _card(codec_name: str, settings: list[str] | None, identity: str | None, label: str, path: Path) -> bool:
    """Measure one codec's card into ``path`` unless it holds this codec version's already; True when measured."""
    old = read_json_or_none(path)
    if isinstance(old, dict) and old.get("identity") == identity and old.get("settings") == settings:
        return False
    card = codec_card(open_codec(codec_name), settings)
    rows = [{"condition": label, **row} for row in card_rows([card])]
    write_json_atomic(path, {"identity": identity, "settings": settings, "rows": rows})
    return True


def cards_stage(spec: StudySpec, layout: RunLayout) -> str:
    """A cost card per codec of the study (``cards/<codec>.json``) at the settings it was scored at: measured once
    per codec version (its real-time factors are timings of this machine, so they are not measured again when the
    tables are rewritten)."""
    measured = 0
    for run in spec.compared_runs():
        codec_file = layout.codec_file(run.name)
        if codec_file.is_file():
            measured += _card(str(codec_file), [str(n) for n in spec.evaluate.n_q], codec_identity(codec_file),
                              run.name, layout.card_file(run.name))
    for baseline in spec.baseline_runs():
        measured += _card(baseline.codec, None, baseline.codec, baseline.name, layout.card_file(baseline.name))
    return f"{measured} codec cards measured"


# ------------------------------------------------------------------------------------------------------ TTS
def tts_train_manifest(spec: StudySpec, layout: RunLayout) -> Path:
    """The transcribed train-split speech of ``tts.languages``, shared by every codec's TTS.

    Recomputed on every call (a second) but rewritten only when it changes, so a changed ``tts.languages`` is not
    silently ignored and an unchanged one keeps the file as it was.
    """
    path = layout.tts_train_manifest
    languages = set(spec.tts.languages)
    clips = [
        c for c in load_manifest(layout.corpus)
        if c.split == "train" and c.domain == "speech" and c.language in languages and (c.text or "").strip()
    ]
    if not clips:
        raise ConfigError(f"{spec.where}tts.languages: no transcribed training clips in {sorted(languages)}")
    lines = [json.dumps(c.to_json(), ensure_ascii=False) for c in clips]
    old = path.read_text(encoding="utf-8").splitlines() if path.is_file() else None
    if old is None or [json.loads(x) for x in old] != [json.loads(x) for x in lines]:
        write_jsonl_atomic(path, (c.to_json() for c in clips))
    return path


def tts_stage(codec: str, spec: StudySpec, layout: RunLayout, train_manifest: Path, progress: bool,
              stale: bool = False) -> str:
    """Train (or resume) and evaluate one codec's TTS (:func:`codecstudy.tts.stage.run_tts`)."""
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
