"""TTS evaluation: per clip of an evaluation manifest and per system, ASR WER/CER, DNSMOS and speaker similarity.

Systems (the rows of the paper's Table 3, plus two references that make the numbers readable):

* ``reference``: the recorded clip itself. Its WER is the floor the ASR allows on this material (Asterisk
  prompts and the small offline Whisper are far from LJSpeech and Whisper-large).
* ``codec``: the clip's ground-truth tokens decoded by the codec (``n_q`` codebooks): the codec alone, the upper
  bound of any TTS that predicts these tokens.
* ``tts``: the TTS output for the clip's transcript (the clip's speaker when the model knows it).
* ``mel``: the clip's ground-truth log-mel inverted with Griffin-Lim, a vocoder-free continuous-feature
  reference (optional, needs librosa; the paper's HiFi-GAN rows need a trained vocoder, which the toolkit does
  not have).

Metrics reuse :mod:`codecstudy.evaluate.metrics.models` (the evaluation suite's offline Whisper, DNSMOS and
resemblyzer); a metric that fails on a clip records its error, never a 0. Results are appended to
``results.jsonl`` one line per (clip, system), so a killed evaluation resumes; the table is derived from them.
WER per language is the corpus WER (total errors / total reference words).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from codecstudy import audio
from codecstudy.corpus.manifest import load_manifest
from codecstudy.corpus.records import Clip
from codecstudy.files import write_json_atomic
from codecstudy.jsonl import JsonlAppender, read_jsonl
from codecstudy.tts.bundle import TTSBundle
from codecstudy.tts.data import load_wave, speaker_name, usable
from codecstudy.tts.synthesize import synthesize

SYSTEMS = ("reference", "codec", "tts", "mel")
METRICS = ("asr", "dnsmos", "spk")
RESULTS_FILE = "results.jsonl"


def asr_model_for(language: str, model: str | None) -> str:
    """The evaluation suite's ASR per language: ``tiny.en`` for English, multilingual ``base`` otherwise."""
    if model:
        return model
    return "tiny.en" if language == "en" else "base"


def score(
    ref: np.ndarray,
    est: np.ndarray,
    sr: int,
    text: str,
    language: str,
    metrics: Sequence[str] = METRICS,
    asr_model: str | None = None,
    with_speaker: bool = True,
) -> dict[str, Any]:
    """Metric values of one estimate; failures go to ``errors`` (metric -> message)."""
    from codecstudy.evaluate.base import MetricError
    from codecstudy.evaluate.metrics import models

    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for metric in metrics:
        try:
            if metric == "asr":
                model = asr_model_for(language, asr_model)
                values.update(models.asr_errors(ref, est, sr, text=text, language=language, model=model))
            elif metric == "dnsmos":
                values.update(models.dnsmos(ref, est, sr))
            elif metric == "spk" and with_speaker:
                values.update(models.speaker_similarity(ref, est, sr))
        except MetricError as exc:
            errors[metric] = str(exc)
    return {"values": values, "errors": errors}


def griffin_lim_from_mel(wave: np.ndarray, sr: int, hop: int, n_mels: int = 80, iterations: int = 32) -> np.ndarray:
    """Ground-truth log-mel -> Griffin-Lim waveform (librosa); a continuous-feature reference without a vocoder."""
    from codecstudy.evaluate.base import require

    librosa = require("librosa", "librosa")
    n_fft = 4 * hop
    mel = librosa.feature.melspectrogram(y=wave, sr=sr, n_fft=n_fft, hop_length=hop, n_mels=n_mels, power=1.0)
    magnitude = librosa.feature.inverse.mel_to_stft(mel, sr=sr, n_fft=n_fft, power=1.0)
    out = librosa.griffinlim(magnitude, n_iter=iterations, hop_length=hop, n_fft=n_fft, random_state=0)
    return audio.crop(out.astype(np.float32), 0, wave.shape[0])


def _safe(clip_id: str) -> str:
    return re.sub(r"[^\w.-]+", "_", clip_id)[-120:]


def eval_clips(data: str | Path | Sequence[Clip], bundle: TTSBundle, max_clips: int | None = None) -> list[Clip]:
    """The evaluation clips the model can speak: transcribed speech in one of its languages, spread evenly."""
    clips = load_manifest(data) if isinstance(data, (str, Path)) else list(data)
    clips = [c for c in clips if usable(c) and c.language in bundle.languages]
    clips.sort(key=lambda c: c.id)
    if max_clips is not None and len(clips) > max_clips:
        index = np.linspace(0, len(clips) - 1, max_clips).round().astype(int)
        clips = [clips[i] for i in sorted(set(index.tolist()))]
    return clips


def evaluate_tts(
    bundle: TTSBundle,
    data: str | Path | Sequence[Clip],
    out_dir: str | Path,
    systems: Sequence[str] = ("reference", "codec", "tts"),
    metrics: Sequence[str] = METRICS,
    max_clips: int | None = None,
    asr_model: str | None = None,
    save_audio: bool = True,
    progress: Any = None,
) -> list[dict[str, Any]]:
    """Score every (clip, system) not yet in ``OUT/results.jsonl``; returns all rows (old and new)."""
    unknown = set(systems) - set(SYSTEMS)
    if unknown:
        from codecstudy.errors import CodecStudyError

        raise CodecStudyError(f"unknown TTS evaluation systems {sorted(unknown)} (known: {', '.join(SYSTEMS)})")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results = out / RESULTS_FILE
    done = {(r["clip"], r["system"]) for r in read_jsonl(results)}
    codec = bundle.codec
    sr = codec.sample_rate
    n_q = bundle.model.n_q
    clips = eval_clips(data, bundle, max_clips)
    with JsonlAppender(results) as sink:
        for clip in progress(clips) if progress else clips:
            todo = [s for s in systems if (clip.id, s) not in done]
            if not todo:
                continue
            ref = load_wave(clip, sr)
            speaker = speaker_name(clip)
            for system in todo:
                extra: dict[str, Any] = {}
                if system == "reference":
                    est = ref
                elif system == "codec":
                    codes = codec.encode(torch.from_numpy(ref).view(1, 1, -1), n_q=n_q)
                    est = codec.decode(codes, lengths=[ref.shape[0]])[0, 0].numpy()
                elif system == "mel":
                    est = griffin_lim_from_mel(ref, sr, codec.hop_length, bundle.config.n_mels)
                else:
                    known = speaker if speaker in bundle.speakers else None
                    synth = synthesize(bundle, str(clip.text), str(clip.language), known)
                    est = synth.wave
                    extra = {"frames": int(synth.codes.shape[-1]), "speaker_known": speaker in bundle.speakers}
                text, language = str(clip.text), str(clip.language)
                scored = score(ref, est, sr, text, language, metrics, asr_model, system != "reference")
                row = {
                    "clip": clip.id,
                    "system": system,
                    "language": clip.language,
                    "speaker": speaker,
                    "text": clip.text,
                    "seconds": round(est.shape[0] / sr, 3),
                    "ref_seconds": round(ref.shape[0] / sr, 3),
                    **extra,
                    **scored["values"],
                    "errors": scored["errors"],
                }
                if save_audio:
                    path = out / "audio" / system / f"{_safe(clip.id)}.wav"
                    audio.write(path, np.clip(est, -1, 1), sr)
                    row["audio"] = str(path.relative_to(out))
                sink.write(row)
    rows = list(read_jsonl(results))
    write_tables(rows, out)
    return rows


def summarize(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (system, language): clips, corpus WER/CER, mean DNSMOS OVRL, mean speaker similarity."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[(row["system"], str(row["language"]))].append(row)
    order = {s: i for i, s in enumerate(SYSTEMS)}
    table = []
    for (system, language), items in sorted(groups.items(), key=lambda kv: (kv[0][1], order.get(kv[0][0], 99))):
        def total(key: str) -> float:
            return float(sum(r.get(key, 0.0) for r in items if key in r))

        def mean(key: str) -> float:
            vals = [float(r[key]) for r in items if key in r]
            return float(np.mean(vals)) if vals else math.nan

        words, chars = total("wer_words"), total("cer_chars")
        table.append(
            {
                "system": system,
                "language": language,
                "clips": len(items),
                "wer": total("wer_errors") / words if words else math.nan,
                "cer": total("cer_errors") / chars if chars else math.nan,
                "dnsmos_ovrl": mean("dnsmos_ovrl"),
                "spk_sim": mean("spk_sim"),
                "seconds_ratio": float(np.mean([r["seconds"] / max(r["ref_seconds"], 1e-6) for r in items])),
                "failures": sum(1 for r in items if r.get("errors")),
            }
        )
    return table


def format_table(table: Sequence[dict[str, Any]]) -> str:
    """Markdown table of :func:`summarize` rows."""
    head = "| language | system | clips | WER | CER | DNSMOS OVRL | SPK-SIM | length / ref | failed |"
    lines = [head, "|---|---|---:|---:|---:|---:|---:|---:|---:|"]

    def f(x: float, digits: int = 3) -> str:
        return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"

    for r in table:
        lines.append(
            f"| {r['language']} | {r['system']} | {r['clips']} | {f(r['wer'])} | {f(r['cer'])} | "
            f"{f(r['dnsmos_ovrl'], 2)} | {f(r['spk_sim'])} | {f(r['seconds_ratio'], 2)} | {r['failures']} |"
        )
    return "\n".join(lines)


def write_tables(rows: Sequence[dict[str, Any]], out_dir: Path) -> list[dict[str, Any]]:
    """``table.md``, ``table.csv`` and ``summary.json`` from the per-clip rows."""
    import csv

    table = summarize(rows)
    (out_dir / "table.md").write_text(format_table(table) + "\n", encoding="utf-8")
    with open(out_dir / "table.csv", "w", newline="", encoding="utf-8") as handle:
        if table:
            writer = csv.DictWriter(handle, fieldnames=list(table[0]))
            writer.writeheader()
            writer.writerows(table)
    write_json_atomic(out_dir / "summary.json", table)
    return table
