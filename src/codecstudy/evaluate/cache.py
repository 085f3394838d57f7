"""Reference-side features computed once and reused: WORLD analysis and speaker embeddings of each reference.

The same reference is scored against every codec and every number of codebooks; its harvest F0 alone costs about
0.2 s per second of audio, so recomputing it per pair would double the cost of the parity suite. Entries are
keyed by the clip id, the sample rate, a hash of the samples themselves (a changed file or resampler never hits a
stale entry) and the feature settings, and stored as ``.npz`` files written atomically, so a cache shared by
parallel workers or left by a killed run is always consistent. A small in-memory layer serves the repeated
lookups within one process (one clip, several n_q).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from codecstudy.evaluate.metrics.runtime import cache_root
from codecstudy.files import atomic_write

CACHE_VERSION = 1


def default_cache_dir() -> Path:
    """``$CODECSTUDY_CACHE/ref_features``, else ``$XDG_CACHE_HOME/codecstudy/ref_features`` (~/.cache)."""
    return cache_root() / "ref_features"


def signal_digest(x: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(x, dtype=np.float32).tobytes()).hexdigest()[:24]


def feature_key(kind: str, clip_id: str, sample_rate: int, digest: str, settings: dict[str, Any]) -> str:
    text = json.dumps(
        {"v": CACHE_VERSION, "kind": kind, "clip": clip_id, "sr": sample_rate, "audio": digest, "settings": settings},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(text.encode()).hexdigest()


class FeatureCache:
    """Disk cache (optional) behind an LRU memory cache of ``dict[str, np.ndarray]`` entries."""

    def __init__(self, directory: Path | None, memory_items: int = 64) -> None:
        self.directory = Path(directory) if directory else None
        self.memory_items = memory_items
        self._memory: OrderedDict[str, dict[str, np.ndarray]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def _path(self, kind: str, key: str) -> Path:
        assert self.directory is not None
        return self.directory / kind / key[:2] / f"{key}.npz"

    def get(self, kind: str, key: str, compute: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        with self._lock:
            if key in self._memory:
                self._memory.move_to_end(key)
                self.hits += 1
                return self._memory[key]
        value = self._load(kind, key)
        if value is None:
            self.misses += 1
            value = {name: np.asarray(array) for name, array in compute().items()}
            self._store(kind, key, value)
        else:
            self.hits += 1
        with self._lock:
            self._memory[key] = value
            while len(self._memory) > self.memory_items:
                self._memory.popitem(last=False)
        return value

    def _load(self, kind: str, key: str) -> dict[str, np.ndarray] | None:
        if self.directory is None:
            return None
        path = self._path(kind, key)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                return {name: data[name] for name in data.files}
        except (OSError, ValueError):  # a damaged entry is recomputed, never trusted
            return None

    def _store(self, kind: str, key: str, value: dict[str, np.ndarray]) -> None:
        if self.directory is None:
            return
        with atomic_write(self._path(kind, key), "wb") as handle:
            np.savez(handle, **value)
