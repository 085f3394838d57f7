"""Training checkpoints: atomic writes, the last K step checkpoints plus the best one, RNG state capture.

A checkpoint is a ``torch.save``d dict of tensors and plain Python values (loadable with ``weights_only=True``)::

    {"format": "codecstudy-train", "format_version": 1, "step": 1200,
     "codec": {...codec_payload...},            # what load_codec reads, so any checkpoint is also a codec
     "discriminator": state_dict, "optimizers": {"generator": ..., "discriminator": ...},
     "schedulers": {...}, "sampler": {"seed", "position", ...}, "rng": {"python", "numpy", "torch", "cuda"},
     "rng_per_rank": [...], "nan_skips": 0, "best": {...}, "config": {...}}

Writes go through :func:`codecstudy.files.atomic_write` (a temporary file in the same folder, fsynced, renamed over
the target), then the folder is fsynced: a crash or SIGKILL at any moment leaves either the old file or the new one,
never a torn one, and a failed write (disk full, read-only folder) leaves the previous checkpoints untouched.
"""

from __future__ import annotations

import os
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from codecstudy.codec.registry import load_plain_torch_file
from codecstudy.errors import CodecStudyError
from codecstudy.files import atomic_write, stale_temporaries

FORMAT = "codecstudy-train"
FORMAT_VERSION = 1
STEP_PATTERN = re.compile(r"^step-(\d+)\.pt$")
BEST_NAME = "best.pt"


def step_name(step: int) -> str:
    return f"step-{step:08d}.pt"


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on directories; the rename is still atomic
    finally:
        os.close(fd)


def atomic_save(obj: Any, path: str | Path) -> Path:
    """``torch.save`` through a temporary file, fsync and rename; on any failure the target is unchanged.

    Raises :class:`CodecStudyError` naming the file (an ``OSError`` here is the user's disk, not a bug).
    """
    path = Path(path)
    try:
        with atomic_write(path, "wb") as handle:
            torch.save(obj, handle)
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise CodecStudyError(f"{path}: cannot write checkpoint ({reason}); earlier checkpoints are intact") from None
    _fsync_dir(path.parent)
    return path


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a training checkpoint; anything else (or a damaged file) is a one-line error naming it."""
    path = Path(path)
    payload = load_plain_torch_file(path, "training checkpoint")
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CodecStudyError(f"{path}: not a codecstudy training checkpoint")
    if int(payload.get("format_version", 0)) > FORMAT_VERSION:
        raise CodecStudyError(f"{path}: checkpoint format {payload['format_version']} is newer than this codecstudy")
    return payload


def step_checkpoints(folder: str | Path) -> list[tuple[int, Path]]:
    """``(step, path)`` of the step checkpoints in a folder, oldest first."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = STEP_PATTERN.match(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


def latest_checkpoint(folder: str | Path) -> tuple[Path, dict[str, Any]] | None:
    """The newest step checkpoint that loads; an unreadable newer one is reported and skipped."""
    for _, path in reversed(step_checkpoints(folder)):
        try:
            return path, load_checkpoint(path)
        except CodecStudyError as exc:
            print(f"warning: {exc}; trying an older checkpoint")
    return None


def prune(folder: str | Path, keep_last: int) -> list[Path]:
    """Delete all but the newest ``keep_last`` step checkpoints (``best.pt`` is never touched)."""
    removed = []
    for _, path in step_checkpoints(folder)[:-keep_last]:
        try:
            path.unlink()
            removed.append(path)
        except OSError:
            pass
    return removed


def remove_stale_temporaries(folder: str | Path) -> None:
    """Temporary files of writes killed mid-way (:func:`codecstudy.files.stale_temporaries`); never valid, safe to
    delete before training restarts."""
    for path in stale_temporaries(folder):
        path.unlink(missing_ok=True)


# ------------------------------------------------------------------------------------------------ RNG states
def capture_rng() -> dict[str, Any]:
    """The python, numpy and torch (CPU and CUDA) generator states, in a ``weights_only``-loadable form."""
    np_state = np.random.get_state(legacy=False)
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {
            "bit_generator": np_state["bit_generator"],
            "key": torch.from_numpy(np.asarray(np_state["state"]["key"], dtype=np.int64)),
            "pos": int(np_state["state"]["pos"]),
            "has_gauss": int(np_state["has_gauss"]),
            "gauss": float(np_state["gauss"]),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    numpy_state = state["numpy"]
    np.random.set_state(
        {
            "bit_generator": numpy_state["bit_generator"],
            "state": {"key": numpy_state["key"].numpy().astype(np.uint32), "pos": numpy_state["pos"]},
            "has_gauss": numpy_state["has_gauss"],
            "gauss": numpy_state["gauss"],
        }
    )
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


def seed_everything(seed: int, rank: int = 0) -> None:
    """Seed python, numpy and torch; each process gets its own stream (quantizer dropout draws differ per rank)."""
    value = seed + 1_000_003 * rank
    random.seed(value)
    np.random.seed(value % 2**32)
    torch.manual_seed(value)
