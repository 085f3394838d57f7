"""Audio for the report's players: a few clips per evaluation set, the reference and every codec's decoding.

Clips are picked evenly over each set's sorted ids (so a multi-language set shows several languages), written
as 16-bit WAV at the codec's rate under ``report/audio/<set>/``, and listed in ``report/audio/samples.json``.
Existing files are kept, so re-building the report does not decode again.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path

from codecstudy.files import write_json_atomic
from codecstudy.jsonl import read_jsonl


@dataclass
class Sample:
    """One player row: a clip of a set and the relative paths (from the report folder) of its WAVs."""

    set: str
    clip: str
    language: str | None
    domain: str
    reference: str
    decoded: dict[str, str]


def pick_evenly(ids: list[str], count: int) -> list[str]:
    """``count`` ids spread evenly over the sorted list (all of them when there are fewer)."""
    ordered = sorted(ids)
    if count <= 0 or not ordered:
        return []
    if len(ordered) <= count:
        return ordered
    step = len(ordered) / count
    return [ordered[int(i * step)] for i in range(count)]


def _file_stem(clip_id: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in clip_id)[:48]
    return f"{safe}-{hashlib.sha1(clip_id.encode()).hexdigest()[:8]}"


def write_samples(
    report_dir: Path,
    eval_sets: dict[str, Path],
    codecs: dict[str, Path | str],
    n_q: int,
    clips_per_set: int,
    max_seconds: float = 10.0,
    settings: dict[str, str] | None = None,
) -> list[Sample]:
    """Decode the chosen clips with every codec (any name :func:`open_codec` takes) at ``n_q`` codebooks, or at
    the setting ``settings`` names for it (baselines); returns the player rows."""
    import numpy as np

    from codecstudy import audio
    from codecstudy.codec.catalog import open_codec
    from codecstudy.codec.roundtrip import report_setting, roundtrip

    models = {name: open_codec(str(source)) for name, source in codecs.items()}
    chosen = {name: report_setting(codec, n_q, (settings or {}).get(name)) for name, codec in models.items()}
    samples: list[Sample] = []
    for set_name, manifest in eval_sets.items():
        clips = {r["id"]: r for r in read_jsonl(manifest)}
        for clip_id in pick_evenly(list(clips), clips_per_set):
            clip = clips[clip_id]
            stem = _file_stem(clip_id)
            folder = report_dir / "audio" / set_name
            duration = min(float(clip.get("duration") or max_seconds), max_seconds)
            ref_rel = f"audio/{set_name}/{stem}-reference.wav"
            decoded: dict[str, str] = {}
            wave_cache: dict[int, np.ndarray] = {}
            samples_at_rate, rate = None, None
            for name, model in models.items():
                rel = f"audio/{set_name}/{stem}-{name}.wav"
                decoded[name] = rel
                if (report_dir / rel).is_file() and (report_dir / ref_rel).is_file():
                    continue
                if samples_at_rate is None:
                    samples_at_rate, rate = audio.read(clip["path"], clip.get("start") or 0.0, duration)
                sr = model.sample_rate
                if sr not in wave_cache:
                    wave_cache[sr] = audio.resample(samples_at_rate, rate, sr)
                ref = wave_cache[sr]
                est = roundtrip(model, ref, chosen[name])
                folder.mkdir(parents=True, exist_ok=True)
                audio.write(report_dir / rel, np.clip(est, -1.0, 1.0), sr, subtype="PCM_16")
                if not (report_dir / ref_rel).is_file():
                    audio.write(report_dir / ref_rel, np.clip(ref, -1.0, 1.0), sr, subtype="PCM_16")
            samples.append(Sample(set_name, clip_id, clip.get("language"), clip.get("domain", ""), ref_rel, decoded))
    write_json_atomic(report_dir / "audio" / "samples.json", [asdict(s) for s in samples])
    return samples


def copy_tts_samples(report_dir: Path, tts_evals: dict[str, Path], clips: int) -> list[Sample]:
    """The TTS players: for a few evaluated clips, the recording and every codec's TTS output (copied WAVs).

    ``tts_evals`` maps a codec to its ``tts/<codec>/eval`` folder; the clips are those every codec synthesised.
    """
    import shutil

    rows = {codec: {(r["clip"], r["system"]): r for r in read_jsonl(folder / "results.jsonl")}
            for codec, folder in tts_evals.items()}
    common = set.intersection(*({c for c, s in keys if s == "tts"} for keys in rows.values())) if rows else set()
    samples = []
    for clip in pick_evenly(sorted(common), clips):
        stem = _file_stem(clip)
        decoded, reference, language = {}, "", None
        for codec, by_key in rows.items():
            for system in ("reference", "tts"):
                row = by_key.get((clip, system))
                if row is None or "audio" not in row or (system == "reference" and reference):
                    continue
                rel = f"audio/tts/{codec if system == 'tts' else 'reference'}/{stem}.wav"
                (report_dir / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(tts_evals[codec] / row["audio"], report_dir / rel)
                language = row.get("language")
                if system == "tts":
                    decoded[codec] = rel
                else:
                    reference = rel
        samples.append(Sample("TTS", clip, language, "speech", reference, decoded))
    return samples
