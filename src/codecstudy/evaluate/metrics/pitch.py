"""F0 metrics: VERSA's F0 RMSE (Hz) and F0 correlation, with and without time warping.

VERSA (and so the paper) computes both on the raw WORLD F0 tracks, frame by frame over the shorter track,
**unvoiced frames included as 0 Hz**: voicing decisions dominate the result (a frame voiced on one side only
costs its whole F0). That is kept as ``f0_rmse`` / ``f0_corr`` for comparability. ``f0_rmse_dtw`` /
``f0_corr_dtw`` follow VERSA's DTW mode: voiced frames only on each side, aligned by DTW on their mel-cepstra.

``log_f0_rmse`` is the voicing-independent measure common in TTS papers: RMSE of log2 F0 in cents over frames
voiced in both tracks (frame by frame), reported beside the VERSA pair.

``frames="robust"`` (see :mod:`codecstudy.evaluate.metrics.frames`) drops the frames where the reference is
silent before any of these is computed, reports ``<key>_frames_dropped``, and defines the correlations on an
output with no voiced frame: **0**, flagged by ``<key>_unvoiced_output = 1`` (0 otherwise), when the reference has
voiced frames; not applicable (:class:`NotApplicable`) when the reference has none. In ``parity`` such a clip is an
error, as in VERSA (NaN there), and an error leaves the clip out of the mean, which is exactly the clips where a
codec failed worst: the mean of the weaker codec is biased upward, and conditions are compared on different clips.
0 is what a correlation is for a track that does not follow the reference at all.

``f0_errors`` reports the classic pitch-tracking error rates beside them (all frames compared, none dropped for
being unvoiced, so a failed clip counts): the voicing decision error ``vde`` (share of frames whose voicing
differs: ``log_f0_rmse``'s ``voicing_error``), the gross pitch error ``gpe`` (share of frames voiced in both whose
F0 is off by more than 20 %) and the F0 frame error ``ffe`` = (voicing errors + gross errors) / frames, which
never needs a voiced output. ``gpe`` is undefined without a frame voiced in both; it is then left out and
``gpe_frames`` (its denominator, always reported) is 0.

Parity mode uses harvest (VERSA); fast mode dio + stonemask (different tracks, so values differ a little).
The WORLD analysis is shared with MCD: see :mod:`codecstudy.evaluate.world`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from codecstudy.evaluate.base import MetricError, NotApplicable, check_pair, finite
from codecstudy.evaluate.metrics.frames import check_rule
from codecstudy.evaluate.metrics.spectral import align_frames, given_or_world_features, reference_active
from codecstudy.evaluate.world import WorldFeatures


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation; MetricError when either side is constant (e.g. no voiced frame at all)."""
    a = np.asarray(a, dtype=np.float64) - np.mean(a)
    b = np.asarray(b, dtype=np.float64) - np.mean(b)
    denom = float(np.sqrt(np.dot(a, a) * np.dot(b, b)))
    if denom == 0.0:
        raise MetricError("F0 track is constant on one side (no voiced frames?): correlation undefined")
    return float(np.clip(np.dot(a, b) / denom, -1.0, 1.0))


GROSS_ERROR = 0.2  # a voiced frame's F0 off by more than 20 % is a gross error (Rabiner et al. 1976)


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


def _frame_count(r: WorldFeatures, e: WorldFeatures, max_mismatch: float) -> int:
    n = min(len(r.f0), len(e.f0))
    if (len(r.f0) + len(e.f0) - 2 * n) / (len(r.f0) + len(e.f0)) >= max_mismatch:
        raise MetricError(f"frame counts differ too much ({len(r.f0)} vs {len(e.f0)})")
    return n


def _selected(
    ref: np.ndarray,
    est: np.ndarray,
    sr: int,
    ref_world: WorldFeatures | None,
    est_world: WorldFeatures | None,
    settings: dict[str, Any],
    name: str,
    frames: str,
    max_mismatch: float,
) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """The two F0 tracks frame by frame under the frame rule, and the ``<name>_frames_dropped`` entry (robust)."""
    check_rule(frames)
    r, e = _tracks(ref, est, sr, ref_world, est_world, settings, name)
    n = _frame_count(r, e, max_mismatch)
    if frames == "parity":
        return r.f0[:n], e.f0[:n], {}
    keep = reference_active(np.asarray(ref, dtype=np.float64), r, n)
    return r.f0[:n][keep], e.f0[:n][keep], {f"{name}_frames_dropped": float(n - int(keep.sum()))}


def _correlation(r: np.ndarray, e: np.ndarray, key: str, frames: str) -> dict[str, float]:
    """Pearson correlation of two F0 tracks; under ``robust`` an output track without variation (no voiced frame)
    scores 0 and is flagged, and a reference without a voiced frame is not applicable."""
    if frames == "parity":
        return {key: pearson(e, r)}
    if not np.any(r > 0):
        raise NotApplicable("no voiced frame in the reference: F0 correlation does not apply")
    if np.ptp(e) == 0.0 or np.ptp(r) == 0.0:
        return {key: 0.0, f"{key}_unvoiced_output": 1.0}
    return {key: pearson(e, r), f"{key}_unvoiced_output": 0.0}


def _warped(
    r: WorldFeatures, e: WorldFeatures, dtw: str, keep: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Voiced frames of each side aligned by DTW on their mel-cepstra (``keep``: robust rule's frames only)."""
    r_voiced, e_voiced = r.f0 > 0, e.f0 > 0
    if keep is not None:
        r_voiced = r_voiced[: keep.size] & keep
        e_voiced = e_voiced[: keep.size] & keep
    r_idx = np.flatnonzero(r_voiced)
    e_idx = np.flatnonzero(e_voiced)
    if r_idx.size == 0 or e_idx.size == 0:
        side = "reference" if r_idx.size == 0 else "estimate"
        raise MetricError(f"no voiced frame in the {side}: DTW F0 metrics undefined")
    key = ("voiced_dtw", dtw, id(r), keep is not None)
    if key not in e.memo:  # f0_rmse_dtw and f0_corr_dtw share the path
        e.memo[key] = (r, align_frames(e.mcep[e_idx], r.mcep[r_idx], dtw))
    path = e.memo[key][1]
    return r.f0[r_idx][path[:, 1]], e.f0[e_idx][path[:, 0]]


def _warped_selected(
    ref: np.ndarray,
    est: np.ndarray,
    sr: int,
    ref_world: WorldFeatures | None,
    est_world: WorldFeatures | None,
    settings: dict[str, Any],
    name: str,
    dtw: str,
    frames: str,
) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    check_rule(frames)
    r, e = _tracks(ref, est, sr, ref_world, est_world, settings, name)
    if frames == "parity":
        return (*_warped(r, e, dtw), {})
    n = min(len(r.f0), len(e.f0))
    keep = reference_active(np.asarray(ref, dtype=np.float64), r, n)
    extra = {f"{name}_frames_dropped": float(n - int(keep.sum()))}
    if not np.any(r.f0[:n][keep] > 0):
        raise NotApplicable("no voiced frame in the reference: F0 metrics do not apply")
    if name == "f0_corr_dtw" and not np.any(e.f0[:n][keep] > 0):
        return np.zeros(0), np.zeros(0), extra  # no voiced output frame: the correlation is defined as 0
    return (*_warped(r, e, dtw, keep), extra)


def f0_rmse(
    ref: np.ndarray,
    est: np.ndarray,
    sr: int,
    *,
    ref_world: WorldFeatures | None = None,
    est_world: WorldFeatures | None = None,
    max_mismatch: float = 0.1,
    frames: str = "parity",
    **settings: Any,
) -> dict[str, float]:
    """RMSE of the F0 tracks in Hz, all frames (unvoiced = 0), VERSA's ``f0rmse`` without DTW."""
    r, e, extra = _selected(ref, est, sr, ref_world, est_world, settings, "f0_rmse", frames, max_mismatch)
    return {"f0_rmse": finite(np.sqrt(np.mean((e - r) ** 2)), "F0 RMSE"), **extra}


def f0_corr(
    ref: np.ndarray,
    est: np.ndarray,
    sr: int,
    *,
    ref_world: WorldFeatures | None = None,
    est_world: WorldFeatures | None = None,
    max_mismatch: float = 0.1,
    frames: str = "parity",
    **settings: Any,
) -> dict[str, float]:
    """Pearson correlation of the F0 tracks, all frames (unvoiced = 0), VERSA's ``f0corr`` without DTW.

    ``frames="robust"``: over the reference's sounding frames; 0 (flagged ``f0_corr_unvoiced_output``) for an
    output without a voiced frame; not applicable for a reference without one."""
    r, e, extra = _selected(ref, est, sr, ref_world, est_world, settings, "f0_corr", frames, max_mismatch)
    return {**_correlation(r, e, "f0_corr", frames), **extra}


def f0_rmse_dtw(
    ref: np.ndarray,
    est: np.ndarray,
    sr: int,
    *,
    ref_world: WorldFeatures | None = None,
    est_world: WorldFeatures | None = None,
    dtw: str = "fastdtw",
    frames: str = "parity",
    **settings: Any,
) -> dict[str, float]:
    """F0 RMSE (Hz) over voiced frames aligned by DTW on their mel-cepstra (VERSA's ``dtw: true``). Undefined
    (an error) without a voiced output frame under both rules: read it with ``vde``/``ffe``."""
    r, e, extra = _warped_selected(ref, est, sr, ref_world, est_world, settings, "f0_rmse_dtw", dtw, frames)
    return {"f0_rmse_dtw": finite(np.sqrt(np.mean((e - r) ** 2)), "F0 RMSE (DTW)"), **extra}


def f0_corr_dtw(
    ref: np.ndarray,
    est: np.ndarray,
    sr: int,
    *,
    ref_world: WorldFeatures | None = None,
    est_world: WorldFeatures | None = None,
    dtw: str = "fastdtw",
    frames: str = "parity",
    **settings: Any,
) -> dict[str, float]:
    """F0 correlation over voiced frames aligned by DTW on their mel-cepstra (VERSA's ``dtw: true``)."""
    r, e, extra = _warped_selected(ref, est, sr, ref_world, est_world, settings, "f0_corr_dtw", dtw, frames)
    if frames == "robust" and e.size == 0:
        return {"f0_corr_dtw": 0.0, "f0_corr_dtw_unvoiced_output": 1.0, **extra}
    return {**_correlation(r, e, "f0_corr_dtw", frames), **extra}


def log_f0_rmse(
    ref: np.ndarray,
    est: np.ndarray,
    sr: int,
    *,
    ref_world: WorldFeatures | None = None,
    est_world: WorldFeatures | None = None,
    max_mismatch: float = 0.1,
    min_frames: int = 5,
    frames: str = "parity",
    **settings: Any,
) -> dict[str, float]:
    """RMSE of log F0 in cents over frames voiced in both tracks; also the voicing disagreement rate.

    Separating pitch error from voicing error makes it readable for non-speech-like outputs, where VERSA's
    all-frames RMSE mostly counts voicing flips.
    """
    r, e, extra = _selected(ref, est, sr, ref_world, est_world, settings, "log_f0_rmse", frames, max_mismatch)
    both = (r > 0) & (e > 0)
    if int(both.sum()) < min_frames:
        raise MetricError(f"only {int(both.sum())} frames voiced in both tracks (< {min_frames})")
    cents = 1200.0 * np.log2(e[both] / r[both])
    return {
        "log_f0_rmse": finite(np.sqrt(np.mean(cents**2)), "log-F0 RMSE"),
        "voicing_error": float(np.mean((r > 0) != (e > 0))),
        **extra,
    }


def pitch_errors(ref_f0: np.ndarray, est_f0: np.ndarray, gross_error: float = GROSS_ERROR) -> dict[str, float]:
    """VDE, GPE and FFE of two F0 tracks of equal length (Hz, 0 = unvoiced); pure arithmetic on the tracks.

    * ``vde`` = frames whose voicing differs / frames;
    * ``gpe`` = frames voiced in both with ``|f0_est / f0_ref - 1| > gross_error`` / frames voiced in both (left
      out when no frame is voiced in both; ``gpe_frames`` is that denominator);
    * ``ffe`` = (voicing errors + gross errors) / frames (Chu & Alwan 2009): defined for any output.
    """
    r = np.asarray(ref_f0, dtype=np.float64)
    e = np.asarray(est_f0, dtype=np.float64)
    if r.shape != e.shape or r.ndim != 1 or r.size == 0:
        raise MetricError(f"F0 tracks must be 1-D and of equal, non-zero length (got {r.shape} and {e.shape})")
    voicing = (r > 0) != (e > 0)
    both = (r > 0) & (e > 0)
    gross = np.zeros_like(both)
    gross[both] = np.abs(e[both] / r[both] - 1.0) > gross_error
    out = {
        "vde": float(np.mean(voicing)),
        "ffe": float((np.count_nonzero(voicing) + np.count_nonzero(gross)) / r.size),
        "gpe_frames": float(np.count_nonzero(both)),
    }
    if both.any():
        out["gpe"] = float(np.count_nonzero(gross) / np.count_nonzero(both))
    return out


def f0_errors(
    ref: np.ndarray,
    est: np.ndarray,
    sr: int,
    *,
    ref_world: WorldFeatures | None = None,
    est_world: WorldFeatures | None = None,
    max_mismatch: float = 0.1,
    gross_error: float = GROSS_ERROR,
    frames: str = "parity",
    **settings: Any,
) -> dict[str, float]:
    """Voicing decision error, gross pitch error and F0 frame error of the WORLD F0 tracks, frame by frame
    (``frames`` as for the other F0 metrics; the dropped count is ``f0_errors_frames_dropped``)."""
    r, e, extra = _selected(ref, est, sr, ref_world, est_world, settings, "f0_errors", frames, max_mismatch)
    return {**pitch_errors(r, e, gross_error), **extra}
