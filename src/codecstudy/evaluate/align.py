"""Bringing a decoded signal onto its reference's time axis: a known delay, length matching, dynamic time warping.

Sample-aligned metrics (SI-SNR, CI-SDR, STOI, frame-by-frame MCD and F0) punish a constant delay as if it were
distortion: a 20 ms shift of an identical copy drops STOI from 1.0 to 0.67 and SI-SNR below -30 dB. Codecs with
look-ahead or framing delays do shift their output, so the scorer removes the *codec's* delay before those metrics.
That delay is one number per codec and setting (:mod:`codecstudy.evaluate.delay` says why and how it is found);
nothing here searches a lag per clip. VERSA compensates nothing, which is why compensation can be switched off for
parity checks.

The DTW here is an exact one with the step pattern fastdtw uses ((1,0), (0,1), (1,1), each step costing the local
distance), computed one anti-diagonal at a time in numpy: cells of a diagonal depend only on the two previous
diagonals, so each diagonal is one vectorised operation instead of a Python loop over cells.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from codecstudy.evaluate.base import MetricError, require
from codecstudy.evaluate.delay import clip_lag


@dataclass(frozen=True)
class Alignment:
    """What :func:`align_pair` did. ``delay`` is the codec's delay that was removed (> 0: the estimate lagged);
    ``clip_lag`` and ``clip_correlation`` are this pair's own cross-correlation peak, a diagnostic that is recorded
    and never applied."""

    delay: int
    clip_lag: int | None = None
    clip_correlation: float | None = None


def shift_to_reference(est: np.ndarray, delay: int, length: int) -> np.ndarray:
    """``est`` advanced by ``delay`` samples (delayed when negative) and cut or zero-padded to ``length``.

    The reference is never touched, so features computed on it can be cached and reused for every codec.
    """
    est = np.asarray(est)
    if delay > 0:
        est = est[delay:]
    elif delay < 0:
        est = np.concatenate([np.zeros(-delay, dtype=est.dtype), est])
    if est.size >= length:
        return np.ascontiguousarray(est[:length])
    return np.concatenate([est, np.zeros(length - est.size, dtype=est.dtype)])


def length_mismatch(n_ref: int, n_est: int) -> float:
    """VERSA's mismatch ratio ``(a + b - 2 min(a, b)) / (a + b)``: 0 for equal lengths, 1/3 when one is twice
    the other."""
    total = n_ref + n_est
    return 0.0 if total == 0 else (total - 2 * min(n_ref, n_est)) / total


def align_pair(
    ref: np.ndarray,
    est: np.ndarray,
    sample_rate: int,
    *,
    delay: int = 0,
    max_delay_s: float = 0.1,
    max_mismatch: float = 0.1,
    diagnose: bool = True,
) -> tuple[np.ndarray, Alignment]:
    """``est`` shifted by the codec's ``delay`` and cut or padded to the reference's length.

    Raises :class:`MetricError` when the lengths differ by more than ``max_mismatch`` (VERSA's 10 % rule): such a
    pair is not a reconstruction of its reference and any aligned metric would be meaningless. With ``diagnose``
    the pair's own lag within ``±max_delay_s`` is measured and returned, for the record only.
    """
    mismatch = length_mismatch(ref.size, est.size)
    if mismatch >= max_mismatch:
        raise MetricError(
            f"length mismatch: reference {ref.size} samples, estimate {est.size} "
            f"(ratio {mismatch:.3f} >= {max_mismatch})"
        )
    lag, corr = clip_lag(ref, est, int(round(max_delay_s * sample_rate))) if diagnose else (None, None)
    return shift_to_reference(est, delay, ref.size), Alignment(int(delay), lag, corr)


# ------------------------------------------------------------------------------------------------------ DTW
def pairwise_euclidean(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``[len(a), len(b)]`` Euclidean distances between rows, via the Gram matrix (clamped at 0 before sqrt)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
    return np.sqrt(np.maximum(sq, 0.0))


def dtw_path(a: np.ndarray, b: np.ndarray) -> tuple[float, np.ndarray]:
    """Exact DTW between frame sequences ``a [N, D]`` and ``b [M, D]`` with Euclidean local cost.

    Returns the total cost and the path ``[L, 2]`` of (index in a, index in b) from (0, 0) to (N-1, M-1). Steps
    (1,0), (0,1), (1,1) each add the local distance of the cell entered, as in fastdtw, so the exact cost is a
    lower bound of fastdtw's (which searches only near a coarse path). Ties prefer the diagonal, then a step in
    ``a``.
    """
    n, m = len(a), len(b)
    if n == 0 or m == 0:
        raise MetricError("DTW needs at least one frame on each side")
    cost = pairwise_euclidean(a, b)
    kernel = _numba_kernel()
    if kernel is not None:
        total, path = kernel(cost)
        return float(total), path
    acc = np.full((n + 1, m + 1), np.inf)
    acc[0, 0] = 0.0
    # Process anti-diagonals k = i + j (1-based cells), each depending on k-1 (left, up) and k-2 (diagonal).
    for k in range(2, n + m + 1):
        i_lo, i_hi = max(1, k - m), min(n, k - 1)
        if i_lo > i_hi:
            continue
        i = np.arange(i_lo, i_hi + 1)
        j = k - i
        best = np.minimum(np.minimum(acc[i - 1, j - 1], acc[i - 1, j]), acc[i, j - 1])
        acc[i, j] = cost[i - 1, j - 1] + best
    path = [(n - 1, m - 1)]
    i, j = n, m
    while i > 1 or j > 1:
        options = ((acc[i - 1, j - 1], i - 1, j - 1), (acc[i - 1, j], i - 1, j), (acc[i, j - 1], i, j - 1))
        _, i, j = min(options, key=lambda o: o[0])
        path.append((i - 1, j - 1))
    return float(acc[n, m]), np.asarray(path[::-1], dtype=np.int64)


def fastdtw_path(a: np.ndarray, b: np.ndarray, radius: int = 1) -> np.ndarray:
    """fastdtw's approximate path (VERSA parity). ``dist=2`` selects fastdtw's built-in Euclidean norm, which
    visits the same cells as VERSA's ``scipy.spatial.distance.euclidean`` callable without a Python call per
    cell (about 7x faster with fastdtw's C extension)."""
    fastdtw = require("fastdtw", "fastdtw")
    _, path = fastdtw.fastdtw(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64), radius=radius, dist=2)
    return np.asarray(path, dtype=np.int64)


_KERNEL: list[Any] = []


def _numba_kernel() -> Any:
    """The DTW recursion compiled with numba (in the eval extra, as a librosa dependency) when it is installed:
    about 10x faster than the anti-diagonal numpy version, same path and cost. Compiled once per process and cached
    on disk by numba."""
    if not _KERNEL:
        try:
            import numba  # the eval extra (a librosa dependency); the numpy recursion runs without it
        except ImportError:
            _KERNEL.append(None)
        else:
            _KERNEL.append(numba.njit(cache=True, nogil=True)(_dtw_kernel))
    return _KERNEL[0]


def _dtw_kernel(cost: np.ndarray) -> tuple[float, np.ndarray]:
    """Accumulate and backtrack (plain loops, written for numba); same tie-breaking as :func:`dtw_path`."""
    n, m = cost.shape
    acc = np.full((n + 1, m + 1), np.inf)
    acc[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            best = acc[i - 1, j - 1]
            if acc[i - 1, j] < best:
                best = acc[i - 1, j]
            if acc[i, j - 1] < best:
                best = acc[i, j - 1]
            acc[i, j] = cost[i - 1, j - 1] + best
    path = np.empty((n + m, 2), dtype=np.int64)
    k = 0
    i, j = n, m
    path[k, 0], path[k, 1] = n - 1, m - 1
    while i > 1 or j > 1:
        d, u, left = acc[i - 1, j - 1], acc[i - 1, j], acc[i, j - 1]
        if d <= u and d <= left:
            i, j = i - 1, j - 1
        elif u <= left:
            i = i - 1
        else:
            j = j - 1
        k += 1
        path[k, 0], path[k, 1] = i - 1, j - 1
    return acc[n, m], path[: k + 1][::-1].copy()
