"""Set-level embedding results: each clip's embedding frames on disk, and the set's Fréchet Audio Distance.

The per-clip metric ``emb_dist`` (``metrics/embedding.py``) returns the reference's and the estimate's frames; the
scorer hands them here, one ``embeddings/<clip>.npz`` per clip next to ``results.jsonl``. :func:`write_fad` pools the
frames of every clip that has a result line into ``fad.json`` (rebuilt after each run, so a resumed run counts
every clip once), with a warning when the set is too small for a stable FAD.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from codecstudy.evaluate.metrics.base import MetricError
from codecstudy.jsonl import write_json_atomic

FOLDER = "embeddings"
FAD_NAME = "fad.json"


def _file(folder: Path, clip_id: str) -> Path:
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in clip_id)[:80]
    return folder / FOLDER / f"{stem}-{hashlib.sha1(clip_id.encode()).hexdigest()[:10]}.npz"


def save_embeddings(folder: Path, clip_id: str, arrays: dict[str, np.ndarray] | None) -> None:
    """Store a clip's ``_emb_ref``/``_emb_est`` frames (atomically; nothing when the metric did not run)."""
    if not arrays or "_emb_ref" not in arrays or "_emb_est" not in arrays:
        return
    path = _file(Path(folder), clip_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    with tmp.open("wb") as handle:
        np.savez(handle, ref=np.asarray(arrays["_emb_ref"]), est=np.asarray(arrays["_emb_est"]))
    os.replace(tmp, path)


def load_frames(folder: Path, clips: set[str]) -> tuple[np.ndarray, np.ndarray, int]:
    """Stacked reference and estimate frames of ``clips`` (those with a saved file), and how many clips that was."""
    refs, ests = [], []
    for clip_id in sorted(clips):
        path = _file(Path(folder), clip_id)
        if path.is_file():
            with np.load(path) as data:
                refs.append(data["ref"])
                ests.append(data["est"])
    if not refs:
        return np.zeros((0, 0)), np.zeros((0, 0)), 0
    return np.concatenate(refs), np.concatenate(ests), len(refs)


def write_fad(folder: Path, clips: set[str]) -> dict[str, Any] | None:
    """``folder/fad.json`` from the frames of ``clips``; None (and no file) when no clip has embeddings."""
    from codecstudy.evaluate.metrics.embedding import fad

    ref, est, n = load_frames(Path(folder), clips)
    if n == 0:
        return None
    try:
        result: dict[str, Any] = {**fad(ref, est), "clips": n}
    except MetricError as exc:
        result = {"fad": None, "clips": n, "error": str(exc)}
    meta = Path(folder) / "meta.json"
    if not meta.is_file():
        meta = Path(folder).parent / "meta.json"
    if meta.is_file():
        evaluator = json.loads(meta.read_text(encoding="utf-8")).get("metrics", {}).get("emb_dist", {})
        result["model"] = evaluator.get("evaluator", {})
    write_json_atomic(Path(folder) / FAD_NAME, result)
    return result
