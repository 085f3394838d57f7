"""TTS training data: for each transcribed clip, its phoneme ids, the codec's tokens and frame-level acoustic
features (log-mel for the aligner, log-F0 with voicing and log-energy for the variance adaptor).

Everything is computed once and cached: the tokens depend on the codec (the cache file is keyed by its identity
hash), so training one TTS per codec on "the same transcribed clips" encodes each clip once per codec. The
acoustic features are counted in codec frames (hop = the codec's hop), so durations are in codec frames too.

F0 is a plain normalised-autocorrelation pitch tracker (pure numpy): the variance adaptor needs a smooth,
deterministic contour, not a reference-grade one, and this keeps the TTS free of the eval extra.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from codecstudy import audio
from codecstudy.corpus.records import Clip
from codecstudy.errors import CodecStudyError
from codecstudy.tts.frontend import SymbolTable, phonemize

if TYPE_CHECKING:
    from codecstudy.codec.models.base import CodecModel

CACHE_VERSION = 1
F0_MIN = 60.0
F0_MAX = 500.0
VOICING_THRESHOLD = 0.45


# ------------------------------------------------------------------------------------------ pure features
def _frames(wave: np.ndarray, hop: int, n_frames: int, window: int) -> np.ndarray:
    """Windows ``[n_frames, window]`` centred on ``t * hop + hop / 2`` (zero padded at the edges)."""
    pad = window
    padded = np.pad(wave.astype(np.float64), (pad, pad + n_frames * hop))
    centres = np.arange(n_frames) * hop + hop // 2 + pad
    index = centres[:, None] - window // 2 + np.arange(window)[None, :]
    return padded[index]


def pitch_track(wave: np.ndarray, sample_rate: int, hop: int, n_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """``(f0 Hz [T], voiced [T])`` by normalised autocorrelation over 40 ms Hann windows, one per codec frame.

    A frame is voiced when the best normalised autocorrelation peak in the 60..500 Hz lag range exceeds 0.45 and
    the frame is not near-silent; unvoiced frames get f0 0.
    """
    window = max(int(0.04 * sample_rate), 2 * int(sample_rate / F0_MIN) // 2)
    frames = _frames(wave, hop, n_frames, window) * np.hanning(window)[None, :]
    frames = frames - frames.mean(axis=1, keepdims=True)
    size = 1 << int(math.ceil(math.log2(2 * window)))
    spectrum = np.fft.rfft(frames, size, axis=1)
    corr = np.fft.irfft(np.abs(spectrum) ** 2, size, axis=1)[:, :window]
    # divide by the autocorrelation of the window so that long lags are not penalised
    window_corr = np.fft.irfft(np.abs(np.fft.rfft(np.hanning(window), size)) ** 2, size)[:window]
    energy = corr[:, :1]
    normalised = corr / np.maximum(energy, 1e-12) / np.maximum(window_corr / window_corr[0], 1e-3)
    low, high = int(sample_rate / F0_MAX), int(sample_rate / F0_MIN)
    lags = np.arange(low, min(high, window - 1))
    best = lags[np.argmax(normalised[:, lags], axis=1)]
    peak = normalised[np.arange(n_frames), best]
    loud = energy[:, 0] > (1e-4 * window)  # about -40 dBFS RMS
    voiced = (peak > VOICING_THRESHOLD) & loud
    f0 = np.where(voiced, sample_rate / best, 0.0)
    return f0.astype(np.float32), voiced


def frame_energy(wave: np.ndarray, hop: int, n_frames: int) -> np.ndarray:
    """Log RMS ``[T]`` over two-hop windows, floored at -100 dB so that silence stays finite."""
    frames = _frames(wave, hop, n_frames, 2 * hop)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    return np.log(np.maximum(rms, 1e-5)).astype(np.float32)


def log_mel_frames(wave: np.ndarray, sample_rate: int, hop: int, n_frames: int, n_mels: int) -> np.ndarray:
    """Log-mel ``[n_mels, T]`` with the codec's hop, cropped or padded to the codec's frame count."""
    from codecstudy.codec.spectral import log_mel

    n_fft = 1 << int(math.ceil(math.log2(4 * hop)))
    mel = log_mel(torch.from_numpy(wave.astype(np.float32))[None], sample_rate, n_fft, hop, n_mels=n_mels)[0]
    mel = mel[:, :n_frames]
    if mel.shape[1] < n_frames:
        mel = torch.nn.functional.pad(mel, (0, n_frames - mel.shape[1]), mode="replicate")
    return mel.numpy().astype(np.float32)


# ------------------------------------------------------------------------------------------------ items
@dataclass
class Item:
    """One training utterance."""

    clip_id: str
    language: str
    speaker: str
    text: str
    phonemes: list[str]
    codes: np.ndarray  # [n_q, T] int
    mel: np.ndarray  # [n_mels, T]
    f0: np.ndarray  # [T] Hz, 0 unvoiced
    energy: np.ndarray  # [T] log RMS
    n_samples: int

    @property
    def frames(self) -> int:
        return int(self.codes.shape[1])


def usable(clip: Clip, max_seconds: float | None = None) -> bool:
    """A clip the TTS can learn from: speech with a language and a non-empty transcript."""
    ok = clip.domain == "speech" and bool(clip.language) and bool(clip.text and clip.text.strip())
    return ok and (max_seconds is None or clip.duration <= max_seconds)


def speaker_name(clip: Clip) -> str:
    return clip.speaker or f"unknown:{clip.source}"


def load_wave(clip: Clip, sample_rate: int) -> np.ndarray:
    samples, rate = audio.read(clip.path, clip.start, clip.duration)
    return audio.resample(samples, rate, sample_rate).astype(np.float32)


def make_item(clip: Clip, codec: CodecModel, n_q: int, n_mels: int) -> Item:
    """Phonemes, tokens and features of one clip (the expensive part; cached by :func:`prepare_items`)."""
    wave = load_wave(clip, codec.sample_rate)
    codes = codec.encode(torch.from_numpy(wave).view(1, 1, -1), n_q=n_q)[0].numpy()
    frames = codes.shape[1]
    hop = codec.hop_length
    f0, _voiced = pitch_track(wave, codec.sample_rate, hop, frames)
    return Item(
        clip_id=clip.id,
        language=str(clip.language),
        speaker=speaker_name(clip),
        text=str(clip.text),
        phonemes=phonemize(str(clip.text), str(clip.language)),
        codes=codes.astype(np.int16 if codec.codebook_size <= 32767 else np.int32),
        mel=log_mel_frames(wave, codec.sample_rate, hop, frames, n_mels).astype(np.float16),
        f0=f0,
        energy=frame_energy(wave, hop, frames),
        n_samples=int(wave.shape[0]),
    )


def _cache_file(cache_dir: Path, clips: Sequence[Clip], codec: CodecModel, n_q: int, n_mels: int) -> Path:
    ident = json.dumps([CACHE_VERSION, codec.identity_hash(), n_q, n_mels, sorted(c.id for c in clips)])
    return cache_dir / f"tts-items-{hashlib.sha1(ident.encode()).hexdigest()[:16]}.pt"


def prepare_items(
    clips: Sequence[Clip], codec: CodecModel, n_q: int, n_mels: int, cache_dir: Path | None = None, progress=None
) -> list[Item]:
    """Items of ``clips`` (encoded once per codec and clip set; reused from ``cache_dir`` when present)."""
    cache = _cache_file(cache_dir, clips, codec, n_q, n_mels) if cache_dir else None
    if cache is not None and cache.is_file():
        data = torch.load(cache, weights_only=False)
        return [Item(**entry) for entry in data["items"]]
    items = []
    iterator = progress(clips) if progress else clips
    for clip in iterator:
        try:
            items.append(make_item(clip, codec, n_q, n_mels))
        except CodecStudyError as exc:
            print(f"tts data: skipped {clip.id}: {exc}")
    if cache is not None:
        from codecstudy.train.checkpoint import atomic_save

        atomic_save({"version": CACHE_VERSION, "items": [vars(item) for item in items]}, cache)
    return items


# ------------------------------------------------------------------------------------------------ stats
@dataclass
class FeatureStats:
    """Global normalisation of the acoustic features (saved with the model)."""

    mel_mean: list[float]
    mel_std: list[float]
    log_f0_mean: float
    log_f0_std: float
    energy_mean: float
    energy_std: float

    @classmethod
    def compute(cls, items: Sequence[Item]) -> FeatureStats:
        mel = np.concatenate([i.mel.astype(np.float32) for i in items], axis=1)
        f0 = np.concatenate([i.f0 for i in items])
        log_f0 = np.log(f0[f0 > 0]) if np.any(f0 > 0) else np.zeros(1)
        energy = np.concatenate([i.energy for i in items])
        return cls(
            mel_mean=mel.mean(axis=1).tolist(),
            mel_std=np.maximum(mel.std(axis=1), 1e-3).tolist(),
            log_f0_mean=float(log_f0.mean()),
            log_f0_std=float(max(log_f0.std(), 1e-3)),
            energy_mean=float(energy.mean()),
            energy_std=float(max(energy.std(), 1e-3)),
        )

    def to_json(self) -> dict[str, Any]:
        return dict(vars(self))


# ---------------------------------------------------------------------------------------------- batches
@dataclass
class Batch:
    ids: Tensor  # [B, N]
    text_lengths: Tensor
    codes: Tensor  # [B, n_q, T]
    mels: Tensor  # [B, n_mels, T]
    pitch: Tensor  # [B, T] normalised log f0 (0 where unvoiced)
    voiced: Tensor  # [B, T] float
    energy: Tensor  # [B, T] normalised
    frame_lengths: Tensor
    speakers: Tensor
    languages: Tensor


@dataclass
class Encoded:
    """An item turned into model inputs (ids against a symbol table, speaker/language indices)."""

    item: Item
    ids: list[int]
    speaker: int
    language: int


def encode_items(
    items: Sequence[Item], table: SymbolTable, speakers: list[str], languages: list[str]
) -> list[Encoded]:
    """Model inputs of items; items with more phonemes than frames (MAS needs one frame each) are dropped."""
    out = []
    for item in items:
        ids, _ = table.encode(item.phonemes, item.language)
        if len(ids) > item.frames:
            continue
        out.append(Encoded(item, ids, speakers.index(item.speaker), languages.index(item.language)))
    return out


def collate(batch: Sequence[Encoded], stats: FeatureStats) -> Batch:
    """Pad a list of encoded items into tensors (features normalised with ``stats``)."""
    n = max(len(e.ids) for e in batch)
    t = max(e.item.frames for e in batch)
    b = len(batch)
    n_q = batch[0].item.codes.shape[0]
    n_mels = batch[0].item.mel.shape[0]
    ids = torch.zeros(b, n, dtype=torch.long)
    codes = torch.zeros(b, n_q, t, dtype=torch.long)
    mels = torch.zeros(b, n_mels, t)
    pitch = torch.zeros(b, t)
    voiced = torch.zeros(b, t)
    energy = torch.zeros(b, t)
    mel_mean = torch.tensor(stats.mel_mean)[:, None]
    mel_std = torch.tensor(stats.mel_std)[:, None]
    for k, e in enumerate(batch):
        frames = e.item.frames
        ids[k, : len(e.ids)] = torch.tensor(e.ids)
        codes[k, :, :frames] = torch.from_numpy(e.item.codes.astype(np.int64))
        mels[k, :, :frames] = (torch.from_numpy(e.item.mel.astype(np.float32)) - mel_mean) / mel_std
        f0 = torch.from_numpy(e.item.f0)
        is_voiced = f0 > 0
        pitch[k, :frames] = torch.where(
            is_voiced, (torch.log(f0.clamp_min(1.0)) - stats.log_f0_mean) / stats.log_f0_std, torch.zeros_like(f0)
        )
        voiced[k, :frames] = is_voiced.float()
        energy[k, :frames] = (torch.from_numpy(e.item.energy) - stats.energy_mean) / stats.energy_std
    return Batch(
        ids=ids,
        text_lengths=torch.tensor([len(e.ids) for e in batch]),
        codes=codes,
        mels=mels,
        pitch=pitch,
        voiced=voiced,
        energy=energy,
        frame_lengths=torch.tensor([e.item.frames for e in batch]),
        speakers=torch.tensor([e.speaker for e in batch]),
        languages=torch.tensor([e.language for e in batch]),
    )


def make_batches(items: Sequence[Encoded], batch_frames: int, rng: np.random.Generator) -> list[list[Encoded]]:
    """Length-bucketed batches of at most ``batch_frames`` padded frames, in a shuffled order.

    Items are sorted by length with a little noise (so the buckets differ between epochs), cut into batches whose
    ``longest * count`` stays under the budget, and the batch order is shuffled.
    """
    keys = np.array([e.item.frames for e in items], dtype=np.float64) * rng.uniform(0.9, 1.1, len(items))
    order = np.argsort(keys)
    batches: list[list[Encoded]] = []
    current: list[Encoded] = []
    longest = 0
    for index in order:
        e = items[int(index)]
        new_longest = max(longest, e.item.frames)
        if current and new_longest * (len(current) + 1) > batch_frames:
            batches.append(current)
            current, new_longest = [], e.item.frames
        current.append(e)
        longest = new_longest
    if current:
        batches.append(current)
    rng.shuffle(batches)
    return batches
