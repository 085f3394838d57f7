"""Score a codec on an evaluation set (or any decoded outputs against references), one JSONL line per clip.

Codec mode (``codecstudy evaluate --codec ... --set ...``): every clip is read, resampled to the codec's rate,
encoded once with the largest requested number of codebooks and decoded with each requested ``n_q`` (residual
quantization is greedy, so the first ``n`` codebooks of an 8-codebook encoding *are* the n-codebook encoding).
Each (clip, n_q) gets one flushed line in ``OUT/<n_q>/results.jsonl``; its codes go to ``OUT/codes/`` first, so the
set's codebook usage (``OUT/<n_q>/usage.json``) can always be rebuilt from the clips that have a line.

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
from codecstudy.evaluate.metrics.base import MetricError, package_version
from codecstudy.evaluate.metrics.usage import bitrate, code_counts, usage_summary
from codecstudy.evaluate.registry import MetricSpec, check_available, resolve_metrics, run_metric
from codecstudy.jsonl import JsonlAppender, read_jsonl, write_json_atomic

META_NAME = "meta.json"
DELAY_NAME = "delay.json"
RESULTS_PREFIX = "results"
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".opus", ".aiff", ".aif")


# ---------------------------------------------------------------------------------------------- configuration
@dataclass
class EvalSettings:
    """What a run computes; everything but ``workers``, ``shard``, ``ref_cache`` and ``save_audio`` is part of the
    fingerprint that a resumed run must match."""

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

    def torch_threads(self) -> int:
        return self.threads or max(1, (os.cpu_count() or 1) // max(1, self.workers))

    def specs(self) -> list[MetricSpec]:
        return resolve_metrics(self.metrics)

    def metric_settings(self) -> dict[str, dict[str, Any]]:
        specs = self.specs()
        unknown = set(self.overrides) - {s.name for s in specs}
        if unknown:
            raise CodecStudyError(f"settings given for metrics not requested: {', '.join(sorted(unknown))}")
        return {s.name: s.settings(self.mode, self.overrides.get(s.name)) for s in specs}

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
        self.cache = cache or FeatureCache(None)
        self._pair_refs: dict[str, Any] = {}

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
                lambda: {"embedding": models.speaker_embedding(ref, sr, weights=settings.get("weights"))},
            )
            return {"ref_embedding": data["embedding"]}
        return {}

    def score(
        self,
        clip_id: str,
        ref: np.ndarray,
        est: np.ndarray,
        sr: int,
        clip_fields: dict[str, Any] | None = None,
        delay: int = 0,
    ) -> dict[str, Any]:
        """Metric values, per-metric errors and the alignment for one pair (both at ``sr``, mono float).

        ``delay`` is the codec's delay (samples at ``sr``), the same for every clip of the codec setting."""
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
        for spec in self.specs:
            settings = self.metric_settings[spec.name]
            if spec.aligned and aligned is None:
                errors[spec.name] = alignment_error or "alignment failed"
                continue
            target = aligned if spec.aligned else est
            extra: dict[str, Any] = {f: fields.get(f) for f in spec.clip_fields}
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
        meta["created"] = old.get("created", meta["created"])
    write_json_atomic(path, meta)


def metrics_meta(settings: EvalSettings) -> dict[str, Any]:
    """Per metric: settings, outputs with direction, library versions and evaluator info (mapper, hashes)."""
    out: dict[str, Any] = {}
    per_metric = settings.metric_settings()
    for spec in settings.specs():
        entry: dict[str, Any] = {
            "family": spec.family,
            "description": spec.description,
            "settings": per_metric[spec.name],
            "outputs": spec.outputs,
            "aligned": spec.aligned,
            "versions": spec.versions(),
        }
        if spec.info is not None:
            try:
                entry["evaluator"] = spec.info(**per_metric[spec.name])
            except MetricError as exc:
                entry["evaluator"] = {"error": str(exc)}
        out[spec.name] = entry
    return out


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
    model: Any, clips: list[dict[str, Any]], n_qs: list[int], settings: EvalSettings, stored: dict[str, CodecDelay]
) -> dict[int, CodecDelay]:
    """The delay at each n_q: fixed by the settings, declared by the codec (``delay_samples(n_q)``, None when the
    codec does not know), kept from an earlier calibration, or calibrated now on a spread of ``clips``."""
    sr = model.sample_rate
    fixed = _fixed_delay(settings, sr)
    if fixed is not None:
        return {n: fixed for n in n_qs}
    result: dict[int, CodecDelay] = {}
    todo: list[int] = []
    declare = getattr(model, "delay_samples", None)
    for n in n_qs:
        declared = declare(n) if callable(declare) else None
        if declared is not None:
            result[n] = CodecDelay(int(declared), STRUCTURE, "declared by the codec", sample_rate=sr)
        elif str(n) in stored and stored[str(n)].source == CALIBRATION:
            result[n] = stored[str(n)]
        else:
            todo.append(n)
    if todo:
        pairs: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {n: [] for n in todo}
        for index in calibration_subset(len(clips), settings.calibration_clips):
            try:
                ref, _, decoded = _reconstruct(model, clips[index], tuple(todo))
            except AudioReadError:
                continue
            for n in todo:
                pairs[n].append((ref, decoded[n]))
        for n in todo:
            result[n] = calibrate_delay(pairs[n], sr, settings.delay_settings())
    return result


# -------------------------------------------------------------------------------------------------- codec mode
@dataclass(frozen=True)
class ClipJob:
    clip: dict[str, Any]
    n_qs: tuple[int, ...]
    delays: tuple[int, ...] = ()  # the codec's delay at each of n_qs (samples at its rate)


_WORKER: dict[str, Any] = {}


def _init_worker(codec_source: str | None, settings: EvalSettings, threads: int) -> None:
    """Per process: torch threads, the codec (codec mode) and one PairScorer with its reference cache."""
    import torch

    from codecstudy.codec.registry import load_codec

    torch.set_num_threads(max(1, threads))
    # Untrained or collapsed codecs produce denormal activations in quiet passages; without flushing them to
    # zero a CPU forward pass can be 50x slower.
    torch.set_flush_denormal(True)
    model = load_codec(codec_source).prepare_for_inference() if codec_source else None
    cache = FeatureCache(settings.ref_cache)
    _WORKER.update(model=model, scorer=PairScorer(settings, cache), settings=settings)


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


def _reconstruct(model: Any, clip: dict[str, Any], n_qs: tuple[int, ...]) -> tuple[np.ndarray, Any, dict[int, Any]]:
    """One clip at the codec's rate, its codes at ``max(n_qs)`` and its decoding at each n_q; raises
    AudioReadError. Shared by scoring and delay calibration, so both see the same reconstruction."""
    import torch

    samples, rate = audio.read(clip["path"], clip.get("start") or 0.0, clip.get("duration"))
    ref = audio.resample(samples, rate, model.sample_rate)
    wave = torch.from_numpy(np.ascontiguousarray(ref)).view(1, 1, -1)
    codes = model.encode(wave, n_q=max(n_qs))
    decoded = {n: model.decode(codes[:, :n], lengths=[ref.size])[0, 0].numpy() for n in n_qs}
    return ref, codes, decoded


def _score_clip(job: ClipJob) -> list[dict[str, Any]]:
    """Encode/decode one clip at every n_q and score it; returns one record per n_q (with ``_codes`` attached)."""
    model = _WORKER["model"]
    scorer: PairScorer = _WORKER["scorer"]
    clip = job.clip
    sr = model.sample_rate
    base = {"clip": clip["id"], "language": clip.get("language"), "domain": clip.get("domain")}
    try:
        ref, codes, decoded = _reconstruct(model, clip, job.n_qs)
    except AudioReadError as exc:
        return [{**base, "n_q": n, "error": str(exc), "metrics": {}, "errors": {}} for n in job.n_qs]
    records = []
    fields = {"text": clip.get("text"), "language": clip.get("language")}
    delays = dict(zip(job.n_qs, job.delays))
    for n_q in job.n_qs:
        est = decoded[n_q]
        record = {
            **base,
            "n_q": n_q,
            "bitrate_bps": bitrate(n_q, model.codebook_size, model.frame_rate),
            "sample_rate": sr,
            "duration_s": round(ref.size / sr, 4),
            **scorer.score(clip["id"], ref, est, sr, fields, delay=delays.get(n_q, 0)),
        }
        if _WORKER["settings"].save_audio:
            record["_audio"] = est
        records.append(record)
    if records:
        records[0]["_codes"] = codes[0].numpy().astype(np.uint16 if model.codebook_size <= 65536 else np.uint32)
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


def evaluate_codec(
    codec: str,
    manifest: str | Path,
    out: str | Path,
    n_qs: list[int],
    settings: EvalSettings,
    *,
    set_name: str | None = None,
    name: str | None = None,
    force: bool = False,
    progress: bool = False,
    limit: int | None = None,
) -> RunSummary:
    """Score ``codec`` (checkpoint, YAML or preset) on the clips of ``manifest`` at each ``n_q``; resumable."""
    from codecstudy.codec.registry import load_codec
    from codecstudy.corpus.manifest import load_manifest, manifest_path

    specs = settings.specs()
    check_available(specs)
    out = Path(out)
    model = load_codec(codec)
    if not n_qs:
        raise CodecStudyError("give at least one --n-q")
    bad = [n for n in n_qs if not 1 <= n <= model.n_codebooks]
    if bad:
        raise CodecStudyError(f"--n-q {bad} out of range 1..{model.n_codebooks} for codec {model.config.name}")
    mpath = manifest_path(manifest)
    clips = load_manifest(mpath)
    if limit is not None:
        clips = clips[:limit]
    shard = settings.shard
    calibration_clips = [c.to_json() for c in clips]  # before sharding: every shard calibrates on the same clips
    clips = [c for i, c in enumerate(clips) if i % shard[1] == shard[0]]
    condition = name or (Path(codec).stem if Path(codec).is_file() else str(codec))
    if set_name is None:  # eval_sets/speech-en.jsonl -> speech-en; corpus/manifest.jsonl -> corpus
        set_name = mpath.parent.name if mpath.name == "manifest.jsonl" else mpath.stem
    meta = _base_meta("codec", settings)
    meta.update(
        condition=condition,
        set=set_name,
        set_path=str(mpath),
        set_sha256=hashlib.sha256(mpath.read_bytes()).hexdigest(),
        n_clips=len(clips),
        n_q=sorted(n_qs),
        codec_source=str(codec),
        codec_identity=model.identity_hash(),
        codec={
            "name": model.config.name,
            "architecture": model.config.architecture,
            "sample_rate": model.sample_rate,
            "frame_rate": model.frame_rate,
            "codebook_size": model.codebook_size,
            "n_codebooks": model.n_codebooks,
            "bitrate_bps": {str(n): bitrate(n, model.codebook_size, model.frame_rate) for n in sorted(n_qs)},
        },
        shard=list(shard),
    )
    out.mkdir(parents=True, exist_ok=True)
    if force:
        _discard(out)
    delay_key = _delay_key(settings, model.identity_hash())
    delays = codec_delays(model, calibration_clips, sorted(n_qs), settings, stored_delays(out, delay_key))
    meta["delay"] = {str(n): d.to_json() for n, d in delays.items()}
    _write_meta(out, meta, force)

    done = {n: done_clips(out / str(n)) for n in n_qs}
    jobs = []
    for clip in clips:
        todo = tuple(n for n in sorted(n_qs) if clip.id not in done[n])
        if todo:
            jobs.append(ClipJob(clip.to_json(), todo, tuple(delays[n].samples for n in todo)))
    skipped = len(clips) - len(jobs)
    writers = {n: JsonlAppender(out / str(n) / results_name(shard)) for n in n_qs}
    failed: dict[str, int] = {}
    scored = 0
    threads = settings.torch_threads()
    common = {"condition": condition, "set": set_name, "codec_identity": model.identity_hash()[:16]}
    try:
        for records in _run_jobs(jobs, settings, (str(codec), settings, threads), progress):
            codes = records[0].pop("_codes", None) if records else None
            if codes is not None:
                _save_codes(out, records[0]["clip"], codes)
            for record in records:
                est = record.pop("_audio", None)
                if est is not None:
                    audio.write(
                        out / str(record["n_q"]) / "audio" / f"{_safe_name(record['clip'])}.wav", est, model.sample_rate
                    )
                for metric in record.get("errors", {}):
                    failed[metric] = failed.get(metric, 0) + 1
                writers[record["n_q"]].write({**common, **record})
            scored += 1
    finally:
        for writer in writers.values():
            writer.close()
    for n in n_qs:
        write_usage(out, n, model.codebook_size, model.frame_rate)
    write_delays(out, delay_key, {str(n): d for n, d in delays.items()}, {str(n): out / str(n) for n in n_qs})
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
        info = {"text": clip.text, "language": clip.language} if clip else {}
        jobs.append(PairJob(key, str(ref_path), str(dec_path), sample_rate, info, delay_seconds(delay)))
    failed: dict[str, int] = {}
    common = {"condition": meta["condition"], "set": meta["set"], "n_q": None}
    init_args = (None, settings, settings.torch_threads())
    with JsonlAppender(out / results_name(shard)) as writer:
        for records in _run_jobs(jobs, settings, init_args, progress, func="_score_pair"):
            for record in records:
                clip = fields.get(record["clip"])
                extra = (
                    {"language": clip.language, "domain": clip.domain} if clip else {"language": None, "domain": None}
                )
                for metric in record.get("errors", {}):
                    failed[metric] = failed.get(metric, 0) + 1
                writer.write({**common, **extra, **record})
    write_delays(out, delay_key, {"all": delay}, {"all": out})
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
