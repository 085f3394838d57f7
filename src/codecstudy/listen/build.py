"""Build a listening test into a folder: stimuli (loudness-matched WAVs), ``trials.json`` and ``index.html``.

Per trial: the reference clip (cropped to ``max_seconds``), its hidden copy, the 3.5 kHz and 7 kHz anchors and
every codec's decoding at ``n_q`` codebooks, all at one sample rate (the highest codec rate) and brought to one
loudness (:mod:`codecstudy.listen.loudness`). File names are neutral hashes, so a listener who looks at the page's
source does not read the condition names off the audio paths.

A folder that already holds imported ratings (``ratings/``) is never rebuilt into a different test: the ratings
would no longer match its trial list, so the build stops and says so.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from codecstudy import __version__
from codecstudy.errors import CodecStudyError
from codecstudy.files import write_json_atomic, write_text_atomic
from codecstudy.listen import loudness
from codecstudy.listen.anchors import anchors
from codecstudy.listen.formats import FORMAT, VERSION, read_listening_test
from codecstudy.listen.trials import REFERENCE, Trial, trials_hash

TEST_FILE, PAGE_FILE, RATINGS_DIR = "trials.json", "index.html", "ratings"


@dataclass(frozen=True)
class ListenSettings:
    """How the stimuli are made (the study's ``listen:`` section, resolved)."""

    n_q: int
    seed: int = 0
    max_seconds: float = 8.0
    target_lufs: float = -23.0


def _neutral_name(seed: int, trial: str, condition: str) -> str:
    return hashlib.sha1(f"{seed}:{trial}:{condition}".encode()).hexdigest()[:12] + ".wav"


def _fit(samples: np.ndarray, length: int) -> np.ndarray:
    out = np.zeros(length, dtype=np.float32)
    out[: min(length, samples.size)] = samples[:length]
    return out


def make_stimuli(reference: np.ndarray, rate: int, decoded: dict[str, tuple[np.ndarray, int]],
                 out_rate: int) -> dict[str, np.ndarray]:
    """Every rated condition of a trial at ``out_rate`` and the reference's length (not yet loudness-matched)."""
    from codecstudy import audio

    ref = audio.resample(reference, rate, out_rate)
    stimuli = {REFERENCE: ref, **anchors(ref, out_rate)}
    for name, (samples, codec_rate) in decoded.items():
        stimuli[name] = _fit(audio.resample(samples, codec_rate, out_rate), ref.size)
    return stimuli


def match_loudness(stimuli: dict[str, np.ndarray], rate: int, target: float) -> tuple[dict[str, np.ndarray],
                                                                                         dict[str, Any]]:
    """The stimuli scaled to one loudness, and what was measured (LUFS before, the common level, gains in dB)."""
    names = list(stimuli)
    measured = [loudness.integrated_loudness(stimuli[n], rate) for n in names]
    peaks = [float(np.max(np.abs(stimuli[n]))) if stimuli[n].size else 0.0 for n in names]
    level, gains = loudness.matching_gains(measured, peaks, target)
    scaled = {n: np.clip(stimuli[n] * g, -1.0, 1.0).astype(np.float32) for n, g in zip(names, gains)}
    info = {
        "level_lufs": round(level, 2),
        "measured_lufs": {n: (round(m, 2) if np.isfinite(m) else None) for n, m in zip(names, measured)},
        "gain_db": {n: round(20.0 * float(np.log10(g)), 2) for n, g in zip(names, gains)},
    }
    return scaled, info


def build_test(
    out: Path,
    trials: list[Trial],
    clips: dict[str, dict[str, Any]],
    codecs: dict[str, Path | str],
    settings: ListenSettings,
    *,
    study: dict[str, str],
    base_css: str = "",
) -> Path:
    """Write the stimuli, ``trials.json`` and ``index.html`` into ``out``; returns the page's path.

    ``clips`` maps clip id -> manifest record (path, start, duration, language, domain); ``codecs`` maps the
    condition name of each codec to anything :func:`open_codec` opens (a checkpoint, ``opus:6kbps``); ``study``
    is ``{"name": ..., "hash": ...}``.
    """
    from codecstudy import audio
    from codecstudy.codec.catalog import open_codec
    from codecstudy.codec.roundtrip import report_setting, roundtrip
    from codecstudy.listen.page import render

    if not trials:
        raise CodecStudyError(f"{out}: no trials: the evaluation sets hold no clips to play")
    clash = sorted(set(codecs) & {REFERENCE, "anchor_3k5", "anchor_7k"})
    if clash:
        raise CodecStudyError(f"codec name {clash[0]!r} is reserved for the listening test's own conditions")
    models = {name: open_codec(str(source)) for name, source in codecs.items()}
    chosen = {name: report_setting(codec, settings.n_q) for name, codec in models.items()}
    out_rate = max((m.sample_rate for m in models.values()), default=16000)
    _check_ratings_kept(out, trials, study)
    audio_dir = out / "audio"
    if audio_dir.exists():
        shutil.rmtree(audio_dir)
    for trial in trials:
        clip = clips[trial.clip]
        duration = min(float(clip.get("duration") or settings.max_seconds), settings.max_seconds)
        samples, rate = audio.read(clip["path"], float(clip.get("start") or 0.0), duration)
        decoded = {}
        for name, model in models.items():
            ref = audio.resample(samples, rate, model.sample_rate)
            decoded[name] = (roundtrip(model, ref, chosen[name]), model.sample_rate)
        stimuli, trial.loudness = match_loudness(make_stimuli(samples, rate, decoded, out_rate), out_rate,
                                                 settings.target_lufs)
        trial.seconds = round(stimuli[REFERENCE].size / out_rate, 3)
        for name, wave in stimuli.items():
            rel = f"audio/{trial.id}/{_neutral_name(settings.seed, trial.id, name)}"
            audio.write(out / rel, wave, out_rate, subtype="PCM_16")
            trial.stimuli[name] = rel
        rel = f"audio/{trial.id}/{_neutral_name(settings.seed, trial.id, 'open-reference')}"
        shutil.copyfile(out / trial.stimuli[REFERENCE], out / rel)
        trial.reference = rel
    test = page_data(trials, study, settings)
    write_json_atomic(out / TEST_FILE, {
        **test,
        "codecs": {name: str(path) for name, path in codecs.items()},
        "sample_rate": out_rate,
        "loudness": {"measure": loudness.MEASURE, "target_lufs": settings.target_lufs,
                     "per_trial": {t.id: t.loudness for t in trials}},
        "max_seconds": settings.max_seconds,
    })
    return write_text_atomic(out / PAGE_FILE, render(test, base_css))


def page_data(trials: list[Trial], study: dict[str, str], settings: ListenSettings) -> dict[str, Any]:
    """What the page embeds and exports back: the test's identity and its public trial list."""
    public = [t.public() for t in trials]
    return {
        "format": FORMAT,
        "version": VERSION,
        "codecstudy": __version__,
        "study": dict(study),
        "seed": settings.seed,
        "n_q": settings.n_q,
        "trials_hash": trials_hash(public),
        "trials": public,
        "languages": sorted({t.language for t in trials if t.language}),
    }


def _check_ratings_kept(out: Path, trials: list[Trial], study: dict[str, str]) -> None:
    ratings = sorted((out / RATINGS_DIR).glob("*.json"))
    if not ratings:
        return
    old = read_listening_test(out / TEST_FILE)  # a damaged one cannot show that the ratings still fit: an error
    if old is None:
        return
    new_ids = [(t.id, t.set, t.clip) for t in trials]
    old_ids = [(t.id, t.set, t.clip) for t in old.trials]
    if old_ids != new_ids or old.study.model_dump() != study:
        raise CodecStudyError(
            f"{out}: holds {len(ratings)} imported ratings file(s) of another build of this test; building a "
            "different test there would orphan them: move the folder away (or build with --out elsewhere) first"
        )
