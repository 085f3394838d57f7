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
from codecstudy.evaluate.cache import FeatureCache, default_cache_dir, feature_key, signal_digest
from codecstudy.evaluate.metrics.base import MetricError, package_version
from codecstudy.evaluate.metrics.usage import code_counts, usage_summary
from codecstudy.evaluate.registry import MetricSpec, check_available, resolve_metrics, run_metric
from codecstudy.jsonl import JsonlAppender, read_jsonl, write_json_atomic

META_NAME = "meta.json"
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
    max_delay_s: float = 0.1
    min_correlation: float = 0.1
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
            "max_delay_s": self.max_delay_s,
            "min_correlation": self.min_correlation,
            "max_mismatch": self.max_mismatch,
            "method": "cross-correlation peak within ±max_delay_s, applied when its normalised value >= "
            "min_correlation; estimate shifted and cut/zero-padded to the reference length",
        }


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
        self, clip_id: str, ref: np.ndarray, est: np.ndarray, sr: int, clip_fields: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Metric values, per-metric errors and the alignment for one pair (both at ``sr``, mono float)."""
        from codecstudy.evaluate.metrics.spectral import world_settings
        from codecstudy.evaluate.world import world_features

        start = time.perf_counter()
        ref = np.asarray(ref, dtype=np.float32).reshape(-1)
        est = np.asarray(est, dtype=np.float32).reshape(-1)
        values: dict[str, Any] = {}
        errors: dict[str, str] = {}
        aligned: np.ndarray | None = None
        alignment_error: str | None = None
        alignment = Alignment(0, 0.0, False)
        if any(s.aligned for s in self.specs):
            try:
                if not (np.all(np.isfinite(ref)) and np.all(np.isfinite(est))):
                    raise MetricError("non-finite samples (NaN or inf) in the reference or the estimate")
                a = self.settings
                aligned, alignment = align_pair(
                    ref,
                    est,
                    sr,
                    compensate=a.delay_compensation,
                    max_delay_s=a.max_delay_s,
                    min_correlation=a.min_correlation,
                    max_mismatch=a.max_mismatch,
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
                "correlation": round(alignment.correlation, 6),
                "applied": alignment.applied,
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
        if "settings" in meta:
            meta["settings"] = list(dict.fromkeys([*(old.get("settings") or []), *meta["settings"]]))
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


# -------------------------------------------------------------------------------------------------- codec mode
@dataclass(frozen=True)
class ClipJob:
    clip: dict[str, Any]
    settings: tuple[str, ...]
    score_rate: int | None = None  # None: the codec's rate


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


def _score_pair(job: PairJob) -> list[dict[str, Any]]:
    """Read, resample and score one (reference, decoded) file pair; a read error becomes the line's ``error``."""
    scorer: PairScorer = _WORKER["scorer"]
    try:
        ref, ref_rate = audio.read(job.ref_path)
        est, est_rate = audio.read(job.dec_path)
    except AudioReadError as exc:
        return [{"clip": job.key, "error": str(exc), "metrics": {}, "errors": {}}]
    rate = job.sample_rate or ref_rate
    ref = audio.resample(ref, ref_rate, rate)
    est = audio.resample(est, est_rate, rate)
    record = scorer.score(job.key, ref, est, rate, job.fields)
    return [{"clip": job.key, "sample_rate": rate, "duration_s": round(ref.size / rate, 4), **record}]


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
        samples, rate = audio.read(clip["path"], clip.get("start") or 0.0, clip.get("duration"))
    except AudioReadError as exc:
        return [{**head(n), "error": str(exc), "metrics": {}, "errors": {}} for n in job.settings]
    ref = audio.resample(samples, rate, sr)
    wave = ref if sr == codec_sr else audio.resample(ref, sr, codec_sr).astype(np.float32)
    try:
        trips = codec.roundtrip_many(np.ascontiguousarray(wave, dtype=np.float32), job.settings)
    except Exception as exc:  # noqa: BLE001 - any library error on one clip is that clip's failure, not the run's
        reason = f"codec failed: {type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        return [{**head(n), "error": reason, "metrics": {}, "errors": {}} for n in job.settings]
    records = []
    fields = {"text": clip.get("text"), "language": clip.get("language")}
    for name in job.settings:
        trip = trips[name]
        est = trip.audio if sr == codec_sr else audio.resample(trip.audio, codec_sr, sr)
        record = {
            **head(name),
            "measured_bitrate_bps": round(trip.measured_bps(wave.size, codec_sr), 3),
            "codec_delay_samples": codec.delay_samples(name),
            "codec_sample_rate": codec_sr,
            "sample_rate": sr,
            "duration_s": round(ref.size / sr, 4),
            **scorer.score(clip["id"], ref, est, sr, fields),
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
    _write_meta(out, meta, force)

    done = {n: done_clips(out / n) for n in setting_names}
    jobs = []
    for clip in clips:
        todo = tuple(n for n in setting_names if clip.id not in done[n])
        if todo:
            jobs.append(ClipJob(clip.to_json(), todo, sample_rate))
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
    _write_meta(out, meta, force)
    done = done_clips(out)
    todo = [p for p in pairs if p[0] not in done]
    jobs = []
    for key, ref_path, dec_path in todo:
        clip = fields.get(key)
        info = {"text": clip.text, "language": clip.language} if clip else {}
        jobs.append(PairJob(key, str(ref_path), str(dec_path), sample_rate, info))
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
    return RunSummary(out, len(todo), len(pairs) - len(todo), failed)


def default_ref_cache(disabled: bool, given: Path | None) -> Path | None:
    if disabled:
        return None
    return given or default_cache_dir()
