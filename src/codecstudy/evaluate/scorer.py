"""Score a codec on an evaluation set (or any decoded outputs against references), one JSONL line per clip.

Codec mode (``codecstudy evaluate --codec ... --set ...``): the codec is anything
:func:`codecstudy.codec.catalog.open_codec` opens (a codecstudy checkpoint or preset, ``opus:6kbps``,
``encodec:24khz`` ...), scored at each requested *setting* (numbers of codebooks for codecstudy models). Every clip
is read, resampled to the codec's rate and put through the codec at every setting (codecstudy models encode once
with the largest number of codebooks and decode each: residual quantization is greedy, so the first ``n`` codebooks
of an 8-codebook encoding *are* the n-codebook encoding). With ``sample_rate`` the reference and the decoded audio
are scored at that rate instead (a study scores its baselines at its trained codecs' rate). Each (clip, setting)
gets one flushed line in ``OUT/<setting>/results.jsonl`` with the nominal and the measured bitrate; a clip the codec
fails on gets a line with the reason. Codes of codecstudy models go to ``OUT/codes/`` first, so the set's codebook
usage (``OUT/<n_q>/usage.json``) can always be rebuilt from the clips that have a line.

Pairs mode (``--pairs REF_DIR DEC_DIR``): decoded files from any codec are matched to references by relative path
and scored the same way, into ``OUT/results.jsonl``.

Resuming: a re-run reads the lines already written (a torn last line from a kill is dropped) and scores only the
missing (clip, n_q) pairs, so no clip is scored twice. ``OUT/meta.json`` holds the settings, library versions and
evaluator model hashes; a re-run with different settings is refused instead of mixing two definitions in one file.

Parallelism: ``workers`` processes (spawned; each loads the codec and the evaluator models once) score whole clips;
only the parent writes files. ``shard=(i, n)`` (or torchrun's ``RANK``/``WORLD_SIZE``) keeps every n-th clip,
writing ``results.shard-i-of-n.jsonl`` so that shards never share a file; all ``results*.jsonl`` count as done.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import sys
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from codecstudy import audio
from codecstudy.errors import AudioReadError, CodecStudyError
from codecstudy.evaluate.align import Alignment, align_pair
from codecstudy.evaluate.applicability import Validity, skip_reason, validity_of
from codecstudy.evaluate.applicability import parse_overrides as parse_validity
from codecstudy.evaluate.cache import FeatureCache, default_cache_dir, feature_key, signal_digest
from codecstudy.evaluate.delay import (
    CALIBRATION,
    GIVEN,
    OFF,
    RULE,
    STRUCTURE,
    CodecDelay,
    DelaySettings,
    calibrate_delay,
    calibration_subset,
    lag_agreement,
)
from codecstudy.evaluate.embeddings import save_embeddings, write_fad
from codecstudy.evaluate.metrics.base import MetricError, package_version
from codecstudy.evaluate.metrics.models import full_float32, torch_device
from codecstudy.evaluate.metrics.usage import code_counts, usage_summary
from codecstudy.evaluate.registry import METRICS, MetricSpec, check_available, resolve_metrics, run_metric
from codecstudy.jsonl import JsonlAppender, read_jsonl, write_json_atomic

META_NAME = "meta.json"
DELAY_NAME = "delay.json"
RESULTS_PREFIX = "results"
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".opus", ".aiff", ".aif")


# ---------------------------------------------------------------------------------------------- configuration
@dataclass
class EvalSettings:
    """What a run computes; everything but ``workers``, ``shard``, ``ref_cache``, ``save_audio``, ``threads`` and
    ``device`` is part of the fingerprint that a resumed run must match (a GPU changes a model metric's value only
    by float rounding, so a run may resume on another device; meta.json records the one used)."""

    metrics: list[str] = field(default_factory=lambda: ["default"])
    mode: str = "parity"
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    delay_compensation: bool = True
    delay_samples: int | None = None  # the codec's delay, given by the user; None: from the codec or calibrated
    max_delay_s: float = 0.1
    calibration_clips: int = 32
    max_mismatch: float = 0.1
    workers: int = 1
    shard: tuple[int, int] = (0, 1)
    ref_cache: Path | None = None
    save_audio: bool = False
    threads: int | None = None  # torch threads per worker; default: cores / workers
    device: str = "cpu"  # where the model-based metrics run (cpu, cuda, cuda:N, auto); recorded, not fingerprinted
    validity: dict[str, dict[str, Any]] = field(default_factory=dict)  # {metric: {domains, languages}} overrides

    def torch_threads(self) -> int:
        return self.threads or max(1, (os.cpu_count() or 1) // max(1, self.workers))

    def specs(self) -> list[MetricSpec]:
        return resolve_metrics(self.metrics)

    def model_device(self) -> str:
        """The device the model-based metrics run on (``cpu`` when none is requested); a GPU that is not there is a
        one-line error naming the setting."""
        if not any(s.uses_device for s in self.specs()):
            return "cpu"
        try:
            return torch_device(self.device)
        except MetricError as exc:
            raise CodecStudyError(f"evaluate device: {exc}") from None

    def metric_settings(self) -> dict[str, dict[str, Any]]:
        specs = self.specs()
        unknown = set(self.overrides) - {s.name for s in specs}
        if unknown:
            raise CodecStudyError(f"settings given for metrics not requested: {', '.join(sorted(unknown))}")
        return {s.name: s.settings(self.mode, self.overrides.get(s.name)) for s in specs}

    def validities(self) -> dict[str, Validity]:
        """Per requested metric, where it applies (declared, or the explicit ``validity`` override)."""
        overrides = parse_validity(self.validity, set(METRICS))
        return {s.name: validity_of(s, overrides) for s in self.specs()}

    def alignment(self) -> dict[str, Any]:
        return {
            "delay_compensation": self.delay_compensation,
            "delay_samples": self.delay_samples,
            "max_delay_s": self.max_delay_s,
            "calibration_clips": self.calibration_clips,
            "max_mismatch": self.max_mismatch,
            "rule": RULE,
            "method": "one delay per codec setting (from the codec's structure, given, or calibrated over up to "
            "calibration_clips clips of the set: envelope consensus, then waveform refinement), applied to every "
            "clip; estimate shifted and cut/zero-padded to the reference length; per-clip lags recorded only",
        }

    def delay_settings(self) -> DelaySettings:
        return DelaySettings(max_delay_s=self.max_delay_s, max_clips=self.calibration_clips)


def parse_shard(text: str | None) -> tuple[int, int]:
    """``"i/n"`` -> (i, n); None -> torchrun's RANK/WORLD_SIZE when set, else (0, 1)."""
    if text is None:
        rank, world = os.environ.get("RANK"), os.environ.get("WORLD_SIZE")
        if rank is not None and world is not None:
            text = f"{rank}/{world}"
        else:
            return 0, 1
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise CodecStudyError(f"--shard must look like i/n (e.g. 0/4), got {text!r}") from None
    if not 0 <= index < count:
        raise CodecStudyError(f"--shard {text}: need 0 <= i < n")
    return index, count


def parse_metric_overrides(items: Iterable[str]) -> dict[str, dict[str, Any]]:
    """``["mcd.alpha=auto", "wer.model=base"]`` -> ``{"mcd": {"alpha": "auto"}, "wer": {"model": "base"}}``."""
    import yaml

    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        metric, dot, name = key.partition(".")
        if not sep or not dot or not metric or not name:
            raise CodecStudyError(f"--metric-set {item!r}: expected METRIC.KEY=VALUE, e.g. mcd.alpha=auto")
        out.setdefault(metric, {})[name] = yaml.safe_load(raw) if raw.strip() else None
    return out


# ------------------------------------------------------------------------------------------------ pair scoring
class PairScorer:
    """Scores (reference, estimate) pairs with a fixed metric list; reference features go through the cache."""

    def __init__(self, settings: EvalSettings, cache: FeatureCache | None = None) -> None:
        self.settings = settings
        self.specs = settings.specs()
        self.metric_settings = settings.metric_settings()
        self.validity = settings.validities()
        self.cache = cache or FeatureCache(None)
        self._pair_refs: dict[str, Any] = {}
        self.device = settings.model_device()
        full_float32(self.device)

    def _ref_feature(self, spec: MetricSpec, clip_id: str, ref: np.ndarray, sr: int, digest: str) -> dict[str, Any]:
        from codecstudy.evaluate.metrics import models
        from codecstudy.evaluate.metrics.spectral import world_settings
        from codecstudy.evaluate.world import WorldFeatures, world_features

        settings = self.metric_settings[spec.name]
        if spec.feature == "world":
            ws = world_settings(settings)
            key = feature_key("world", clip_id, sr, digest, ws.to_json())
            if key not in self._pair_refs:  # one object per pair, so metrics can share results memoised on it
                data = self.cache.get("world", key, lambda: world_features(ref, sr, ws).arrays())
                self._pair_refs[key] = WorldFeatures.from_arrays(data)
            return {"ref_world": self._pair_refs[key]}
        if spec.feature == "speaker":
            key = feature_key("speaker", clip_id, sr, digest, {"weights": settings.get("weights")})
            data = self.cache.get(
                "speaker",
                key,
                lambda: {"embedding": models.speaker_embedding(ref, sr, weights=settings.get("weights"),
                                                               device=self.device)},
            )
            return {"ref_embedding": data["embedding"]}
        if spec.feature == "embedding":
            from codecstudy.evaluate.metrics import embedding

            model, threads = settings.get("model", "birdnet"), settings.get("threads", 1)
            key = feature_key("embedding", clip_id, sr, digest, {"model": model})
            data = self.cache.get(
                "embedding", key, lambda: {"frames": embedding.embed(ref, sr, model=model, threads=threads)}
            )
            return {"ref_frames": data["frames"]}
        return {}

    def score(
        self,
        clip_id: str,
        ref: np.ndarray,
        est: np.ndarray,
        sr: int,
        clip_fields: dict[str, Any] | None = None,
        delay: int = 0,
        n_q: int | None = None,
    ) -> dict[str, Any]:
        """Metric values, per-metric errors and the alignment for one pair (both at ``sr``, mono float).

        ``delay`` is the codec's delay (samples at ``sr``), the same for every clip of the codec setting; ``n_q``
        the setting's number of codebooks (None: no codebooks), for metrics a study keeps to some of them."""
        from codecstudy.evaluate.metrics.spectral import world_settings
        from codecstudy.evaluate.world import world_features

        start = time.perf_counter()
        ref = np.asarray(ref, dtype=np.float32).reshape(-1)
        est = np.asarray(est, dtype=np.float32).reshape(-1)
        values: dict[str, Any] = {}
        errors: dict[str, str] = {}
        aligned: np.ndarray | None = None
        alignment_error: str | None = None
        alignment = Alignment(delay)
        if any(s.aligned for s in self.specs):
            try:
                if not (np.all(np.isfinite(ref)) and np.all(np.isfinite(est))):
                    raise MetricError("non-finite samples (NaN or inf) in the reference or the estimate")
                a = self.settings
                aligned, alignment = align_pair(
                    ref, est, sr, delay=delay, max_delay_s=a.max_delay_s, max_mismatch=a.max_mismatch
                )
            except MetricError as exc:
                alignment_error = str(exc)
        digest = signal_digest(ref)
        est_world: dict[str, Any] = {}
        self._pair_refs = {}
        fields = clip_fields or {}
        skipped: dict[str, str] = {}
        for spec in self.specs:
            settings = self.metric_settings[spec.name]
            reason = skip_reason(self.validity[spec.name], fields.get("domain"), n_q)
            if reason is not None:  # not applicable (e.g. PESQ on music): a note, neither a value nor an error
                skipped[spec.name] = reason
                continue
            if spec.aligned and aligned is None:
                errors[spec.name] = alignment_error or "alignment failed"
                continue
            target = aligned if spec.aligned else est
            extra: dict[str, Any] = {f: fields.get(f) for f in spec.clip_fields}
            if spec.uses_device:
                extra["device"] = self.device
            try:
                extra.update(self._ref_feature(spec, clip_id, ref, sr, digest))
                if spec.feature == "world":
                    key = json.dumps(world_settings(settings).to_json(), sort_keys=True, default=str)
                    if key not in est_world:
                        try:
                            est_world[key] = world_features(target, sr, world_settings(settings))
                        except MetricError as exc:
                            est_world[key] = exc
                    if isinstance(est_world[key], MetricError):
                        raise est_world[key]
                    extra["est_world"] = est_world[key]
            except MetricError as exc:
                errors[spec.name] = f"reference/estimate analysis: {exc}"
                continue
            result, error = run_metric(spec, ref, target, sr, settings, **extra)
            if error is not None:
                errors[spec.name] = error
            values.update(result)
        text = values.pop("asr_text", None)
        artifacts = {k: values.pop(k) for k in [k for k in values if k.startswith("_")]}  # arrays, not scores
        record: dict[str, Any] = {
            "metrics": {k: (float(v) if v is not None else None) for k, v in values.items()},
            "errors": errors,
            "alignment": {
                "delay_samples": alignment.delay,
                "clip_lag_samples": alignment.clip_lag,
                "clip_lag_correlation": None
                if alignment.clip_correlation is None
                else round(alignment.clip_correlation, 6),
                "length_ref": int(ref.size),
                "length_est": int(est.size),
            },
            "seconds": round(time.perf_counter() - start, 4),
        }
        if text is not None:
            record["asr_text"] = text
        if skipped:
            record["skipped"] = skipped
        if artifacts:
            record["_embeddings"] = artifacts
        return record


# ------------------------------------------------------------------------------------------------- bookkeeping
def results_name(shard: tuple[int, int]) -> str:
    return f"{RESULTS_PREFIX}.jsonl" if shard[1] == 1 else f"{RESULTS_PREFIX}.shard-{shard[0]}-of-{shard[1]}.jsonl"


def read_results(folder: Path) -> list[dict[str, Any]]:
    """Every complete line of every ``results*.jsonl`` in ``folder`` (all shards)."""
    records: list[dict[str, Any]] = []
    for path in sorted(Path(folder).glob(f"{RESULTS_PREFIX}*.jsonl")):
        records.extend(read_jsonl(path))
    return records


def done_clips(folder: Path) -> set[str]:
    return {r["clip"] for r in read_results(folder)}


def _fingerprint(meta: dict[str, Any]) -> dict[str, Any]:
    keys = ("kind", "mode", "metrics", "alignment", "codec_identity", "set_sha256", "reference_dir")
    fp = {k: meta.get(k) for k in keys}
    fp["metrics"] = {name: m.get("settings") for name, m in (meta.get("metrics") or {}).items()}
    fp["validity"] = meta.get("validity_overrides") or {}
    return fp


def _write_meta(out: Path, meta: dict[str, Any], force: bool) -> None:
    path = out / META_NAME
    if path.is_file() and not force:
        old = json.loads(path.read_text(encoding="utf-8"))
        if _fingerprint(old) != _fingerprint(meta):
            changed = [k for k, v in _fingerprint(meta).items() if _fingerprint(old).get(k) != v]
            raise CodecStudyError(
                f"{out}: earlier results were computed with other settings ({', '.join(changed)} differ); "
                "use another --out, or --force to discard them"
            )
        meta["n_q"] = sorted(set(old.get("n_q") or []) | set(meta.get("n_q") or [])) or None
        if "delay" in meta:
            meta["delay"] = {**(old.get("delay") or {}), **meta["delay"]}
        if "settings" in meta:
            meta["settings"] = list(dict.fromkeys([*(old.get("settings") or []), *meta["settings"]]))
        meta["created"] = old.get("created", meta["created"])
    write_json_atomic(path, meta)


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


def _device_info(settings: EvalSettings) -> dict[str, Any]:
    """Where the model-based metrics ran: the setting, the device it resolved to and, on a GPU, its name."""
    device = settings.model_device()
    info: dict[str, Any] = {"setting": settings.device, "device": device}
    if not any(s.uses_device for s in settings.specs()):
        info["note"] = "no model-based metric in this run"
    if device.startswith("cuda"):
        import torch

        info["name"] = torch.cuda.get_device_name(torch.device(device))
        info["cuda"] = torch.version.cuda
    return info


def _base_meta(kind: str, settings: EvalSettings) -> dict[str, Any]:
    from codecstudy.provenance import environment_info

    env = environment_info()
    env["packages"].update({p: package_version(p) for p in ("numpy", "scipy", "soxr", "torch")})
    return {
        "kind": kind,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "mode": settings.mode,
        "metrics": metrics_meta(settings),
        "alignment": settings.alignment(),
        "validity_overrides": settings.validity,
        "device": _device_info(settings),
        "environment": env,
        "command": sys.argv,
    }


def _safe_name(clip_id: str) -> str:
    """A flat file name for a clip id (ids may contain '/' or ':')."""
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in clip_id)[:80]
    return f"{stem}-{hashlib.sha1(clip_id.encode()).hexdigest()[:10]}"


# ------------------------------------------------------------------------------------------------------ delays
def _fixed_delay(settings: EvalSettings, sample_rate: int | None) -> CodecDelay | None:
    """The delay when the settings decide it: compensation off, or a delay given by the user."""
    if not settings.delay_compensation:
        return CodecDelay(0, OFF, "compensation switched off", sample_rate=sample_rate)
    if settings.delay_samples is not None:
        return CodecDelay(int(settings.delay_samples), GIVEN, "given in the settings", sample_rate=sample_rate)
    return None


def _delay_key(settings: EvalSettings, what: str) -> dict[str, Any]:
    """What a stored calibration is valid for: the codec (or decoded folder) and the alignment settings."""
    return {"for": what, "alignment": settings.alignment()}


def stored_delays(out: Path, key: dict[str, Any]) -> dict[str, CodecDelay]:
    """Calibrations kept in ``OUT/delay.json`` for the same codec and settings (a resumed run reuses them, so every
    clip of a setting gets the same delay however often the run is interrupted)."""
    path = Path(out) / DELAY_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("key") != key:
        return {}
    return {k: CodecDelay.from_json(v["delay"]) for k, v in (data.get("settings") or {}).items()}


def write_delays(out: Path, key: dict[str, Any], delays: dict[str, CodecDelay], results: dict[str, Path]) -> None:
    """``OUT/delay.json``: per setting the delay applied and how the clips' own lags agree with it."""
    path = Path(out) / DELAY_NAME
    settings: dict[str, Any] = {}
    if path.is_file():  # keep the other settings of the same codec (a run may add an n_q later)
        old = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(old, dict) and old.get("key") == key:
            settings.update(old.get("settings") or {})
    for name, delay in delays.items():
        records = read_results(results[name]) if name in results else []
        settings[name] = {"delay": delay.to_json(), "agreement": lag_agreement(records, delay.sample_rate or 1)}
    write_json_atomic(path, {"key": key, "settings": settings})


def codec_delays(
    codec: Any,
    clips: list[dict[str, Any]],
    names: list[str],
    settings: EvalSettings,
    stored: dict[str, CodecDelay],
    rate: int,
) -> dict[str, CodecDelay]:
    """The delay at each setting, in samples at the scoring ``rate``: fixed by the settings (a given delay is in
    samples at the codec's rate), declared by the codec (``delay_samples(setting)``, None when it does not know),
    kept from an earlier calibration, or calibrated now on a spread of ``clips``."""
    codec_sr = codec.sample_rate

    def at_rate(samples: int) -> int:
        return int(round(samples * rate / codec_sr))

    fixed = _fixed_delay(settings, rate)
    if fixed is not None:
        return {n: CodecDelay(at_rate(fixed.samples), fixed.source, fixed.method, sample_rate=rate) for n in names}
    result: dict[str, CodecDelay] = {}
    todo: list[str] = []
    for n in names:
        declared = codec.delay_samples(n)
        if declared is not None:
            result[n] = CodecDelay(at_rate(int(declared)), STRUCTURE, "declared by the codec", sample_rate=rate)
        elif n in stored and stored[n].source == CALIBRATION and stored[n].sample_rate == rate:
            result[n] = stored[n]
        else:
            todo.append(n)
    if todo:
        pairs: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {n: [] for n in todo}
        for index in calibration_subset(len(clips), settings.calibration_clips):
            try:
                ref, _, _, decoded = _reconstruct(codec, clips[index], tuple(todo), rate)
            except Exception:  # noqa: BLE001 - an unreadable clip or a codec failure: calibrate on the others
                continue
            for n in todo:
                pairs[n].append((ref, decoded[n]))
        for n in todo:
            result[n] = calibrate_delay(pairs[n], rate, settings.delay_settings())
    return result


# -------------------------------------------------------------------------------------------------- codec mode
@dataclass(frozen=True)
class ClipJob:
    clip: dict[str, Any]
    settings: tuple[str, ...]
    score_rate: int | None = None  # None: the codec's rate
    delays: tuple[int, ...] = ()  # the codec's delay at each setting, in samples at the scoring rate


_WORKER: dict[str, Any] = {}


def _init_worker(codec_source: str | None, settings: EvalSettings, threads: int) -> None:
    """Per process: torch threads, the codec (codec mode) and one PairScorer with its reference cache."""
    import torch

    from codecstudy.codec.catalog import open_codec

    torch.set_num_threads(max(1, threads))
    # Untrained or collapsed codecs produce denormal activations in quiet passages; without flushing them to
    # zero a CPU forward pass can be 50x slower.
    torch.set_flush_denormal(True)
    codec = open_codec(codec_source) if codec_source else None
    cache = FeatureCache(settings.ref_cache)
    _WORKER.update(codec=codec, scorer=PairScorer(settings, cache), settings=settings)


@dataclass(frozen=True)
class PairJob:
    key: str
    ref_path: str
    dec_path: str
    sample_rate: int | None
    fields: dict[str, Any]
    delay_s: float = 0.0  # the output folder's delay, in seconds (each pair is scored at its own rate)


def _read_pair(job: PairJob) -> tuple[np.ndarray, np.ndarray, int]:
    """Both sides of a pair at the job's rate (default: the reference's); raises AudioReadError."""
    ref, ref_rate = audio.read(job.ref_path)
    est, est_rate = audio.read(job.dec_path)
    rate = job.sample_rate or ref_rate
    return audio.resample(ref, ref_rate, rate), audio.resample(est, est_rate, rate), rate


def _score_pair(job: PairJob) -> list[dict[str, Any]]:
    """Read, resample and score one (reference, decoded) file pair; a read error becomes the line's ``error``."""
    scorer: PairScorer = _WORKER["scorer"]
    try:
        ref, est, rate = _read_pair(job)
    except AudioReadError as exc:
        return [{"clip": job.key, "error": str(exc), "metrics": {}, "errors": {}}]
    record = scorer.score(job.key, ref, est, rate, job.fields, delay=int(round(job.delay_s * rate)))
    return [{"clip": job.key, "sample_rate": rate, "duration_s": round(ref.size / rate, 4), **record}]


def _reconstruct(
    codec: Any, clip: dict[str, Any], settings: tuple[str, ...], rate: int
) -> tuple[np.ndarray, np.ndarray, dict[str, Any], dict[str, np.ndarray]]:
    """One clip at the scoring ``rate`` (the reference), at the codec's rate (its input), its round trip at each
    setting and each decoding back at ``rate``. Raises AudioReadError, or whatever the codec raises. Shared by
    scoring and delay calibration, so both see the same reconstruction."""
    samples, source_rate = audio.read(clip["path"], clip.get("start") or 0.0, clip.get("duration"))
    codec_sr = codec.sample_rate
    ref = audio.resample(samples, source_rate, rate)
    wave = ref if rate == codec_sr else audio.resample(ref, rate, codec_sr).astype(np.float32)
    trips = codec.roundtrip_many(np.ascontiguousarray(wave, dtype=np.float32), settings)
    decoded = {n: t.audio if rate == codec_sr else audio.resample(t.audio, codec_sr, rate) for n, t in trips.items()}
    return ref, wave, trips, decoded


def _score_clip(job: ClipJob) -> list[dict[str, Any]]:
    """Put one clip through the codec at every setting and score it; returns one record per setting (with
    ``_codes`` attached for codecs whose codes nest). A codec failure becomes the records' ``error``."""
    from codecstudy.codec.interface import Codec

    codec: Codec = _WORKER["codec"]
    scorer: PairScorer = _WORKER["scorer"]
    clip = job.clip
    codec_sr = codec.sample_rate
    sr = job.score_rate or codec_sr
    base = {"clip": clip["id"], "language": clip.get("language"), "domain": clip.get("domain")}
    described = {name: codec.setting(name) for name in job.settings}

    def head(name: str) -> dict[str, Any]:
        return {**base, "n_q": described[name].n_q, "setting": name, "bitrate_bps": described[name].nominal_bps}

    try:
        ref, wave, trips, decoded = _reconstruct(codec, clip, job.settings, sr)
    except AudioReadError as exc:
        return [{**head(n), "error": str(exc), "metrics": {}, "errors": {}} for n in job.settings]
    except Exception as exc:  # noqa: BLE001 - any library error on one clip is that clip's failure, not the run's
        reason = f"codec failed: {type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        return [{**head(n), "error": reason, "metrics": {}, "errors": {}} for n in job.settings]
    records = []
    fields = {"text": clip.get("text"), "language": clip.get("language"), "domain": clip.get("domain")}
    delays = dict(zip(job.settings, job.delays))
    for name in job.settings:
        trip = trips[name]
        est = decoded[name]
        record = {
            **head(name),
            "measured_bitrate_bps": round(trip.measured_bps(wave.size, codec_sr), 3),
            "codec_sample_rate": codec_sr,
            "sample_rate": sr,
            "duration_s": round(ref.size / sr, 4),
            **scorer.score(clip["id"], ref, est, sr, fields, delay=delays.get(name, 0), n_q=described[name].n_q),
        }
        if _WORKER["settings"].save_audio:
            record["_audio"] = est
        records.append(record)
    if records and codec.kind == "native" and codec.codebook_size:  # usage.json lives in OUT/<n_q>/
        widest = max(job.settings, key=lambda n: described[n].n_q or 0)
        codes = trips[widest].codes
        if codes is not None:
            records[0]["_codes"] = codes.astype(np.uint16 if codec.codebook_size <= 65536 else np.uint32)
    return records


def _run_jobs(
    jobs: list[Any], settings: EvalSettings, init_args: tuple[Any, ...], progress: bool, func: str = "_score_clip"
) -> Iterator[list[dict[str, Any]]]:
    """Yield each job's records as they finish: in-process for one worker, else a spawned process pool.

    ``func`` names the job function in this module (looked up at call time, so tests can replace it).
    """
    from tqdm import tqdm

    work = globals()[func]
    bar = tqdm(total=len(jobs), unit="clip", disable=not progress, dynamic_ncols=True)
    try:
        if settings.workers <= 1 or len(jobs) <= 1:
            import torch

            threads = torch.get_num_threads()
            try:
                _init_worker(*init_args)
                for job in jobs:
                    yield work(job)
                    bar.update(1)
            finally:  # in-process: leave the caller's torch settings as they were
                torch.set_num_threads(threads)
                torch.set_flush_denormal(False)  # torch's default; it has no getter
                _WORKER.clear()
            return
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(
            settings.workers, mp_context=context, initializer=_init_worker, initargs=init_args
        ) as pool:
            pending: set[Future[list[dict[str, Any]]]] = set()
            queue = iter(jobs)
            for job in queue:
                pending.add(pool.submit(work, job))
                if len(pending) >= 2 * settings.workers:
                    break
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    yield future.result()
                    bar.update(1)
                    nxt = next(queue, None)
                    if nxt is not None:
                        pending.add(pool.submit(work, nxt))
    finally:
        bar.close()


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


def _codec_meta(codec: Any, chosen: list[Any]) -> dict[str, Any]:
    """What meta.json says about the codec: rates, settings with nominal bitrates, what "measured" counts."""
    info: dict[str, Any] = {
        "kind": codec.kind,
        "name": codec.name,
        "sample_rate": codec.sample_rate,
        "frame_rate": codec.frame_rate,
        "codebook_size": codec.codebook_size,
        "bitrate_bps": {s.name: s.nominal_bps for s in chosen},
        "measured_bitrate_counts": codec.bitrate_counts,
        "delay_samples": {s.name: codec.delay_samples(s.name) for s in chosen},
        "weights": codec.weights(),
    }
    model = getattr(codec, "model", None)
    if model is not None:  # codecstudy models: the architecture and codebooks, as before
        info.update(architecture=model.config.architecture, n_codebooks=model.n_codebooks)
    return info


def evaluate_codec(
    codec: str,
    manifest: str | Path,
    out: str | Path,
    n_qs: list[int] | list[str] | None,
    settings: EvalSettings,
    *,
    set_name: str | None = None,
    name: str | None = None,
    force: bool = False,
    progress: bool = False,
    limit: int | None = None,
    sample_rate: int | None = None,
) -> RunSummary:
    """Score ``codec`` (checkpoint, YAML, preset or adapter name such as ``opus:6kbps``) on the clips of
    ``manifest`` at each setting (``n_qs``: numbers of codebooks or setting names; None: the ones the codec's name
    selects, else all it offers); resumable. ``sample_rate``: score at this rate instead of the codec's."""
    from codecstudy.codec.catalog import open_codec
    from codecstudy.corpus.manifest import load_manifest, manifest_path

    specs = settings.specs()
    check_available(specs)
    out = Path(out)
    opened = open_codec(codec)
    wanted = [str(n) for n in n_qs] if n_qs else opened.default_settings()
    if not wanted:
        raise CodecStudyError("give at least one --n-q")
    if opened.kind == "native":
        bad = [n for n in wanted if not n.isdigit() or not 1 <= int(n) <= len(opened.settings())]
        if bad:
            raise CodecStudyError(f"--n-q {bad} out of range 1..{len(opened.settings())} for codec {opened.name}")
    chosen = sorted({opened.setting(n) for n in wanted}, key=lambda s: (s.n_q or 0, s.nominal_bps or 0, s.name))
    setting_names = [s.name for s in chosen]
    mpath = manifest_path(manifest)
    clips = load_manifest(mpath)
    if limit is not None:
        clips = clips[:limit]
    shard = settings.shard
    calibration_clips = [c.to_json() for c in clips]  # before sharding: every shard calibrates on the same clips
    clips = [c for i, c in enumerate(clips) if i % shard[1] == shard[0]]
    condition = name or (Path(codec).stem if Path(codec).is_file() else str(codec).replace(":", "-").replace("/", "_"))
    if set_name is None:  # eval_sets/speech-en.jsonl -> speech-en; corpus/manifest.jsonl -> corpus
        set_name = mpath.parent.name if mpath.name == "manifest.jsonl" else mpath.stem
    meta = _base_meta("codec", settings)
    meta.update(
        condition=condition,
        set=set_name,
        set_path=str(mpath),
        set_sha256=hashlib.sha256(mpath.read_bytes()).hexdigest(),
        n_clips=len(clips),
        n_q=sorted(s.n_q for s in chosen) if all(s.n_q for s in chosen) else None,
        settings=setting_names,
        codec_source=str(codec),
        codec_identity=opened.identity(),
        codec=_codec_meta(opened, chosen),
        sample_rate=sample_rate or opened.sample_rate,
        shard=list(shard),
    )
    out.mkdir(parents=True, exist_ok=True)
    if force:
        _discard(out)
    delay_key = _delay_key(settings, opened.identity())
    rate = sample_rate or opened.sample_rate
    delays = codec_delays(opened, calibration_clips, setting_names, settings, stored_delays(out, delay_key), rate)
    meta["delay"] = {n: d.to_json() for n, d in delays.items()}
    _write_meta(out, meta, force)

    done = {n: done_clips(out / n) for n in setting_names}
    jobs = []
    for clip in clips:
        todo = tuple(n for n in setting_names if clip.id not in done[n])
        if todo:
            jobs.append(ClipJob(clip.to_json(), todo, sample_rate, tuple(delays[n].samples for n in todo)))
    skipped = len(clips) - len(jobs)
    writers = {n: JsonlAppender(out / n / results_name(shard)) for n in setting_names}
    failed: dict[str, int] = {}
    scored = 0
    threads = settings.torch_threads()
    common = {"condition": condition, "set": set_name, "codec_identity": opened.identity()[:16]}
    try:
        for records in _run_jobs(jobs, settings, (str(codec), settings, threads), progress):
            codes = records[0].pop("_codes", None) if records else None
            if codes is not None:
                _save_codes(out, records[0]["clip"], codes)
            for record in records:
                save_embeddings(out / record["setting"], record["clip"], record.pop("_embeddings", None))
                est = record.pop("_audio", None)
                if est is not None:
                    audio.write(
                        out / record["setting"] / "audio" / f"{_safe_name(record['clip'])}.wav", est,
                        record["sample_rate"],
                    )
                for metric in record.get("errors", {}):
                    failed[metric] = failed.get(metric, 0) + 1
                if record.get("error"):
                    failed["clip"] = failed.get("clip", 0) + 1
                writers[record["setting"]].write({**common, **record})
            scored += 1
    finally:
        for writer in writers.values():
            writer.close()
    if opened.kind == "native" and opened.codebook_size:
        for s in chosen:
            write_usage(out, int(s.n_q or 0), opened.codebook_size, float(opened.frame_rate or 0.0))
    write_delays(out, delay_key, delays, {n: out / n for n in setting_names})
    for n in setting_names:
        write_fad(out / n, done_clips(out / n))
    return RunSummary(out, scored, skipped, failed)


def _discard(out: Path) -> None:
    """--force: remove earlier results, codes and meta of this output folder (nothing else)."""
    import shutil

    for path in out.glob(f"*/{RESULTS_PREFIX}*.jsonl"):
        path.unlink()
    for path in out.glob(f"{RESULTS_PREFIX}*.jsonl"):
        path.unlink()
    for path in [out / "codes", *out.glob("*/audio")]:
        if path.is_dir():
            shutil.rmtree(path)
    (out / META_NAME).unlink(missing_ok=True)
    (out / DELAY_NAME).unlink(missing_ok=True)


def _save_codes(out: Path, clip_id: str, codes: np.ndarray) -> None:
    path = out / "codes" / f"{_safe_name(clip_id)}.npy"
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_file():
        try:
            if np.load(path).shape[0] >= codes.shape[0]:
                return
        except (OSError, ValueError):
            pass
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    with tmp.open("wb") as handle:
        np.save(handle, codes)
    os.replace(tmp, path)


def write_usage(out: Path, n_q: int, codebook_size: int, frame_rate: float) -> dict[str, Any] | None:
    """``OUT/<n_q>/usage.json`` from the codes of every clip with a result line at this n_q."""
    clips = sorted(done_clips(out / str(n_q)))
    arrays = []
    for clip_id in clips:
        path = out / "codes" / f"{_safe_name(clip_id)}.npy"
        if path.is_file():
            arrays.append(np.load(path)[:n_q])
    if not arrays:
        return None
    summary = usage_summary(code_counts(arrays, n_q, codebook_size), frame_rate)
    summary["clips"] = len(arrays)
    write_json_atomic(out / str(n_q) / "usage.json", summary)
    return summary


# -------------------------------------------------------------------------------------------------- pairs mode
def match_pairs(ref_dir: Path, dec_dir: Path) -> tuple[list[tuple[str, Path, Path]], list[str]]:
    """(id, reference, decoded) for decoded files whose relative path (without suffix) exists under ``ref_dir``;
    also the ids of decoded files without a reference."""

    def index(root: Path) -> dict[str, Path]:
        found: dict[str, Path] = {}
        for path in sorted(root.rglob("*")):
            if path.is_file() and path.suffix.lower() in AUDIO_SUFFIXES:
                found.setdefault(path.relative_to(root).with_suffix("").as_posix(), path)
        return found

    refs, decs = index(ref_dir), index(dec_dir)
    pairs = [(key, refs[key], decs[key]) for key in sorted(decs) if key in refs]
    unmatched = [key for key in sorted(decs) if key not in refs]
    return pairs, unmatched


def evaluate_pairs(
    ref_dir: str | Path,
    dec_dir: str | Path,
    out: str | Path,
    settings: EvalSettings,
    *,
    manifest: str | Path | None = None,
    sample_rate: int | None = None,
    name: str | None = None,
    force: bool = False,
    progress: bool = False,
) -> RunSummary:
    """Score decoded files of any codec against references matched by relative path (resumable, like codec mode).

    Both sides are resampled to ``sample_rate`` (default: each reference's own rate). A manifest, when given,
    supplies text and language (for WER) for clips whose id equals the relative path without suffix.
    """

    from codecstudy.corpus.manifest import load_manifest

    check_available(settings.specs())
    ref_dir, dec_dir, out = Path(ref_dir), Path(dec_dir), Path(out)
    for folder in (ref_dir, dec_dir):
        if not folder.is_dir():
            raise CodecStudyError(f"{folder}: not a folder")
    pairs, unmatched = match_pairs(ref_dir, dec_dir)
    if not pairs:
        raise CodecStudyError(f"no decoded file in {dec_dir} has a reference with the same relative path in {ref_dir}")
    shard = settings.shard
    calibration_pairs = list(pairs)  # before sharding: every shard calibrates on the same pairs
    pairs = [p for i, p in enumerate(pairs) if i % shard[1] == shard[0]]
    fields = {c.id: c for c in load_manifest(manifest)} if manifest else {}
    meta = _base_meta("pairs", settings)
    meta.update(
        condition=name or dec_dir.name,
        set=ref_dir.name,
        reference_dir=str(ref_dir.resolve()),
        decoded_dir=str(dec_dir.resolve()),
        n_pairs=len(pairs),
        unmatched=unmatched,
        sample_rate=sample_rate,
        shard=list(shard),
    )
    out.mkdir(parents=True, exist_ok=True)
    if force:
        _discard(out)
    delay_key = _delay_key(settings, meta["decoded_dir"])
    delay = folder_delay(calibration_pairs, sample_rate, settings, stored_delays(out, delay_key).get("all"))
    meta["delay"] = {"all": delay.to_json()}
    _write_meta(out, meta, force)
    done = done_clips(out)
    todo = [p for p in pairs if p[0] not in done]
    jobs = []
    for key, ref_path, dec_path in todo:
        clip = fields.get(key)
        info = {"text": clip.text, "language": clip.language, "domain": clip.domain} if clip else {}
        jobs.append(PairJob(key, str(ref_path), str(dec_path), sample_rate, info, delay_seconds(delay)))
    failed: dict[str, int] = {}
    common = {"condition": meta["condition"], "set": meta["set"], "n_q": None}
    init_args = (None, settings, settings.torch_threads())
    with JsonlAppender(out / results_name(shard)) as writer:
        for records in _run_jobs(jobs, settings, init_args, progress, func="_score_pair"):
            for record in records:
                save_embeddings(out, record["clip"], record.pop("_embeddings", None))
                clip = fields.get(record["clip"])
                extra = (
                    {"language": clip.language, "domain": clip.domain} if clip else {"language": None, "domain": None}
                )
                for metric in record.get("errors", {}):
                    failed[metric] = failed.get(metric, 0) + 1
                writer.write({**common, **extra, **record})
    write_delays(out, delay_key, {"all": delay}, {"all": out})
    write_fad(out, done_clips(out))
    return RunSummary(out, len(todo), len(pairs) - len(todo), failed)


def delay_seconds(delay: CodecDelay) -> float:
    """A folder's delay in seconds: its pairs may be scored at their own rates, so samples do not carry over."""
    return delay.samples / delay.sample_rate if delay.sample_rate else 0.0


def folder_delay(
    pairs: list[tuple[str, Path, Path]], sample_rate: int | None, settings: EvalSettings, stored: CodecDelay | None
) -> CodecDelay:
    """One delay for a folder of decoded files (they come from one codec setting): given, kept from an earlier
    calibration, or calibrated on a spread of the pairs at the first pair's rate (or ``sample_rate``)."""
    if not pairs:
        return CodecDelay(0, OFF, "no pairs")
    fixed = _fixed_delay(settings, sample_rate)
    if fixed is not None:
        if fixed.sample_rate is None:  # a given delay without --sample-rate: in samples of the first reference
            rate = audio.info(pairs[0][1]).sample_rate
            fixed = CodecDelay(fixed.samples, fixed.source, fixed.method, sample_rate=rate)
        return fixed
    if stored is not None and stored.source == CALIBRATION:
        return stored
    found: list[tuple[np.ndarray, np.ndarray]] = []
    rate = sample_rate
    for index in calibration_subset(len(pairs), settings.calibration_clips):
        key, ref_path, dec_path = pairs[index]
        try:
            ref, est, this_rate = _read_pair(PairJob(key, str(ref_path), str(dec_path), rate, {}))
        except AudioReadError:
            continue
        rate = rate or this_rate
        found.append((ref, est))
    if rate is None:
        return CodecDelay(0, CALIBRATION, "no readable pairs: not shifted")
    return calibrate_delay(found, rate, settings.delay_settings())


def default_ref_cache(disabled: bool, given: Path | None) -> Path | None:
    if disabled:
        return None
    return given or default_cache_dir()
