"""F0 metrics: VERSA's F0 RMSE (Hz) and F0 correlation, with and without time warping.

VERSA (and so the paper) computes both on the raw WORLD F0 tracks, frame by frame over the shorter track,
**unvoiced frames included as 0 Hz**: voicing decisions dominate the result (a frame voiced on one side only
costs its whole F0). That is kept as ``f0_rmse`` / ``f0_corr`` for comparability. ``f0_rmse_dtw`` /
``f0_corr_dtw`` follow VERSA's DTW mode: voiced frames only on each side, aligned by DTW on their mel-cepstra.

``log_f0_rmse`` is the voicing-independent measure common in TTS papers: RMSE of log2 F0 in cents over frames
voiced in both tracks (frame by frame), reported beside the VERSA pair.

Parity mode uses harvest (VERSA); fast mode dio + stonemask (different tracks, so values differ a little).
The WORLD analysis is shared with MCD: see :mod:`codecstudy.evaluate.world`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from codecstudy.evaluate.metrics.base import MetricError, check_pair, finite
from codecstudy.evaluate.metrics.spectral import align_frames, given_or_world_features
from codecstudy.evaluate.world import WorldFeatures


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation; MetricError when either side is constant (e.g. no voiced frame at all)."""
    a = np.asarray(a, dtype=np.float64) - np.mean(a)
    b = np.asarray(b, dtype=np.float64) - np.mean(b)
    denom = float(np.sqrt(np.dot(a, a) * np.dot(b, b)))
    if denom == 0.0:
        raise MetricError("F0 track is constant on one side (no voiced frames?): correlation undefined")
    return float(np.clip(np.dot(a, b) / denom, -1.0, 1.0))


def _tracks(
    ref: np.ndarray,
    est: np.ndarray,
    sr: int,
    ref_world: WorldFeatures | None,
    est_world: WorldFeatures | None,
    settings: dict[str, Any],
    name: str,
) -> tuple[WorldFeatures, WorldFeatures]:
    ref, est = check_pair(ref, est, name, silent_ok=True)
    return given_or_world_features(ref, sr, ref_world, settings), given_or_world_features(est, sr, est_world, settings)


def _framewise(r: WorldFeatures, e: WorldFeatures, max_mismatch: float) -> tuple[np.ndarray, np.ndarray]:
    n = min(len(r.f0), len(e.f0))
    if (len(r.f0) + len(e.f0) - 2 * n) / (len(r.f0) + len(e.f0)) >= max_mismatch:
        raise MetricError(f"frame counts differ too much ({len(r.f0)} vs {len(e.f0)})")
    return r.f0[:n], e.f0[:n]


def _warped(r: WorldFeatures, e: WorldFeatures, dtw: str) -> tuple[np.ndarray, np.ndarray]:
    r_idx = np.flatnonzero(r.f0 > 0)
    e_idx = np.flatnonzero(e.f0 > 0)
    if r_idx.size == 0 or e_idx.size == 0:
        side = "reference" if r_idx.size == 0 else "estimate"
        raise MetricError(f"no voiced frame in the {side}: DTW F0 metrics undefined")
    key = ("voiced_dtw", dtw, id(r))
    if key not in e.memo:  # f0_rmse_dtw and f0_corr_dtw share the path
        e.memo[key] = (r, align_frames(e.mcep[e_idx], r.mcep[r_idx], dtw))
    path = e.memo[key][1]
    return r.f0[r_idx][path[:, 1]], e.f0[e_idx][path[:, 0]]


def f0_rmse(
    ref: np.ndarray,
    est: np.ndarray,
    sr: int,
    *,
    ref_world: WorldFeatures | None = None,
    est_world: WorldFeatures | None = None,
    max_mismatch: float = 0.1,
    **settings: Any,
) -> dict[str, float]:
    """RMSE of the F0 tracks in Hz, all frames (unvoiced = 0), VERSA's ``f0rmse`` without DTW."""
    r, e = _framewise(*_tracks(ref, est, sr, ref_world, est_world, settings, "f0_rmse"), max_mismatch)
    return {"f0_rmse": finite(np.sqrt(np.mean((e - r) ** 2)), "F0 RMSE")}


def f0_corr(
    ref: np.ndarray,
    est: np.ndarray,
    sr: int,
    *,
    ref_world: WorldFeatures | None = None,
    est_world: WorldFeatures | None = None,
    max_mismatch: float = 0.1,
    **settings: Any,
) -> dict[str, float]:
    """Pearson correlation of the F0 tracks, all frames (unvoiced = 0), VERSA's ``f0corr`` without DTW."""
    r, e = _framewise(*_tracks(ref, est, sr, ref_world, est_world, settings, "f0_corr"), max_mismatch)
    return {"f0_corr": pearson(e, r)}


def f0_rmse_dtw(
    ref: np.ndarray,
    est: np.ndarray,
    sr: int,
    *,
    ref_world: WorldFeatures | None = None,
    est_world: WorldFeatures | None = None,
    dtw: str = "fastdtw",
    **settings: Any,
) -> dict[str, float]:
    """F0 RMSE (Hz) over voiced frames aligned by DTW on their mel-cepstra (VERSA's ``dtw: true``)."""
    r, e = _warped(*_tracks(ref, est, sr, ref_world, est_world, settings, "f0_rmse_dtw"), dtw)
    return {"f0_rmse_dtw": finite(np.sqrt(np.mean((e - r) ** 2)), "F0 RMSE (DTW)")}


def f0_corr_dtw(
    ref: np.ndarray,
    est: np.ndarray,
    sr: int,
    *,
    ref_world: WorldFeatures | None = None,
    est_world: WorldFeatures | None = None,
    dtw: str = "fastdtw",
    **settings: Any,
) -> dict[str, float]:
    """F0 correlation over voiced frames aligned by DTW on their mel-cepstra (VERSA's ``dtw: true``)."""
    r, e = _warped(*_tracks(ref, est, sr, ref_world, est_world, settings, "f0_corr_dtw"), dtw)
    return {"f0_corr_dtw": pearson(e, r)}


def log_f0_rmse(
    ref, est, sr, *, ref_world=None, est_world=None, max_mismatch: float = 0.1, min_frames: int = 5, **settings
) -> dict[str, float]:
    """RMSE of log F0 in cents over frames voiced in both tracks; also the voicing disagreement rate.

    Separating pitch error from voicing error makes it readable for non-speech-like outputs, where VERSA's
    all-frames RMSE mostly counts voicing flips.
    """
    r, e = _framewise(*_tracks(ref, est, sr, ref_world, est_world, settings, "log_f0_rmse"), max_mismatch)
    both = (r > 0) & (e > 0)
    if int(both.sum()) < min_frames:
        raise MetricError(f"only {int(both.sum())} frames voiced in both tracks (< {min_frames})")
    cents = 1200.0 * np.log2(e[both] / r[both])
    return {
        "log_f0_rmse": finite(np.sqrt(np.mean(cents**2)), "log-F0 RMSE"),
        "voicing_error": float(np.mean((r > 0) != (e > 0))),
    }
