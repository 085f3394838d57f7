"""Score a codec on an evaluation set, one JSONL line per clip and setting (codec mode).

The codec is anything :func:`codecstudy.codec.catalog.open_codec` opens (a codecstudy checkpoint or preset,
``opus:6kbps``, ``encodec:24khz`` ...), scored at each requested *setting* (numbers of codebooks for codecstudy
models). Every clip is read, resampled to the codec's rate and put through the codec at every setting (codecstudy
models encode once with the largest number of codebooks and decode each: residual quantization is greedy, so the
first ``n`` codebooks of an 8-codebook encoding *are* the n-codebook encoding). With ``sample_rate`` the reference
and the decoded audio are scored at that rate instead (a study scores its baselines at its trained codecs' rate).
Each (clip, setting) gets one flushed line in ``OUT/<setting>/results.jsonl`` with the nominal and the measured
bitrate; a clip the codec fails on gets a line with the reason. Codes of codecstudy models go to ``OUT/codes/``
first, so the set's codebook usage (``OUT/<n_q>/usage.json``) can always be rebuilt from the clips that have a line.

Resuming, meta.json, shards and the process pool are the run's (:mod:`codecstudy.evaluate.outputs`,
:mod:`codecstudy.evaluate.pool`): a re-run scores only the missing (clip, setting) pairs; ``shard=(i, n)`` (or
torchrun's ``RANK``/``WORLD_SIZE``) keeps every n-th clip and writes ``results.shard-i-of-n.jsonl``; a metric part
(``settings.part``: the GPU or the DSP metrics, :mod:`codecstudy.evaluate.parts`) scores its metrics only, into
files of its own, and readers join the parts per clip. Pairs mode (decoded files of any codec against references)
is :mod:`codecstudy.evaluate.pairs`.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from codecstudy import audio
from codecstudy.codec.catalog import open_codec
from codecstudy.codec.interface import Codec, Setting
from codecstudy.corpus.manifest import load_manifest, manifest_path
from codecstudy.corpus.records import Clip
from codecstudy.errors import AudioReadError, CodecStudyError
from codecstudy.evaluate.delay import (
    CALIBRATION,
    STRUCTURE,
    CodecDelay,
    calibrate_delay,
    calibration_subset,
    too_few_warning,
)
from codecstudy.evaluate.dependencies import check_available
from codecstudy.evaluate.outputs import (
    RunSummary,
    ScoringMode,
    base_meta,
    done_clips,
    run_evaluation,
    write_usage,
)
from codecstudy.evaluate.pool import Records, Worker, WorkerSetup
from codecstudy.evaluate.settings import EvalSettings, delay_key, fixed_delay


@dataclass(frozen=True)
class ClipJob:
    clip: dict[str, Any]
    settings: tuple[str, ...]
    score_rate: int | None = None  # None: the codec's rate
    delays: tuple[int, ...] = ()  # the codec's delay at each setting, in samples at the scoring rate


# ----------------------------------------------------------------------------------------------- one clip
def reconstruct(
    codec: Codec, clip: dict[str, Any], settings: tuple[str, ...], rate: int
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


def score_clip(worker: Worker, job: ClipJob) -> Records:
    """Put one clip through the worker's codec at every setting and score it; returns one record per setting (with
    ``_codes`` attached for codecs whose codes nest). A codec failure becomes the records' ``error``."""
    codec = worker.codec
    assert codec is not None, "codec mode: the worker holds the codec"
    clip = job.clip
    sr = job.score_rate or codec.sample_rate
    described = {name: codec.setting(name) for name in job.settings}
    base = {"clip": clip["id"], "language": clip.get("language"), "domain": clip.get("domain")}
    heads = {n: {**base, "n_q": d.n_q, "setting": n, "bitrate_bps": d.nominal_bps} for n, d in described.items()}
    try:
        ref, wave, trips, decoded = reconstruct(codec, clip, job.settings, sr)
    except AudioReadError as exc:
        return [{**heads[n], "error": str(exc), "metrics": {}, "errors": {}} for n in job.settings]
    except Exception as exc:  # noqa: BLE001 - any library error on one clip is that clip's failure, not the run's
        reason = f"codec failed: {type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        return [{**heads[n], "error": reason, "metrics": {}, "errors": {}} for n in job.settings]
    fields = {"text": clip.get("text"), "language": clip.get("language"), "domain": clip.get("domain")}
    delays = dict(zip(job.settings, job.delays))
    records = []
    for name in job.settings:
        record = {
            **heads[name],
            "measured_bitrate_bps": round(trips[name].measured_bps(wave.size, codec.sample_rate), 3),
            "codec_sample_rate": codec.sample_rate,
            "sample_rate": sr,
            "duration_s": round(ref.size / sr, 4),
            **worker.scorer.score(clip["id"], ref, decoded[name], sr, fields, delay=delays.get(name, 0),
                                  n_q=described[name].n_q),
        }
        if worker.settings.save_audio:
            record["_audio"] = decoded[name]
        records.append(record)
    _attach_codes(codec, described, trips, records)
    return records


def _attach_codes(codec: Codec, described: dict[str, Setting], trips: dict[str, Any], records: Records) -> None:
    """The widest setting's codes on the first record, for codecs whose codes nest (usage.json lives in
    OUT/<n_q>/ and is rebuilt from them)."""
    if not records or codec.kind != "native" or not codec.codebook_size:
        return
    widest = max(described, key=lambda n: described[n].n_q or 0)
    codes = trips[widest].codes
    if codes is not None:
        records[0]["_codes"] = codes.astype(np.uint16 if codec.codebook_size <= 65536 else np.uint32)


# ------------------------------------------------------------------------------------------------ delays
def codec_delays(
    codec: Codec,
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

    fixed = fixed_delay(settings, rate)
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
        result.update(_calibrate(codec, clips, todo, settings, rate))
    return result


def _calibrate(codec: Codec, clips: list[dict[str, Any]], names: list[str], settings: EvalSettings,
               rate: int) -> dict[str, CodecDelay]:
    """Calibrated delays of ``names`` over a spread of ``clips`` (an unreadable clip or a codec failure is left
    out)."""
    pairs: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {n: [] for n in names}
    for index in calibration_subset(len(clips), settings.calibration_clips):
        try:
            ref, _, _, decoded = reconstruct(codec, clips[index], tuple(names), rate)
        except Exception:  # noqa: BLE001 - an unreadable clip or a codec failure: calibrate on the others
            continue
        for n in names:
            pairs[n].append((ref, decoded[n]))
    delays = {n: calibrate_delay(pairs[n], rate, settings.delay_settings()) for n in names}
    for n, found in delays.items():
        warning = too_few_warning(f"codec {codec.name} at {n}", found)
        if warning:
            print(warning, file=sys.stderr)
    return delays


# ----------------------------------------------------------------------------------------------- the run
def codec_meta(codec: Codec, chosen: list[Setting]) -> dict[str, Any]:
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


def chosen_settings(codec: Codec, n_qs: list[int] | list[str] | None) -> list[Setting]:
    """The settings to score, by number of codebooks then bitrate: ``n_qs`` (numbers of codebooks or setting
    names), else the ones the codec's name selects, else all it offers."""
    wanted = [str(n) for n in n_qs] if n_qs else codec.default_settings()
    if not wanted:
        raise CodecStudyError("give at least one --n-q")
    if codec.kind == "native":
        bad = [n for n in wanted if not n.isdigit() or not 1 <= int(n) <= len(codec.settings())]
        if bad:
            raise CodecStudyError(f"--n-q {bad} out of range 1..{len(codec.settings())} for codec {codec.name}")
    return sorted({codec.setting(n) for n in wanted}, key=lambda s: (s.n_q or 0, s.nominal_bps or 0, s.name))


@dataclass
class CodecRun(ScoringMode):
    """Codec mode's part of a run: one folder per setting, the codec's delays, one job per clip not yet done."""

    out: Path
    meta: dict[str, Any]
    source: str
    codec: Codec
    chosen: list[Setting]
    clips: list[Clip]  # this shard's
    calibration_clips: list[dict[str, Any]]  # the whole set's: every shard calibrates on the same clips
    settings: EvalSettings
    sample_rate: int | None
    job_function: Callable[[Worker, ClipJob], Records]

    def __post_init__(self) -> None:
        self.names = [s.name for s in self.chosen]
        self.folders = {n: self.out / n for n in self.names}
        self.delay_key = delay_key(self.settings, self.codec.identity())
        self.setup = WorkerSetup(self.source, self.settings, self.settings.torch_threads())
        self.common = {"condition": self.meta["condition"], "set": self.meta["set"],
                       "codec_identity": self.codec.identity()[:16]}

    def delays(self, stored: dict[str, CodecDelay]) -> dict[str, CodecDelay]:
        rate = self.sample_rate or self.codec.sample_rate
        return codec_delays(self.codec, self.calibration_clips, self.names, self.settings, stored, rate)

    def jobs(self, delays: dict[str, CodecDelay]) -> tuple[list[ClipJob], int]:
        done = {n: done_clips(self.folders[n], self.settings.part) for n in self.names}
        jobs = []
        for clip in self.clips:
            todo = tuple(n for n in self.names if clip.id not in done[n])
            if todo:
                jobs.append(ClipJob(clip.to_json(), todo, self.sample_rate, tuple(delays[n].samples for n in todo)))
        return jobs, len(self.clips) - len(jobs)

    def work(self) -> Callable[[Worker, ClipJob], Records]:
        return self.job_function

    def setting_of(self, record: dict[str, Any]) -> str:
        return record["setting"]

    def line(self, record: dict[str, Any]) -> dict[str, Any]:
        return {**self.common, **record}

    def finish(self) -> None:
        if self.codec.kind == "native" and self.codec.codebook_size:
            for s in self.chosen:
                write_usage(self.out, int(s.n_q or 0), self.codec.codebook_size, float(self.codec.frame_rate or 0.0),
                            self.settings.part)


def _condition_name(codec: str) -> str:
    """``runs/x/ckpt.pt`` -> ``ckpt``; ``opus:6kbps`` -> ``opus-6kbps``."""
    return Path(codec).stem if Path(codec).is_file() else str(codec).replace(":", "-").replace("/", "_")


def _set_name(manifest: Path) -> str:
    """``eval_sets/speech-en.jsonl`` -> ``speech-en``; ``corpus/manifest.jsonl`` -> ``corpus``."""
    return manifest.parent.name if manifest.name == "manifest.jsonl" else manifest.stem


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
    check_available(settings.scored_specs())
    opened = open_codec(codec)
    chosen = chosen_settings(opened, n_qs)
    mpath = manifest_path(manifest)
    clips = load_manifest(mpath)[:limit] if limit is not None else load_manifest(mpath)
    shard = settings.shard
    mine = [c for i, c in enumerate(clips) if i % shard[1] == shard[0]]
    meta = base_meta("codec", settings)
    meta.update(
        condition=name or _condition_name(codec),
        set=set_name if set_name is not None else _set_name(mpath),
        set_path=str(mpath),
        set_sha256=hashlib.sha256(mpath.read_bytes()).hexdigest(),
        n_clips=len(mine),
        n_q=sorted(s.n_q for s in chosen) if all(s.n_q for s in chosen) else None,
        settings=[s.name for s in chosen],
        codec_source=str(codec),
        codec_identity=opened.identity(),
        codec=codec_meta(opened, chosen),
        sample_rate=sample_rate or opened.sample_rate,
        shard=list(shard),
    )
    mode = CodecRun(Path(out), meta, str(codec), opened, chosen, mine, [c.to_json() for c in clips], settings,
                    sample_rate, score_clip)
    return run_evaluation(mode, settings, force=force, progress=progress)
