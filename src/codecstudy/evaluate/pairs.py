"""Pairs mode (``codecstudy evaluate --pairs REF_DIR DEC_DIR``): decoded files from any codec, matched to their
references by relative path, scored like codec mode into ``OUT/results.jsonl`` (resumable, shardable, one delay
for the whole folder)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from codecstudy import audio
from codecstudy.corpus.manifest import load_manifest
from codecstudy.corpus.records import Clip
from codecstudy.errors import AudioReadError, CodecStudyError
from codecstudy.evaluate.delay import (
    CALIBRATION,
    OFF,
    CodecDelay,
    calibrate_delay,
    calibration_subset,
    too_few_warning,
)
from codecstudy.evaluate.dependencies import check_available
from codecstudy.evaluate.outputs import RunSummary, ScoringMode, base_meta, done_clips, run_evaluation
from codecstudy.evaluate.pool import Records, Worker, WorkerSetup
from codecstudy.evaluate.settings import EvalSettings, delay_key, fixed_delay

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".opus", ".aiff", ".aif")
ALL = "all"  # the one "setting" of a decoded folder: its delay's key in delay.json and meta.json


@dataclass(frozen=True)
class PairJob:
    key: str
    ref_path: str
    dec_path: str
    sample_rate: int | None
    fields: dict[str, Any]
    delay_s: float = 0.0  # the output folder's delay, in seconds (each pair is scored at its own rate)


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


def read_pair(job: PairJob) -> tuple[np.ndarray, np.ndarray, int]:
    """Both sides of a pair at the job's rate (default: the reference's); raises AudioReadError."""
    ref, ref_rate = audio.read(job.ref_path)
    est, est_rate = audio.read(job.dec_path)
    rate = job.sample_rate or ref_rate
    return audio.resample(ref, ref_rate, rate), audio.resample(est, est_rate, rate), rate


def score_pair(worker: Worker, job: PairJob) -> Records:
    """Read, resample and score one (reference, decoded) file pair; a read error becomes the line's ``error``."""
    try:
        ref, est, rate = read_pair(job)
    except AudioReadError as exc:
        return [{"clip": job.key, "error": str(exc), "metrics": {}, "errors": {}}]
    record = worker.scorer.score(job.key, ref, est, rate, job.fields, delay=int(round(job.delay_s * rate)))
    return [{"clip": job.key, "sample_rate": rate, "duration_s": round(ref.size / rate, 4), **record}]


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
    fixed = fixed_delay(settings, sample_rate)
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
            ref, est, this_rate = read_pair(PairJob(key, str(ref_path), str(dec_path), rate, {}))
        except AudioReadError:
            continue
        rate = rate or this_rate
        found.append((ref, est))
    if rate is None:
        return CodecDelay(0, CALIBRATION, "no readable pairs: not shifted")
    delay = calibrate_delay(found, rate, settings.delay_settings())
    warning = too_few_warning("pairs", delay)
    if warning:
        print(warning, file=sys.stderr)
    return delay


@dataclass
class PairsRun(ScoringMode):
    """Pairs mode's part of a run: one folder (OUT), one delay, one job per pair not yet scored."""

    out: Path
    meta: dict[str, Any]
    pairs: list[tuple[str, Path, Path]]  # this shard's
    calibration_pairs: list[tuple[str, Path, Path]]  # all of them: every shard calibrates on the same pairs
    clips: dict[str, Clip]  # manifest lines by id (text, language, domain), when a manifest is given
    settings: EvalSettings
    sample_rate: int | None
    job_function: Callable[[Worker, PairJob], Records]
    count_clip_failures: bool = False  # as before: pairs mode counts metric failures only

    def __post_init__(self) -> None:
        self.folders = {ALL: self.out}
        self.delay_key = delay_key(self.settings, self.meta["decoded_dir"])
        self.setup = WorkerSetup(None, self.settings, self.settings.torch_threads())
        self.common = {"condition": self.meta["condition"], "set": self.meta["set"], "n_q": None}

    def delays(self, stored: dict[str, CodecDelay]) -> dict[str, CodecDelay]:
        return {ALL: folder_delay(self.calibration_pairs, self.sample_rate, self.settings, stored.get(ALL))}

    def jobs(self, delays: dict[str, CodecDelay]) -> tuple[list[PairJob], int]:
        done = done_clips(self.out, self.settings.part)
        jobs = []
        for key, ref_path, dec_path in self.pairs:
            if key in done:
                continue
            clip = self.clips.get(key)
            info = {"text": clip.text, "language": clip.language, "domain": clip.domain} if clip else {}
            jobs.append(PairJob(key, str(ref_path), str(dec_path), self.sample_rate, info, delay_seconds(delays[ALL])))
        return jobs, len(self.pairs) - len(jobs)

    def work(self) -> Callable[[Worker, PairJob], Records]:
        return self.job_function

    def setting_of(self, record: dict[str, Any]) -> str:
        return ALL

    def line(self, record: dict[str, Any]) -> dict[str, Any]:
        clip = self.clips.get(record["clip"])
        extra = {"language": clip.language, "domain": clip.domain} if clip else {"language": None, "domain": None}
        return {**self.common, **extra, **record}


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
    check_available(settings.scored_specs())
    ref_dir, dec_dir = Path(ref_dir), Path(dec_dir)
    for folder in (ref_dir, dec_dir):
        if not folder.is_dir():
            raise CodecStudyError(f"{folder}: not a folder")
    pairs, unmatched = match_pairs(ref_dir, dec_dir)
    if not pairs:
        raise CodecStudyError(f"no decoded file in {dec_dir} has a reference with the same relative path in {ref_dir}")
    shard = settings.shard
    mine = [p for i, p in enumerate(pairs) if i % shard[1] == shard[0]]
    clips = {c.id: c for c in load_manifest(manifest)} if manifest else {}
    meta = base_meta("pairs", settings)
    meta.update(
        condition=name or dec_dir.name,
        set=ref_dir.name,
        reference_dir=str(ref_dir.resolve()),
        decoded_dir=str(dec_dir.resolve()),
        n_pairs=len(mine),
        unmatched=unmatched,
        sample_rate=sample_rate,
        shard=list(shard),
    )
    mode = PairsRun(Path(out), meta, mine, pairs, clips, settings, sample_rate, score_pair)
    return run_evaluation(mode, settings, force=force, progress=progress)
