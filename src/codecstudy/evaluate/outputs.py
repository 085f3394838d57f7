"""The evaluation folder, and the one run skeleton both modes share.

An evaluation writes ``OUT/``::

    meta.json                 settings, versions, evaluator hashes, the codec; its fingerprint must match on resume
    delay.json                per setting: the delay applied and how the clips' own lags agree with it
    codes/<clip>.npy          codecstudy models' codes at the widest setting (usage is rebuilt from them)
    <setting>/results*.jsonl  one line per clip (``results.shard-i-of-n.jsonl`` per shard); all of them count;
                              a metric part's lines (``results.part-gpu[.shard-i-of-n].jsonl``) count once
                              every part has its line (:mod:`codecstudy.evaluate.parts`)
    <setting>/usage.json      codebook usage of the clips with a line
    <setting>/embeddings/     per-clip embedding frames, pooled into <setting>/fad.json
    <setting>/audio/          decoded audio (``save_audio``)

In pairs mode the setting folder is ``OUT`` itself. Several processes (shards, study items) write one folder at
once: meta.json, delay.json and fad.json are merged or rebuilt under the file's lock
(:func:`codecstudy.files.update_json`), every whole file is written atomically.

:func:`run_evaluation` is the skeleton: ``--force``, the delays, meta.json, the jobs still to do, the writer loop
with its failure counts, then usage, delay.json and FAD; a :class:`ScoringMode` supplies what differs.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from codecstudy import audio
from codecstudy.errors import CodecStudyError
from codecstudy.evaluate.base import MetricError, package_version
from codecstudy.evaluate.delay import CodecDelay, lag_agreement
from codecstudy.evaluate.embeddings import save_frames, set_fad
from codecstudy.evaluate.metrics.usage import code_counts, usage_summary
from codecstudy.evaluate.parts import PART_KEY, join_results, line_part, part_field
from codecstudy.evaluate.pool import Records, Worker, WorkerSetup, run_jobs
from codecstudy.evaluate.settings import EvalSettings
from codecstudy.files import atomic_write, read_json_or_none, update_json, write_json_atomic
from codecstudy.jsonl import JsonlAppender, read_jsonl
from codecstudy.provenance import environment_info

META_NAME = "meta.json"
DELAY_NAME = "delay.json"
FAD_NAME = "fad.json"
USAGE_NAME = "usage.json"
RESULTS_PREFIX = "results"
CODES_FOLDER = "codes"
AUDIO_FOLDER = "audio"
EMBEDDINGS_FOLDER = "embeddings"
FINGERPRINT_KEYS = ("kind", "mode", "metrics", "alignment", "codec_identity", "set_sha256", "reference_dir")


# ---------------------------------------------------------------------------------------------------- results
def results_name(shard: tuple[int, int], part: str | None = None) -> str:
    """``results.jsonl``; ``results.shard-i-of-n.jsonl`` for a shard, ``results.part-gpu....jsonl`` for a part."""
    part_name = f".part-{part}" if part else ""
    shard_name = f".shard-{shard[0]}-of-{shard[1]}" if shard[1] > 1 else ""
    return f"{RESULTS_PREFIX}{part_name}{shard_name}.jsonl"


def results_files(folder: Path) -> list[Path]:
    """Every ``results*.jsonl`` of ``folder`` (all shards), in name order."""
    return sorted(Path(folder).glob(f"{RESULTS_PREFIX}*.jsonl"))


def _lines(folder: Path) -> list[dict[str, Any]]:
    """Every complete line of every ``results*.jsonl`` in ``folder``, as written (parts not joined)."""
    return [line for path in results_files(folder) for line in read_jsonl(path)]


def read_results(folder: Path) -> list[dict[str, Any]]:
    """Every clip's result line in ``folder`` (all shards): whole lines as written, then the lines of the clips that
    every metric part has scored, joined into one (:func:`codecstudy.evaluate.parts.join_part_lines`)."""
    return join_results(_lines(folder))


def done_clips(folder: Path, part: str | None = None) -> set[str]:
    """Clips with a result line; for a ``part``'s run, the clips that part (or a whole run) has scored."""
    if part is None:
        return {r["clip"] for r in read_results(folder)}
    return {line["clip"] for line in _lines(folder) if line_part(line) in (None, part)}


def clip_file_stem(clip_id: str) -> str:
    """A flat file name for a clip id (ids may contain '/' or ':'): readable prefix and a hash of the whole id."""
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in clip_id)[:80]
    return f"{stem}-{hashlib.sha1(clip_id.encode()).hexdigest()[:10]}"


# ------------------------------------------------------------------------------------------------------- meta
def fingerprint(meta: dict[str, Any]) -> dict[str, Any]:
    """What a resumed run must share with the earlier one: the definition of the numbers, not the environment."""
    fp = {k: meta.get(k) for k in FINGERPRINT_KEYS}
    fp["metrics"] = {name: m.get("settings") for name, m in (meta.get("metrics") or {}).items()}
    fp["validity"] = meta.get("validity_overrides") or {}
    return fp


#: The fingerprint's parts that the scoring settings alone decide (not the codec, the set or the alignment).
SCORING_KEYS = ("metrics", "mode", "validity")


def scoring_fingerprint(settings: EvalSettings) -> dict[str, Any]:
    """What ``settings`` make of :data:`SCORING_KEYS` in :func:`fingerprint`: each metric with its settings, the
    mode, the validity overrides (as meta.json holds them, so that the two compare)."""
    asked = {"metrics": settings.metric_settings(), "mode": settings.mode, "validity": settings.validity}
    return json.loads(json.dumps(asked))


def scoring_changes(meta: Any, settings: EvalSettings) -> list[str]:
    """Which of :data:`SCORING_KEYS` an evaluation's meta.json (``meta``; None when there is none) holds other
    values of than ``settings`` ask for: a run with ``settings`` would refuse to add to that evaluation."""
    if not isinstance(meta, dict):
        return []
    old, new = fingerprint(meta), scoring_fingerprint(settings)
    return [key for key in SCORING_KEYS if old.get(key) != new[key]]


def merge_meta(old: Any, meta: dict[str, Any], out: Path) -> dict[str, Any]:
    """``meta`` merged into an earlier meta.json (``old``; None when there is none): n_q, delays, settings and the
    metric parts' devices accumulate, ``created`` stays the first run's. Other settings than the earlier run's are
    refused."""
    if not isinstance(old, dict):
        return meta
    if fingerprint(old) != fingerprint(meta):
        changed = [k for k, v in fingerprint(meta).items() if fingerprint(old).get(k) != v]
        raise CodecStudyError(
            f"{out}: earlier results were computed with other settings ({', '.join(changed)} differ); "
            "use another --out, or --force to discard them"
        )
    meta = dict(meta)
    meta["n_q"] = sorted(set(old.get("n_q") or []) | set(meta.get("n_q") or [])) or None
    if "delay" in meta:
        meta["delay"] = {**(old.get("delay") or {}), **meta["delay"]}
    if "settings" in meta:
        meta["settings"] = list(dict.fromkeys([*(old.get("settings") or []), *meta["settings"]]))
    meta["created"] = old.get("created", meta["created"])
    old_device, device = old.get("device"), meta.get("device")
    if isinstance(old_device, dict) and isinstance(device, dict) and "parts" in old_device and "parts" in device:
        meta["device"] = {"parts": {**old_device["parts"], **device["parts"]}}
    return meta


def write_meta(out: Path, meta: dict[str, Any], force: bool) -> dict[str, Any]:
    """``OUT/meta.json``, merged with the one there under its lock (shards of one run write it at once);
    ``force`` replaces it. Returns what was written."""
    return update_json(Path(out) / META_NAME, lambda old: meta if force else merge_meta(old, meta, Path(out)))


def metrics_meta(settings: EvalSettings) -> dict[str, Any]:
    """Per metric: settings, outputs with direction, library versions and evaluator info (mapper, hashes)."""
    out: dict[str, Any] = {}
    per_metric = settings.metric_settings()
    validity = settings.validities()
    for spec in settings.specs():
        entry: dict[str, Any] = {
            "family": spec.family,
            "description": spec.description,
            "settings": per_metric[spec.name],
            "outputs": spec.outputs,
            "aligned": spec.aligned,
            "versions": spec.versions(),
            "validity": validity[spec.name].to_json(),
        }
        if spec.info is not None:
            try:
                entry["evaluator"] = spec.info(**per_metric[spec.name])
            except MetricError as exc:
                entry["evaluator"] = {"error": str(exc)}
        out[spec.name] = entry
    return out


def device_info(settings: EvalSettings) -> dict[str, Any]:
    """Where the model-based metrics ran: the setting, the device it resolved to and, on a GPU, its name."""
    device = settings.model_device()
    info: dict[str, Any] = {"setting": settings.device, "device": device}
    if not any(s.uses_device for s in settings.scored_specs()):
        info["note"] = "no model-based metric in this run"
    if device.startswith("cuda"):
        info["name"] = torch.cuda.get_device_name(torch.device(device))
        info["cuda"] = torch.version.cuda
    return info


def base_meta(kind: str, settings: EvalSettings) -> dict[str, Any]:
    """The part of meta.json both modes write: settings, metrics, alignment, device, environment, command."""
    env = environment_info()
    env["packages"].update({p: package_version(p) for p in ("numpy", "scipy", "soxr", "torch")})
    return {
        "kind": kind,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "mode": settings.mode,
        "metrics": metrics_meta(settings),
        "alignment": settings.alignment(),
        "validity_overrides": settings.validity,
        # a metric part's run records where its metrics ran under its name (the parts' entries accumulate)
        "device": {"parts": {settings.part: device_info(settings)}} if settings.part else device_info(settings),
        "environment": env,
        "command": sys.argv,
    }


# ----------------------------------------------------------------------------------------------------- delays
def stored_delays(out: Path, key: dict[str, Any]) -> dict[str, CodecDelay]:
    """Calibrations kept in ``OUT/delay.json`` for the same codec and settings (a resumed run reuses them, so every
    clip of a setting gets the same delay however often the run is interrupted)."""
    data = read_json_or_none(Path(out) / DELAY_NAME)
    if not isinstance(data, dict) or data.get("key") != key:
        return {}
    return {k: CodecDelay.from_json(v["delay"]) for k, v in (data.get("settings") or {}).items()}


def write_delays(out: Path, key: dict[str, Any], delays: dict[str, CodecDelay], results: dict[str, Path]) -> None:
    """``OUT/delay.json``: per setting the delay applied and how the clips' own lags agree with it; the other
    settings of the same codec are kept (a run may add an n_q later, shards add theirs at once)."""

    def change(old: Any) -> dict[str, Any]:
        settings: dict[str, Any] = {}
        if isinstance(old, dict) and old.get("key") == key:
            settings.update(old.get("settings") or {})
        for name, delay in delays.items():
            records = read_results(results[name]) if name in results else []
            settings[name] = {"delay": delay.to_json(), "agreement": lag_agreement(records, delay.sample_rate or 1)}
        return {"key": key, "settings": settings}

    update_json(Path(out) / DELAY_NAME, change)


# ------------------------------------------------------------------------------------------ codes, usage, FAD
def save_codes(out: Path, clip_id: str, codes: np.ndarray) -> None:
    """``OUT/codes/<clip>.npy``, unless a file with at least as many codebooks is there."""
    path = out / CODES_FOLDER / f"{clip_file_stem(clip_id)}.npy"
    if path.is_file():
        try:
            if np.load(path).shape[0] >= codes.shape[0]:
                return
        except (OSError, ValueError):
            pass
    with atomic_write(path, "wb") as handle:
        np.save(handle, codes)


def write_usage(out: Path, n_q: int, codebook_size: int, frame_rate: float,
                part: str | None = None) -> dict[str, Any] | None:
    """``OUT/<n_q>/usage.json`` from the codes of every clip with a result line at this n_q (of a metric ``part``'s
    run: every clip that part scored, so that each part finishes with the file there; codes are the same in every
    part)."""
    clips = sorted(done_clips(out / str(n_q), part))
    arrays = []
    for clip_id in clips:
        path = out / CODES_FOLDER / f"{clip_file_stem(clip_id)}.npy"
        if path.is_file():
            arrays.append(np.load(path)[:n_q])
    if not arrays:
        return None
    summary = usage_summary(code_counts(arrays, n_q, codebook_size), frame_rate)
    summary["clips"] = len(arrays)
    write_json_atomic(out / str(n_q) / USAGE_NAME, summary)
    return summary


def embedding_files(folder: Path, clips: set[str]) -> list[Path]:
    """The embedding-frame files of ``clips`` in a setting folder (present or not), in clip order."""
    return [Path(folder) / EMBEDDINGS_FOLDER / f"{clip_file_stem(c)}.npz" for c in sorted(clips)]


def write_fad(folder: Path) -> dict[str, Any] | None:
    """``folder/fad.json`` from the embedding frames of every clip with a result line; None (and no file) when
    none has frames. Rebuilt under the file's lock, reading the lines inside it, so the last shard to finish
    writes the FAD of all."""
    folder = Path(folder)
    if not any(p.is_file() for p in embedding_files(folder, done_clips(folder))):
        return None

    def change(old: Any) -> dict[str, Any]:
        result = set_fad(embedding_files(folder, done_clips(folder)))
        if result is None:  # cannot happen once frames exist (clips only grow); keep what is there
            return old
        meta = read_json_or_none(folder / META_NAME) or read_json_or_none(folder.parent / META_NAME)
        if isinstance(meta, dict):
            result["model"] = meta.get("metrics", {}).get("emb_dist", {}).get("evaluator", {})
        return result

    return update_json(folder / FAD_NAME, change)


def discard(out: Path) -> None:
    """--force: remove earlier results, codes and meta of this output folder (nothing else)."""
    for path in out.glob(f"*/{RESULTS_PREFIX}*.jsonl"):
        path.unlink()
    for path in out.glob(f"{RESULTS_PREFIX}*.jsonl"):
        path.unlink()
    for path in [out / CODES_FOLDER, *out.glob(f"*/{AUDIO_FOLDER}")]:
        if path.is_dir():
            shutil.rmtree(path)
    (out / META_NAME).unlink(missing_ok=True)
    (out / DELAY_NAME).unlink(missing_ok=True)


# ------------------------------------------------------------------------------------------------ the run
@dataclass
class RunSummary:
    out: Path
    scored: int
    skipped: int
    failed_metrics: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["out"] = str(self.out)
        return data


class ScoringMode(ABC):
    """What one evaluation mode decides; :func:`run_evaluation` does the rest.

    ``folders`` maps each setting (the delay's key; ``"all"`` in pairs mode) to the folder its lines go to.
    """

    out: Path
    meta: dict[str, Any]  # this run's meta.json without "delay" (the run adds it)
    folders: dict[str, Path]
    delay_key: dict[str, Any]  # what delay.json's calibrations are valid for
    setup: WorkerSetup
    count_clip_failures: bool = True  # a line's "error" counts as a "clip" failure in the summary

    @abstractmethod
    def delays(self, stored: dict[str, CodecDelay]) -> dict[str, CodecDelay]:
        """The delay of each setting, given the calibrations kept from an earlier run."""

    @abstractmethod
    def jobs(self, delays: dict[str, CodecDelay]) -> tuple[list[Any], int]:
        """The jobs still to do, and how many clips were already done."""

    @abstractmethod
    def work(self) -> Callable[[Worker, Any], Records]:
        """The module-level job function (sent to worker processes)."""

    @abstractmethod
    def setting_of(self, record: dict[str, Any]) -> str:
        """Which of ``folders`` a record belongs to."""

    @abstractmethod
    def line(self, record: dict[str, Any]) -> dict[str, Any]:
        """The result line as written (the run's common fields first)."""

    def finish(self) -> None:
        """After the last line, before delay.json and FAD (codec mode: usage.json)."""


def run_evaluation(mode: ScoringMode, settings: EvalSettings, *, force: bool, progress: bool) -> RunSummary:
    """Score what is missing in ``mode.out``: --force, delays, meta.json, jobs, lines, usage, delay.json, FAD."""
    out = mode.out
    out.mkdir(parents=True, exist_ok=True)
    if force:
        discard(out)
    delays = mode.delays(stored_delays(out, mode.delay_key))
    write_meta(out, {**mode.meta, "delay": {n: d.to_json() for n, d in delays.items()}}, force)
    jobs, skipped = mode.jobs(delays)
    scored, failed = _write_lines(mode, jobs, settings, progress)
    mode.finish()
    write_delays(out, mode.delay_key, delays, mode.folders)
    for folder in mode.folders.values():
        write_fad(folder)
    return RunSummary(out, scored, skipped, failed)


def _write_lines(mode: ScoringMode, jobs: list[Any], settings: EvalSettings,
                 progress: bool) -> tuple[int, dict[str, int]]:
    """Run the jobs and write each record (its codes, frames and audio beside it); the jobs finished and the
    failures per metric (and per clip)."""
    writers = {name: JsonlAppender(folder / results_name(settings.shard, settings.part))
               for name, folder in mode.folders.items()}
    part = {PART_KEY: part_field(settings.part, settings.specs())} if settings.part else {}
    failed: dict[str, int] = {}
    scored = 0
    try:
        for records in run_jobs(mode.work(), jobs, mode.setup, progress):
            codes = records[0].pop("_codes", None) if records else None
            if codes is not None:
                save_codes(mode.out, records[0]["clip"], codes)
            for record in records:
                name = mode.setting_of(record)
                _save_beside(mode.folders[name], record)
                for metric in record.get("errors", {}):
                    failed[metric] = failed.get(metric, 0) + 1
                if mode.count_clip_failures and record.get("error"):
                    failed["clip"] = failed.get("clip", 0) + 1
                writers[name].write({**mode.line(record), **part})
            scored += 1
    finally:
        for writer in writers.values():
            writer.close()
    return scored, failed


def _save_beside(folder: Path, record: dict[str, Any]) -> None:
    """Take a record's arrays off it and store them: embedding frames, and decoded audio when it carries it."""
    arrays = record.pop("_embeddings", None)
    if arrays and "_emb_ref" in arrays and "_emb_est" in arrays:
        (path,) = embedding_files(folder, {record["clip"]})
        save_frames(path, arrays["_emb_ref"], arrays["_emb_est"])
    est = record.pop("_audio", None)
    if est is not None:
        audio.write(folder / AUDIO_FOLDER / f"{clip_file_stem(record['clip'])}.wav", est, record["sample_rate"])
