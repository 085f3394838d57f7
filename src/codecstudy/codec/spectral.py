"""Shared STFT and mel helpers in pure torch: the one place that turns waveforms into spectra.

Losses (multi-scale mel, multi-resolution STFT), spectral discriminators and the spectral metrics all go through
these functions so that a "mel spectrogram" means the same thing everywhere: a Hann-windowed, centred STFT and a
Slaney-style mel filterbank (librosa's default: Slaney mel scale, area-normalised triangles), which is what
ESPnet's ``LogMelFbank`` and DAC's ``audiotools`` build on. There is no torchaudio build for torch 2.13, so the
filterbank is computed here (float64 numpy, then cast) and cached per device and dtype, like the windows.

Waveforms may be ``[T]``, ``[B, T]`` or ``[B, C, T]``; leading dimensions are kept, so ``[B, 1, T]`` gives
``[B, 1, F, frames]``.
"""

from __future__ import annotations

import functools
import math
import threading

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "hann_window",
    "stft",
    "stft_magnitude",
    "hz_to_mel",
    "mel_to_hz",
    "mel_frequencies",
    "mel_filterbank",
    "mel_spectrogram",
    "log_mel",
    "safe_log",
]

_CACHE_LOCK = threading.Lock()
_WINDOWS: dict[tuple[int, str, torch.dtype], Tensor] = {}
_FILTERBANKS: dict[tuple[object, ...], Tensor] = {}


def hann_window(
    win_length: int, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32
) -> Tensor:
    """Periodic Hann window (torch/librosa STFT convention), cached per (length, device, dtype).

    Cached because every loss scale and every spectral sub-discriminator asks for its window on every step; the
    returned tensor is shared, so callers must not modify it in place.
    """
    device = torch.device(device) if device is not None else torch.device("cpu")
    key = (int(win_length), str(device), dtype)
    window = _WINDOWS.get(key)
    if window is None:
        window = torch.hann_window(int(win_length), periodic=True, dtype=dtype, device=device)
        with _CACHE_LOCK:
            _WINDOWS[key] = window
    return window


def stft(
    wave: Tensor,
    n_fft: int,
    hop_length: int,
    win_length: int | None = None,
    *,
    center: bool = True,
    pad_mode: str = "reflect",
    normalized: bool = False,
) -> Tensor:
    """Complex STFT ``[..., n_fft // 2 + 1, frames]`` of a waveform ``[..., T]`` with a Hann window.

    ``normalized`` divides by the window's L2 norm (torchaudio's ``Spectrogram(normalized=True)``, which
    EnCodec's MS-STFT discriminator uses), not by ``sqrt(n_fft)`` as ``torch.stft(normalized=True)`` would.

    Short inputs are handled instead of raising, because a test or a tiny crop may be shorter than the largest
    FFT of a multi-scale loss: with ``center`` the reflect padding falls back to zeros when the signal is not
    longer than ``n_fft // 2``; without ``center`` the signal is zero-padded on the right to one full window.
    """
    if wave.dim() == 0:
        raise ValueError("stft needs a waveform with a time axis, got a scalar")
    win_length = n_fft if win_length is None else int(win_length)
    if not 0 < win_length <= n_fft:
        raise ValueError(f"win_length must be in 1..n_fft ({n_fft}), got {win_length}")
    if hop_length < 1:
        raise ValueError(f"hop_length must be >= 1, got {hop_length}")
    lead = wave.shape[:-1]
    flat = wave.reshape(-1, wave.shape[-1])
    if flat.dtype in (torch.float16, torch.bfloat16) or not flat.is_floating_point():
        # FFTs of half precision are unsupported on CPU and lossy on GPU; spectra are always float32 or better.
        flat = flat.float()
    length = flat.shape[-1]
    if center and pad_mode == "reflect" and length <= n_fft // 2:
        pad_mode = "constant"
    if not center and length < n_fft:
        flat = torch.nn.functional.pad(flat, (0, n_fft - length))
    window = hann_window(win_length, flat.device, flat.dtype)
    spec = torch.stft(
        flat,
        n_fft=n_fft,
        hop_length=hop_length,
        win_length=win_length,
        window=window,
        center=center,
        pad_mode=pad_mode,
        normalized=False,
        onesided=True,
        return_complex=True,
    )
    if normalized:
        spec = spec / window.pow(2).sum().sqrt()
    return spec.reshape(*lead, spec.shape[-2], spec.shape[-1])


def stft_magnitude(
    wave: Tensor,
    n_fft: int,
    hop_length: int,
    win_length: int | None = None,
    *,
    power: float = 1.0,
    center: bool = True,
    eps: float = 1e-12,
) -> Tensor:
    """``|STFT|**power`` as a real tensor ``[..., F, frames]``.

    The squared magnitude is formed from real and imaginary parts directly; for ``power != 2`` it is clamped at
    ``eps`` before the root, because the gradient of ``sqrt`` at an exactly silent bin is infinite and would turn a
    whole training step into NaN (the ParallelWaveGAN STFT loss clamps the same way).
    """
    spec = stft(wave, n_fft, hop_length, win_length, center=center)
    power_spec = spec.real.square() + spec.imag.square()
    if power == 2.0:
        return power_spec
    return power_spec.clamp_min(eps).pow(power / 2.0)


# ----------------------------------------------------------------------------------------------------------------
# Mel scale and filterbank
# ----------------------------------------------------------------------------------------------------------------

_SLANEY_F_SP = 200.0 / 3.0  # Hz per mel below the break frequency
_SLANEY_MIN_LOG_HZ = 1000.0
_SLANEY_MIN_LOG_MEL = _SLANEY_MIN_LOG_HZ / _SLANEY_F_SP  # = 15 mels
_SLANEY_LOGSTEP = math.log(6.4) / 27.0  # log-spaced above 1 kHz: 27 mels per factor 6.4


def hz_to_mel(freqs: np.ndarray | float, htk: bool = False) -> np.ndarray:
    """Hz -> mel. Slaney (Auditory Toolbox) scale by default: linear to 1 kHz, logarithmic above; ``htk`` uses
    ``2595 log10(1 + f / 700)``."""
    f = np.asanyarray(freqs, dtype=np.float64)
    if htk:
        return 2595.0 * np.log10(1.0 + f / 700.0)
    mels = f / _SLANEY_F_SP
    log_region = f >= _SLANEY_MIN_LOG_HZ
    safe = np.where(log_region, f, _SLANEY_MIN_LOG_HZ)
    return np.where(log_region, _SLANEY_MIN_LOG_MEL + np.log(safe / _SLANEY_MIN_LOG_HZ) / _SLANEY_LOGSTEP, mels)


def mel_to_hz(mels: np.ndarray | float, htk: bool = False) -> np.ndarray:
    """Inverse of :func:`hz_to_mel`."""
    m = np.asanyarray(mels, dtype=np.float64)
    if htk:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    freqs = _SLANEY_F_SP * m
    log_region = m >= _SLANEY_MIN_LOG_MEL
    return np.where(log_region, _SLANEY_MIN_LOG_HZ * np.exp(_SLANEY_LOGSTEP * (m - _SLANEY_MIN_LOG_MEL)), freqs)


def mel_frequencies(n: int, fmin: float, fmax: float, htk: bool = False) -> np.ndarray:
    """``n`` frequencies (Hz) equally spaced on the mel scale from ``fmin`` to ``fmax`` inclusive."""
    return mel_to_hz(np.linspace(hz_to_mel(fmin, htk), hz_to_mel(fmax, htk), n), htk)


@functools.lru_cache(maxsize=128)
def _mel_filterbank_np(
    sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float, htk: bool, norm: str | None
) -> np.ndarray:
    bins = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    edges = mel_frequencies(n_mels + 2, fmin, fmax, htk)
    widths = np.diff(edges)
    # Distance of every FFT bin to every triangle corner; each filter rises from edges[i] to edges[i+1] and falls
    # to edges[i+2]. Taking the minimum of the two slopes and clipping at 0 gives the triangle.
    offsets = edges[:, None] - bins[None, :]
    rising = -offsets[:-2] / widths[:-1, None]
    falling = offsets[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    if norm == "slaney":
        # Area normalisation: each triangle integrates to the same value, so wide high-frequency filters do not
        # dominate the spectrum.
        weights *= (2.0 / (edges[2 : n_mels + 2] - edges[:n_mels]))[:, None]
    weights.setflags(write=False)
    return weights


def mel_filterbank(
    sample_rate: int,
    n_fft: int,
    n_mels: int,
    fmin: float = 0.0,
    fmax: float | None = None,
    *,
    htk: bool = False,
    norm: str | None = "slaney",
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """Mel filterbank ``[n_mels, n_fft // 2 + 1]``, equal to ``librosa.filters.mel`` with the same arguments.

    Computed in float64 and cached (numpy per shape, torch per device and dtype) because loss scales rebuild it on
    every call otherwise. With few FFT bins some high mel bands can be empty (all zero); like librosa we keep them
    rather than shrink ``n_mels``, since the log of the clamped zero is a constant and adds nothing to a loss.
    """
    if n_mels < 1 or n_fft < 2:
        raise ValueError(f"need n_mels >= 1 and n_fft >= 2, got n_mels={n_mels}, n_fft={n_fft}")
    fmax = sample_rate / 2.0 if fmax is None else float(fmax)
    if not 0.0 <= fmin < fmax:
        raise ValueError(f"need 0 <= fmin < fmax, got fmin={fmin}, fmax={fmax}")
    if norm not in ("slaney", None):
        raise ValueError(f"norm must be 'slaney' or None, got {norm!r}")
    device = torch.device(device) if device is not None else torch.device("cpu")
    key = (int(sample_rate), int(n_fft), int(n_mels), float(fmin), fmax, bool(htk), norm, str(device), dtype)
    bank = _FILTERBANKS.get(key)
    if bank is None:
        weights = _mel_filterbank_np(int(sample_rate), int(n_fft), int(n_mels), float(fmin), fmax, bool(htk), norm)
        bank = torch.tensor(weights, dtype=dtype, device=device)
        with _CACHE_LOCK:
            _FILTERBANKS[key] = bank
    return bank


def mel_spectrogram(
    wave: Tensor,
    sample_rate: int,
    n_fft: int,
    hop_length: int,
    win_length: int | None = None,
    n_mels: int = 80,
    fmin: float = 0.0,
    fmax: float | None = None,
    *,
    power: float = 1.0,
    center: bool = True,
) -> Tensor:
    """Mel spectrogram ``[..., n_mels, frames]`` of ``|STFT|**power``.

    ``power=1`` (magnitude) is DAC's and librosa-free ``audiotools``' choice; ``power=2`` (power spectrum) is
    ESPnet's ``LogMelFbank`` and librosa's default. Both exist in the references, so it is an argument.
    """
    spec = stft_magnitude(wave, n_fft, hop_length, win_length, power=power, center=center)
    bank = mel_filterbank(sample_rate, n_fft, n_mels, fmin, fmax, device=spec.device, dtype=spec.dtype)
    return torch.matmul(bank, spec)


def safe_log(x: Tensor, eps: float = 1e-5, log_base: float | None = None) -> Tensor:
    """``log(max(x, eps))`` in base e (``log_base=None``) or ``log_base``; the clamp keeps silence finite."""
    y = torch.log(x.clamp_min(eps))
    if log_base is not None:
        y = y / math.log(log_base)
    return y


def log_mel(
    wave: Tensor,
    sample_rate: int,
    n_fft: int,
    hop_length: int,
    win_length: int | None = None,
    n_mels: int = 80,
    fmin: float = 0.0,
    fmax: float | None = None,
    *,
    power: float = 1.0,
    center: bool = True,
    eps: float = 1e-5,
    log_base: float | None = None,
) -> Tensor:
    """``safe_log(mel_spectrogram(...))``: the feature of every mel loss and of the mel-distance metric."""
    mel = mel_spectrogram(
        wave, sample_rate, n_fft, hop_length, win_length, n_mels, fmin, fmax, power=power, center=center
    )
    return safe_log(mel, eps, log_base)
