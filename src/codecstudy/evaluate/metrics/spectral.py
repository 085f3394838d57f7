"""Spectral distances: mel-cepstral distortion (WORLD, VERSA's definition), log-mel distance and multi-resolution
STFT distance. All are lower-is-better and 0 for identical signals.

MCD follows VERSA's ``mcd_f0`` exactly in parity mode (harvest F0, CheapTrick, ``sp2mc`` order 39 with alpha 0.466
at every sample rate, all 40 coefficients including c0, ``10/ln10 * sqrt(2 * sum(diff^2))`` averaged over frames):

* ``mcd``: frame by frame over the shorter of the two tracks, silent frames included (VERSA's default,
  ``dtw: false``, the setting behind the paper's tables);
* ``mcd_dtw``: frames whose normalised power is above -20 dB on each side, aligned by DTW (fastdtw in parity
  mode, an exact DTW in fast mode, which is both faster and never worse than fastdtw's approximation).

``frames="robust"`` (see :mod:`codecstudy.evaluate.metrics.frames`) leaves out the frames where the reference is
silent (digital silence, or more than 60 dB below the clip's active level) in ``mcd``, ``mcd_dtw`` and
``mel_distance``, and adds ``<key>_frames_dropped`` (frames the rule removed) to the result; ``mcd`` also reports
``mcd_est_silent_frames`` (kept frames where the output is digital silence: counted, not dropped). ``parity``
returns exactly VERSA's value and nothing else.

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
from codecstudy.evaluate.base import MetricError, NotApplicable, check_pair, finite, is_silent, require_sound
from codecstudy.evaluate.metrics.frames import active_mask, band_power_db, check_rule, digital_silence_frames
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


SILENT_REFERENCE = "the reference is digital silence (peak below -100 dBFS): no frame to compare"


def reference_active(ref: np.ndarray, r: WorldFeatures, n: int) -> np.ndarray:
    """The robust rule's mask over the first ``n`` WORLD frames of the reference (frames whose envelope power is
    within 60 dB of the clip's active level; :mod:`codecstudy.evaluate.metrics.frames`)."""
    if is_silent(ref):
        raise NotApplicable(SILENT_REFERENCE)
    return active_mask(r.npow[:n])


def mcd(
    ref: np.ndarray,
    est: np.ndarray,
    sr: int,
    *,
    ref_world: WorldFeatures | None = None,
    est_world: WorldFeatures | None = None,
    frames: str = "parity",
    **settings: Any,
) -> dict[str, float]:
    """Mel-cepstral distortion without time warping (dB, lower is better); VERSA's ``mcd`` with ``dtw: false``
    (``frames="parity"``), or over the reference's sounding frames only (``frames="robust"``)."""
    check_rule(frames)
    ref, est = check_pair(ref, est, "mcd", silent_ok=True)
    r = given_or_world_features(ref, sr, ref_world, settings)
    e = given_or_world_features(est, sr, est_world, settings)
    n = min(len(r.mcep), len(e.mcep))
    mismatch = (len(r.mcep) + len(e.mcep) - 2 * n) / (len(r.mcep) + len(e.mcep))
    if mismatch >= float(settings.get("max_mismatch", 0.1)):
        raise MetricError(f"frame counts differ too much ({len(r.mcep)} vs {len(e.mcep)})")
    distances = frame_mcd(e.mcep[:n], r.mcep[:n])
    if frames == "parity":
        return {"mcd": finite(np.mean(distances), "MCD")}
    keep = reference_active(ref, r, n)
    est_silent = digital_silence_frames(est, sr, n, world_settings(settings).frame_period)
    return {
        "mcd": finite(np.mean(distances[keep]), "MCD"),
        "mcd_frames_dropped": float(n - int(keep.sum())),
        "mcd_est_silent_frames": float(np.count_nonzero(est_silent & keep)),
    }


def mcd_dtw(
    ref: np.ndarray,
    est: np.ndarray,
    sr: int,
    *,
    ref_world: WorldFeatures | None = None,
    est_world: WorldFeatures | None = None,
    dtw: str = "fastdtw",
    power_threshold: float = -20.0,
    frames: str = "parity",
    **settings: Any,
) -> dict[str, float]:
    """MCD over non-silent frames aligned by DTW (VERSA's ``mcd`` with ``dtw: true``).

    ``frames="robust"``: the reference's silent frames are removed first, and each side's -20 dB power rule is
    taken relative to its mean power over the reference's sounding frames (VERSA's is relative to the mean over
    all frames, which falls by 3 dB when half the clip is zeros, and lets more quiet frames in).
    """
    check_rule(frames)
    ref, est = check_pair(ref, est, "mcd_dtw", silent_ok=True)
    r = given_or_world_features(ref, sr, ref_world, settings)
    e = given_or_world_features(est, sr, est_world, settings)
    out: dict[str, float] = {}
    if frames == "parity":
        r_frames = r.mcep[r.npow > power_threshold]
        e_frames = e.mcep[e.npow > power_threshold]
    else:
        n = min(len(r.mcep), len(e.mcep))
        keep = reference_active(ref, r, n)
        r_frames = r.mcep[:n][keep & (_relative_power(r.npow[:n], keep) > power_threshold)]
        e_frames = e.mcep[:n][keep & (_relative_power(e.npow[:n], keep) > power_threshold)]
        out["mcd_dtw_frames_dropped"] = float(n - int(keep.sum()))
    if len(r_frames) == 0 or len(e_frames) == 0:
        raise MetricError(f"no frame above {power_threshold} dB normalised power on one side")
    path = align_frames(e_frames, r_frames, dtw)
    return {"mcd_dtw": finite(np.mean(frame_mcd(e_frames[path[:, 0]], r_frames[path[:, 1]])), "MCD-DTW"), **out}


def _relative_power(npow: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Frame power in dB relative to the mean power of the ``keep`` frames (``npow`` is relative to all frames)."""
    power = 10.0 ** (npow / 10.0)
    mean = float(np.mean(power[keep]))
    with np.errstate(divide="ignore"):
        return npow - (10.0 * np.log10(mean) if mean > 0 else 0.0)


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
    frames: str = "parity",
    **_: Any,
) -> dict[str, float]:
    """Mean absolute difference of log10 mel magnitudes (80 Slaney bands, Hann 1024 / hop 256).

    ``eps`` floors the mel magnitude before the log; it is part of the definition (a band-limited estimate has
    near-zero bands whose log depends entirely on it), so it is recorded with the settings. ``frames="robust"``
    averages over the STFT frames where the reference sounds (a silent reference frame sits at the floor, so its
    distance measures the floor against the codec's noise) and adds ``mel_distance_frames_dropped``.
    """
    check_rule(frames)
    ref, est = check_pair(ref, est, "mel_distance", min_samples=2, silent_ok=True)
    n = min(ref.size, est.size)
    mels = [
        mel_spectrogram(_tensor(x[:n]), sr, n_fft, hop_length, n_mels=n_mels, fmin=fmin, fmax=fmax, power=1.0)
        for x in (ref, est)
    ]
    logs = [torch.log10(m.clamp_min(eps)) for m in mels]
    diff = (logs[0] - logs[1]).abs()
    if frames == "parity":
        return {"mel_distance": finite(diff.mean().item(), "mel distance")}
    if is_silent(ref):
        raise NotApplicable(SILENT_REFERENCE)
    keep = active_mask(band_power_db(mels[0].double().numpy()))
    per_frame = diff.mean(dim=-2).double().numpy()
    return {
        "mel_distance": finite(float(np.mean(per_frame[keep])), "mel distance"),
        "mel_distance_frames_dropped": float(keep.size - int(keep.sum())),
    }


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
