"""Reference/degraded pairs for the metric tests: eSpeak speech and the usual degradations, all deterministic."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

RATE = 16000


@lru_cache(maxsize=8)
def speech(text: str = "the quick brown fox jumps over the lazy dog", rate: int = RATE) -> np.ndarray:
    """eSpeak NG speech at ``rate`` (float64, peak 0.5) with 0.2 s of low noise around it, so that no frame is
    digital silence (real recordings never are, and WORLD/PESQ behave differently on exact zeros)."""
    from codecstudy import audio
    from codecstudy.corpus.espeak import synthesize

    x, sr = synthesize(text, "en-us")
    x = audio.resample(x, sr, rate).astype(np.float64)
    x = 0.5 * x / np.max(np.abs(x))
    pad = np.zeros(int(0.2 * rate))
    x = np.concatenate([pad, x, pad])
    x += 1e-4 * np.random.default_rng(1).standard_normal(x.size)
    x.setflags(write=False)
    return x


def with_noise(x: np.ndarray, snr_db: float, seed: int = 0) -> np.ndarray:
    noise = np.random.default_rng(seed).standard_normal(x.size)
    noise *= np.sqrt(np.mean(x**2) / np.mean(noise**2)) * 10 ** (-snr_db / 20)
    return x + noise


def lowpass(x: np.ndarray, cutoff: float = 4000.0, rate: int = RATE) -> np.ndarray:
    from scipy.signal import butter, sosfilt

    return sosfilt(butter(8, cutoff, fs=rate, output="sos"), x)


def delayed(x: np.ndarray, samples: int) -> np.ndarray:
    """``x`` arriving ``samples`` late, same length (the tail is cut)."""
    return np.concatenate([np.zeros(samples), x[: x.size - samples]])


def degraded_pairs(x: np.ndarray) -> dict[str, np.ndarray]:
    return {
        "same": x.copy(),
        "noise20": with_noise(x, 20),
        "noise10": with_noise(x, 10),
        "noise0": with_noise(x, 0),
        "lp4k": lowpass(x),
        "delay5ms": delayed(x, 80),
    }


def voiced_tone(seconds: float = 1.5, rate: int = RATE, seed: int = 2) -> np.ndarray:
    """A deterministic voice-like signal without eSpeak: 30 harmonics of an F0 gliding 110-190 Hz under a 1/k
    spectral tilt, in three syllable-like bursts with a low noise floor (-60 dBFS) between them."""
    t = np.arange(int(seconds * rate)) / rate
    f0 = 150.0 + 40.0 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    x = sum(np.sin(k * phase) / k for k in range(1, 31) if k * 190.0 < rate / 2)
    envelope = np.clip(np.sin(2 * np.pi * t * 3 / seconds), 0.0, None) ** 0.5
    x = 0.3 * x * envelope / np.max(np.abs(x))
    return x + 1e-3 * np.random.default_rng(seed).standard_normal(t.size)


def padded(x: np.ndarray, gaps: list[tuple[int, int]], filler=np.zeros) -> np.ndarray:
    """``x`` with ``filler(n)`` inserted at each ``(position, n)``, applied in order (positions in the signal as
    it is when that gap is inserted)."""
    out = np.asarray(x)
    for position, n in gaps:
        out = np.concatenate([out[:position], filler(n), out[position:]])
    return out
