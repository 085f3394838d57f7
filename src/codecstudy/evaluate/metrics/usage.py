"""Codebook usage and bitrate of a codec over an evaluation set (not per clip: entropy needs the set's counts).

* ``bitrate``: what the token stream costs without entropy coding, ``n_q * log2(K) * frame_rate``.
* Per codebook: the entropy (bits) of the code distribution over the set, its perplexity (2^entropy, the number of
  equally used codes it is worth) and the fraction of codes used at least once.
* ``entropy_bitrate``: ``sum of entropies * frame_rate``, the rate an ideal entropy coder would reach with a
  per-codebook unigram model; ``efficiency = entropy_bitrate / bitrate`` is DAC's "bitrate efficiency". A codebook
  that collapses on non-speech shows up here before it shows up in the quality metrics.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np


def bitrate(n_q: int, codebook_size: int, frame_rate: float) -> float:
    """Bits per second of ``n_q`` codebooks of ``codebook_size`` entries at ``frame_rate`` frames per second."""
    return float(n_q * math.log2(codebook_size) * frame_rate)


def code_counts(codes: Iterable[np.ndarray], n_q: int, codebook_size: int) -> np.ndarray:
    """``[n_q, K]`` counts of each code over all clips' code arrays ``[>= n_q, frames]``."""
    counts = np.zeros((n_q, codebook_size), dtype=np.int64)
    for clip_codes in codes:
        clip_codes = np.asarray(clip_codes)
        if clip_codes.shape[0] < n_q:
            raise ValueError(f"codes have {clip_codes.shape[0]} codebooks, need {n_q}")
        for q in range(n_q):
            counts[q] += np.bincount(clip_codes[q].astype(np.int64), minlength=codebook_size)[:codebook_size]
    return counts


def entropy_bits(counts: np.ndarray) -> np.ndarray:
    """Entropy in bits of each row of a count matrix (0 for an all-zero row)."""
    counts = np.asarray(counts, dtype=np.float64)
    totals = counts.sum(axis=-1, keepdims=True)
    p = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    logs = np.log2(p, out=np.zeros_like(p), where=p > 0)
    return np.abs(-(p * logs).sum(axis=-1))  # abs: no "-0.0" for a collapsed codebook


def usage_summary(counts: np.ndarray, frame_rate: float) -> dict[str, Any]:
    """Set-level summary from :func:`code_counts`: bitrate, entropy bitrate, efficiency and per-codebook stats."""
    counts = np.asarray(counts)
    n_q, size = counts.shape
    ent = entropy_bits(counts)
    nominal = bitrate(n_q, size, frame_rate)
    coded = float(ent.sum() * frame_rate)
    return {
        "n_q": int(n_q),
        "codebook_size": int(size),
        "frames": int(counts[0].sum()) if n_q else 0,
        "bitrate_bps": nominal,
        "entropy_bitrate_bps": coded,
        "efficiency": coded / nominal if nominal > 0 else float("nan"),
        "per_codebook": [
            {
                "entropy_bits": float(ent[q]),
                "perplexity": float(2.0 ** ent[q]),
                "used_fraction": float(np.count_nonzero(counts[q]) / size),
            }
            for q in range(n_q)
        ],
    }
