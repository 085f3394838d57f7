"""Set-level embedding results: each clip's embedding frames on disk, and the Fréchet Audio Distance of a set.

The per-clip metric ``emb_dist`` (``metrics/embedding.py``) returns the reference's and the estimate's frames; the
evaluation stores them with :func:`save_frames`, one file per clip (where: :mod:`codecstudy.evaluate.outputs`), and
:func:`set_fad` pools the frames of every clip that has a result line into the set's FAD (rebuilt after each run,
so a resumed run counts every clip once), with a warning when the set is too small for a stable FAD.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from codecstudy.evaluate.base import MetricError
from codecstudy.evaluate.metrics.embedding import fad
from codecstudy.files import atomic_write


def save_frames(path: Path, ref: np.ndarray, est: np.ndarray) -> None:
    """Store a clip's reference and estimate frames in one ``.npz`` (atomically)."""
    with atomic_write(path, "wb") as handle:
        np.savez(handle, ref=np.asarray(ref), est=np.asarray(est))


def load_frames(paths: Iterable[Path]) -> tuple[np.ndarray, np.ndarray, int]:
    """Stacked reference and estimate frames of the files in ``paths`` that exist, and how many that was."""
    refs, ests = [], []
    for path in paths:
        if path.is_file():
            with np.load(path) as data:
                refs.append(data["ref"])
                ests.append(data["est"])
    if not refs:
        return np.zeros((0, 0)), np.zeros((0, 0)), 0
    return np.concatenate(refs), np.concatenate(ests), len(refs)


def set_fad(paths: Iterable[Path]) -> dict[str, Any] | None:
    """The FAD of the pooled frames in ``paths`` with the number of clips (an ``error`` instead of a value when it
    cannot be computed); None when no file exists."""
    ref, est, n = load_frames(paths)
    if n == 0:
        return None
    try:
        return {**fad(ref, est), "clips": n}
    except MetricError as exc:
        return {"fad": None, "clips": n, "error": str(exc)}
