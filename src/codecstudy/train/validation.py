"""Validation during training: encode and decode whole held-out clips and score the reconstructions.

Scores, per clip and then averaged over clips (overall and per domain):

* ``mel_distance``: mean |log10 mel magnitude difference| (80 bands, Hann 1024, hop 256, floor 1e-5), the
  definition :func:`codecstudy.evaluate.metrics.spectral.mel_distance` uses, so training curves and evaluation
  tables speak of the same number; lower is better.
* ``si_snr``: scale-invariant SNR in dB (no mean removal, i.e. SI-SDR, as the evaluation's ``si_snr``).
* ``stoi`` / ``pesq`` (wide band): with the ``eval`` extra; left out with one warning without it.
* codebook use per codebook: perplexity (``2^entropy``: how many codes are effectively in use) and the fraction
  of codes used at all, over all validation frames, overall and per domain. Collapse shows here long before it
  shows in the losses.

Decoding goes through ``encode``/``decode`` (the inference path, codes as integers), so a validation number is
what a user of the checkpoint gets, not the training forward's straight-through reconstruction.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from codecstudy import audio
from codecstudy.codec.models.base import CodecModel
from codecstudy.codec.spectral import mel_spectrogram
from codecstudy.codec.training_config import ValidConfig
from codecstudy.train.data import AudioCache, CachedClip

MEL_SETTINGS = {"n_fft": 1024, "hop_length": 256, "n_mels": 80, "eps": 1e-5}
_warned: set[str] = set()


def _warn_once(key: str, text: str) -> None:
    if key not in _warned:
        _warned.add(key)
        warnings.warn(text, stacklevel=3)


def mel_distance(ref: np.ndarray, est: np.ndarray, sample_rate: int) -> float:
    eps = MEL_SETTINGS["eps"]
    pair = torch.from_numpy(np.stack([ref, est]).astype(np.float32))
    mels = mel_spectrogram(
        pair, sample_rate, MEL_SETTINGS["n_fft"], MEL_SETTINGS["hop_length"], n_mels=MEL_SETTINGS["n_mels"], power=1.0
    )
    logs = torch.log10(mels.clamp_min(eps))
    return float((logs[0] - logs[1]).abs().mean())


def si_snr(ref: np.ndarray, est: np.ndarray, clamp_db: float = 100.0) -> float:
    ref = ref.astype(np.float64)
    est = est.astype(np.float64)
    energy = float(np.dot(ref, ref))
    if energy == 0.0:
        return float("nan")
    target = (np.dot(est, ref) / energy) * ref
    noise = est - target
    t_energy, n_energy = float(np.dot(target, target)), float(np.dot(noise, noise))
    if n_energy == 0.0:
        return clamp_db
    if t_energy == 0.0:
        return -clamp_db
    return float(np.clip(10.0 * np.log10(t_energy / n_energy), -clamp_db, clamp_db))


def _stoi(ref: np.ndarray, est: np.ndarray, sample_rate: int) -> float | None:
    try:
        from pystoi import stoi  # optional package (the eval extra)
    except ImportError:
        _warn_once("stoi", "pystoi is not installed: validation without STOI (pip install 'codecstudy[eval]')")
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pystoi warns on clips with fewer than 30 frames of speech
        return float(stoi(ref, est, sample_rate, extended=False))


def _pesq(ref: np.ndarray, est: np.ndarray, sample_rate: int) -> float | None:
    try:
        from pesq import pesq  # optional package (the eval extra)
    except ImportError:
        _warn_once("pesq", "pesq is not installed: validation without PESQ (pip install 'codecstudy[eval]')")
        return None
    if sample_rate != 16000:
        ref, est = audio.resample(ref, sample_rate, 16000), audio.resample(est, sample_rate, 16000)
    try:
        return float(pesq(16000, ref, est, "wb"))
    except Exception:  # the pesq package raises on silence / too-short input; one clip must not stop training
        return None


@dataclass
class ValidationResult:
    """Averaged scores (``valid/...`` keys) and the first clips' audio for TensorBoard."""

    metrics: dict[str, float]
    samples: list[tuple[str, np.ndarray, np.ndarray]] = field(default_factory=list)  # (clip id, ref, recon)
    clips: int = 0


def _usage_stats(counts: np.ndarray, prefix: str) -> dict[str, float]:
    out: dict[str, float] = {}
    totals = counts.sum(axis=1, keepdims=True)
    probs = counts / np.maximum(totals, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -np.where(probs > 0, probs * np.log2(probs), 0.0).sum(axis=1)
    for k in range(counts.shape[0]):
        out[f"{prefix}perplexity/q{k}"] = float(2.0 ** entropy[k])
        out[f"{prefix}used/q{k}"] = float((counts[k] > 0).mean())
    out[f"{prefix}perplexity/mean"] = float(np.mean(2.0 ** entropy))
    return out


def load_validation_audio(entries: Sequence[CachedClip], config: ValidConfig, sample_rate: int) -> list[
    tuple[CachedClip, np.ndarray]
]:
    """Each clip's float audio, cut to ``config.max_seconds``."""
    limit = int(round(config.max_seconds * sample_rate))
    return [(e, AudioCache.load(e, 0, min(e.frames, limit))) for e in entries]


@torch.inference_mode()
def validate(
    model: CodecModel,
    clips: Sequence[tuple[CachedClip, np.ndarray]],
    config: ValidConfig,
    device: torch.device,
) -> ValidationResult:
    """Score ``model`` on the clips (see the module docstring); the model is left in the mode it came in."""
    was_training = model.training
    model.eval()
    rate = model.sample_rate
    n_q = config.n_q or model.n_codebooks
    n_q = min(n_q, model.n_codebooks)
    per_clip: list[tuple[str, dict[str, float]]] = []
    counts: dict[str, np.ndarray] = defaultdict(lambda: np.zeros((n_q, model.codebook_size), dtype=np.int64))
    samples: list[tuple[str, np.ndarray, np.ndarray]] = []
    order = sorted(range(len(clips)), key=lambda i: clips[i][1].shape[0])
    budget = int(config.batch_seconds * rate)
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        longest = clips[i][1].shape[0]  # sorted, so the newest is the longest
        if current and longest * (len(current) + 1) > budget:
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    recon_by_index: dict[int, np.ndarray] = {}
    for batch in batches:
        lengths = torch.tensor([clips[i][1].shape[0] for i in batch], dtype=torch.long)
        wave = torch.zeros(len(batch), 1, int(lengths.max()))
        for row, i in enumerate(batch):
            wave[row, 0, : lengths[row]] = torch.from_numpy(clips[i][1])
        wave, lengths_dev = wave.to(device), lengths.to(device)
        codes = model.encode(wave, lengths_dev, n_q=n_q)
        recon = model.decode(codes, lengths_dev).float().cpu()
        codes = codes.cpu().numpy()
        for row, i in enumerate(batch):
            entry = clips[i][0]
            frames = -(-int(lengths[row]) // model.hop_length)
            item_codes = codes[row, :, :frames]
            for key in ("all", entry.clip.domain):
                for k in range(n_q):
                    counts[key][k] += np.bincount(item_codes[k], minlength=model.codebook_size)
            recon_by_index[i] = recon[row, 0, : int(lengths[row])].numpy()
    for i, (entry, ref) in enumerate(clips):
        est = recon_by_index[i]
        scores = {"mel_distance": mel_distance(ref, est, rate), "si_snr": si_snr(ref, est)}
        if config.stoi:
            value = _stoi(ref, est, rate)
            if value is not None and np.isfinite(value):
                scores["stoi"] = value
        if config.pesq:
            value = _pesq(ref, est, rate)
            if value is not None:
                scores["pesq"] = value
        per_clip.append((entry.clip.domain, scores))
    for i in sorted(range(len(clips)), key=lambda j: clips[j][0].clip.id)[: config.audio_samples]:
        samples.append((clips[i][0].clip.id, clips[i][1], recon_by_index[i]))
    metrics: dict[str, float] = {}
    domains = sorted({d for d, _ in per_clip})
    for scope in ["all", *domains] if len(domains) > 1 else ["all"]:
        rows = [s for d, s in per_clip if scope == "all" or d == scope]
        prefix = "valid/" if scope == "all" else f"valid/{scope}/"
        for name in ("mel_distance", "si_snr", "stoi", "pesq"):
            values = [r[name] for r in rows if name in r and np.isfinite(r[name])]
            if values:
                metrics[f"{prefix}{name}"] = float(np.mean(values))
        metrics.update(_usage_stats(counts[scope], prefix + "usage/"))
    model.train(was_training)
    return ValidationResult(metrics=metrics, samples=samples, clips=len(clips))


def metric_key(name: str) -> str:
    return f"valid/{name}"


def better(name: str, new: float, old: float | None) -> bool:
    """Whether ``new`` beats ``old`` for a best-checkpoint metric (distances fall, the others rise)."""
    if old is None or not np.isfinite(old):
        return bool(np.isfinite(new))
    return new < old if name == "mel_distance" else new > old


def summarize(metrics: dict[str, Any]) -> str:
    keys = [k for k in ("valid/mel_distance", "valid/si_snr", "valid/stoi", "valid/pesq") if k in metrics]
    return ", ".join(f"{k.split('/')[-1]} {metrics[k]:.4g}" for k in keys)
