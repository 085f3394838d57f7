"""What the evaluator models share: one loaded instance per process, the torch device, 16 kHz input, file hashes.

Every model-based metric (DNSMOS, speaker similarity, ASR, UTMOS, SHEET, SpeechBERTScore, embeddings) loads its
model once per process and key (:func:`cached_model`), runs it on the device the evaluation names
(:func:`torch_device`), mostly on 16 kHz input (:func:`at_16k`), and records the hash of its weights in meta.json
(:func:`file_sha256`, memoised because model files are tens of megabytes and meta.json is written per run).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

from codecstudy import audio
from codecstudy.evaluate.base import MetricError
from codecstudy.files import sha256_file

MODEL_RATE = 16000
_LOCK = threading.Lock()
_MODELS: dict[tuple[str, ...], Any] = {}
Model = TypeVar("Model")


def torch_device(device: str | None = "cpu") -> str:
    """The torch device an evaluator model runs on: ``cpu``, ``cuda``/``cuda:N``, or ``auto`` (a GPU when one is
    visible, else the CPU; under torchrun the rank's own GPU, ``cuda:LOCAL_RANK``). A GPU asked for where none is
    visible is a one-line error rather than a quiet CPU run, so that a cluster job or a timing never measures
    another device than the one it names."""
    name = (device or "cpu").strip().lower()
    if name == "auto":
        if not torch.cuda.is_available():
            return "cpu"
        local = int(os.environ.get("LOCAL_RANK", "0") or 0)
        return f"cuda:{local}" if 0 < local < torch.cuda.device_count() else "cuda"
    if name == "cpu":
        return "cpu"
    if name == "cuda" or re.fullmatch(r"cuda:\d+", name):
        if not torch.cuda.is_available():
            raise MetricError(f"device {name!r}: no CUDA GPU visible to torch {torch.__version__}; use cpu or auto")
        index = int(name.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise MetricError(f"device {name!r}: only {torch.cuda.device_count()} CUDA GPU(s) visible")
        return name
    raise MetricError(f"device {device!r}: expected cpu, cuda, cuda:N or auto")


def full_float32(device: str) -> None:
    """On a GPU, evaluator models run in full float32: TF32 matrix products and cuDNN convolutions/RNNs (torch's
    default for cuDNN) round inputs to 10 mantissa bits, enough to move a model's score by more than the CPU/GPU
    comparison of benchmarks/gpu_check.py tolerates. Process-wide, so it is called by the scoring process only."""
    if device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False


def cached_model(key: tuple[str, ...], build: Callable[[], Model]) -> Model:
    """One instance per process and key: evaluator models are loaded once, not per clip."""
    with _LOCK:
        if key not in _MODELS:
            _MODELS[key] = build()
        return _MODELS[key]


@lru_cache(maxsize=32)
def _memoised_sha256(path: str, size: int, mtime: float) -> str:
    return sha256_file(path)


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a model file (memoised per path, size and mtime, since model files are tens of MB)."""
    stat = os.stat(path)
    return _memoised_sha256(str(path), stat.st_size, stat.st_mtime)


def at_16k(x: np.ndarray, sr: int) -> np.ndarray:
    """``x`` resampled to the 16 kHz most evaluator models take."""
    return audio.resample(np.asarray(x, dtype=np.float32), sr, MODEL_RATE)


def cache_root() -> Path:
    """Where codecstudy keeps what it builds once (assembled models, reference features): ``$CODECSTUDY_CACHE``,
    else ``$XDG_CACHE_HOME/codecstudy`` (``~/.cache/codecstudy``)."""
    base = os.environ.get("CODECSTUDY_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "codecstudy"
    )
    return Path(base)
