"""Spectral distances: mel-cepstral distortion (WORLD, VERSA's definition), log-mel distance and multi-resolution
STFT distance. All are lower-is-better and 0 for identical signals.

MCD follows VERSA's ``mcd_f0`` exactly in parity mode (harvest F0, CheapTrick, ``sp2mc`` order 39 with alpha 0.466
at every sample rate, all 40 coefficients including c0, ``10/ln10 * sqrt(2 * sum(diff^2))`` averaged over frames):

* ``mcd``: frame by frame over the shorter of the two tracks, silent frames included (VERSA's default,
  ``dtw: false``, the setting behind the paper's tables);
* ``mcd_dtw``: frames whose normalised power is above -20 dB on each side, aligned by DTW (fastdtw in parity
  mode, an exact DTW in fast mode, which is both faster and never worse than fastdtw's approximation).

The mel and STFT distances use the toolkit's own STFT (``codecstudy.codec.spectral``), so "mel" means the same
filterbank here as in the training losses.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from codecstudy.codec.spectral import mel_spectrogram, stft
from codecstudy.evaluate.align import dtw_path, fastdtw_path
from codecstudy.evaluate.metrics.base import MetricError, check_pair, finite, require_sound
from codecstudy.evaluate.world import WorldFeatures, WorldSettings, world_features

_MCD_SCALE = 10.0 / math.log(10.0)
DTW_METHODS = ("fastdtw", "exact")


def world_settings(settings: dict[str, Any]) -> WorldSettings:
    """The WORLD analysis settings found among a metric's settings (unknown keys are ignored)."""
    fields = WorldSettings.__dataclass_fields__
    return WorldSettings(**{k: v for k, v in settings.items() if k in fields})


def given_or_world_features(
    x: np.ndarray, sr: int, given: WorldFeatures | None, settings: dict[str, Any]
) -> WorldFeatures:
    """``given`` (the scorer's shared analysis of this signal) or a fresh WORLD analysis at the metric's settings."""
    return given if given is not None else world_features(x, sr, world_settings(settings))


def frame_mcd(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-frame MCD in dB between two mel-cepstra of equal shape ``[T, D]`` (all coefficients, c0 included)."""
    return _MCD_SCALE * np.sqrt(2.0 * np.sum((a - b) ** 2, axis=1))


def align_frames(a: np.ndarray, b: np.ndarray, dtw: str) -> np.ndarray:
    """DTW path ``[L, 2]`` between frame sequences with the chosen method."""
    if dtw == "fastdtw":
        return fastdtw_path(a, b)
    if dtw == "exact":
        return dtw_path(a, b)[1]
    raise MetricError(f"dtw must be one of {DTW_METHODS}, got {dtw!r}")


def mcd(
    ref: np.ndarray,
    est: np.ndarray,
    sr: int,
    *,
    ref_world: WorldFeatures | None = None,
    est_world: WorldFeatures | None = None,
    **settings: Any,
) -> dict[str, float]:
    """Mel-cepstral distortion without time warping (dB, lower is better); VERSA's ``mcd`` with ``dtw: false``."""
    ref, est = check_pair(ref, est, "mcd", silent_ok=True)
    r = given_or_world_features(ref, sr, ref_world, settings)
    e = given_or_world_features(est, sr, est_world, settings)
    n = min(len(r.mcep), len(e.mcep))
    mismatch = (len(r.mcep) + len(e.mcep) - 2 * n) / (len(r.mcep) + len(e.mcep))
    if mismatch >= float(settings.get("max_mismatch", 0.1)):
        raise MetricError(f"frame counts differ too much ({len(r.mcep)} vs {len(e.mcep)})")
    return {"mcd": finite(np.mean(frame_mcd(e.mcep[:n], r.mcep[:n])), "MCD")}


def mcd_dtw(
    ref: np.ndarray,
    est: np.ndarray,
    sr: int,
    *,
    ref_world: WorldFeatures | None = None,
    est_world: WorldFeatures | None = None,
    dtw: str = "fastdtw",
    power_threshold: float = -20.0,
    **settings: Any,
) -> dict[str, float]:
    """MCD over non-silent frames aligned by DTW (VERSA's ``mcd`` with ``dtw: true``)."""
    ref, est = check_pair(ref, est, "mcd_dtw", silent_ok=True)
    r = given_or_world_features(ref, sr, ref_world, settings)
    e = given_or_world_features(est, sr, est_world, settings)
    r_frames = r.mcep[r.npow > power_threshold]
    e_frames = e.mcep[e.npow > power_threshold]
    if len(r_frames) == 0 or len(e_frames) == 0:
        raise MetricError(f"no frame above {power_threshold} dB normalised power on one side")
    path = align_frames(e_frames, r_frames, dtw)
    return {"mcd_dtw": finite(np.mean(frame_mcd(e_frames[path[:, 0]], r_frames[path[:, 1]])), "MCD-DTW")}


# ------------------------------------------------------------------------------------------- STFT distances
def _tensor(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))


def mel_distance(
    ref: np.ndarray,
    est: np.ndarray,
    sr: int,
    *,
    n_fft: int = 1024,
    hop_length: int = 256,
    n_mels: int = 80,
    fmin: float = 0.0,
    fmax: float | None = None,
    eps: float = 1e-5,
    **_: Any,
) -> dict[str, float]:
    """Mean absolute difference of log10 mel magnitudes (80 Slaney bands, Hann 1024 / hop 256).

    ``eps`` floors the mel magnitude before the log; it is part of the definition (a band-limited estimate has
    near-zero bands whose log depends entirely on it), so it is recorded with the settings.
    """
    ref, est = check_pair(ref, est, "mel_distance", min_samples=2, silent_ok=True)
    n = min(ref.size, est.size)
    mels = [
        mel_spectrogram(_tensor(x[:n]), sr, n_fft, hop_length, n_mels=n_mels, fmin=fmin, fmax=fmax, power=1.0)
        for x in (ref, est)
    ]
    logs = [torch.log10(m.clamp_min(eps)) for m in mels]
    return {"mel_distance": finite((logs[0] - logs[1]).abs().mean().item(), "mel distance")}


DEFAULT_RESOLUTIONS = ((1024, 120, 600), (2048, 240, 1200), (512, 50, 240))


def mrstft_distance(
    ref: np.ndarray,
    est: np.ndarray,
    sr: int,
    *,
    resolutions: tuple[tuple[int, int, int], ...] | list[list[int]] = DEFAULT_RESOLUTIONS,
    eps: float = 1e-8,
    **_: Any,
) -> dict[str, float]:
    """Multi-resolution STFT distance: spectral convergence + mean |log magnitude difference|, averaged over
    resolutions (n_fft, hop, window) — the definition and defaults of ``auraloss.MultiResolutionSTFTLoss``.

    ``eps`` floors the squared magnitude before the square root, as auraloss does.
    """
    ref, est = check_pair(ref, est, "mrstft_distance", min_samples=2, silent_ok=True)
    require_sound(ref, "reference", "spectral convergence")
    n = min(ref.size, est.size)
    r_t, e_t = _tensor(ref[:n]), _tensor(est[:n])
    total = 0.0
    for n_fft, hop, win in resolutions:
        specs = [stft(x, int(n_fft), int(hop), int(win)) for x in (r_t, e_t)]
        mags = [(s.real.square() + s.imag.square()).clamp_min(eps).sqrt() for s in specs]
        convergence = torch.linalg.norm(mags[0] - mags[1]) / torch.linalg.norm(mags[0])
        log_mag = (mags[0].log() - mags[1].log()).abs().mean()
        total += float(convergence + log_mag)
    return {"mrstft_distance": finite(total / len(resolutions), "MR-STFT distance")}
