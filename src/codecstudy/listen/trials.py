"""The trial list: which clips a listening test plays, drawn from the evaluation sets stratified by language/domain.

A stratum is a language for speech and the domain otherwise (``speech/en``, ``music``), the same cells as the
MUSHRA table. Trials are dealt round-robin over the strata (so a small test still covers every language and
domain once before any gets a second trial) and each stratum's clips are a seeded sample, so the same study and
seed give the same test. The list is hashed in a canonical form; a ratings file carries that hash and the list
itself, which is how an edited or foreign trial list is recognised on import.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import asdict, dataclass, field
from typing import Any

#: The conditions every trial has besides the codecs: the hidden reference and the BS.1534 anchors.
REFERENCE = "reference"


def stratum(clip: dict[str, Any]) -> str:
    """``speech/<language>`` for speech with a language, else the domain."""
    domain = str(clip.get("domain") or "unknown")
    language = clip.get("language")
    return f"{domain}/{language}" if domain == "speech" and language else domain


@dataclass
class Trial:
    """One MUSHRA screen: a clip, its reference file and one file per rated condition (paths relative to the page)."""

    id: str
    set: str
    clip: str
    language: str | None
    domain: str
    group: str
    seconds: float
    reference: str = ""
    stimuli: dict[str, str] = field(default_factory=dict)
    loudness: dict[str, Any] = field(default_factory=dict)

    def public(self) -> dict[str, Any]:
        """What the trial-list hash covers: everything that defines the trial except measured loudness."""
        data = asdict(self)
        data.pop("loudness")
        return data


def draw_trials(clips_by_set: dict[str, list[dict[str, Any]]], count: int, seed: int,
                min_seconds: float = 0.0) -> list[Trial]:
    """``count`` trials (fewer if the sets hold fewer distinct clips), stratified and seeded; ids ``t01``, ``t02``...

    A clip in several sets is drawn once, under the first set that lists it.
    """
    strata: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    seen: set[str] = set()
    for set_name, clips in clips_by_set.items():
        for clip in sorted(clips, key=lambda c: str(c["id"])):
            if clip["id"] in seen or float(clip.get("duration") or 0.0) < min_seconds:
                continue
            seen.add(clip["id"])
            strata.setdefault(stratum(clip), []).append((set_name, clip))
    rng = random.Random(seed)
    pools = {name: rng.sample(members, len(members)) for name, members in sorted(strata.items())}
    order = sorted(pools)
    rng.shuffle(order)  # which strata get the extra trials when count is not a multiple of their number
    chosen: list[tuple[str, dict[str, Any]]] = []
    while len(chosen) < count and any(pools.values()):
        for name in order:
            if pools[name] and len(chosen) < count:
                chosen.append(pools[name].pop())
    width = max(2, len(str(len(chosen))))
    return [
        Trial(f"t{i + 1:0{width}d}", set_name, str(clip["id"]), clip.get("language"), str(clip.get("domain") or ""),
              stratum(clip), float(clip.get("duration") or 0.0))
        for i, (set_name, clip) in enumerate(chosen)
    ]


def _numbers(data: Any) -> Any:
    """Whole floats as ints: the browser writes ``1.0`` back as ``1``, which must not change the hash."""
    if isinstance(data, float) and data.is_integer():
        return int(data)
    if isinstance(data, dict):
        return {k: _numbers(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_numbers(v) for v in data]
    return data


def canonical(data: Any) -> str:
    """Sorted keys, no spaces, numbers as JavaScript writes them (shortest round-trip form, whole floats as ints)."""
    return json.dumps(_numbers(data), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def trials_hash(public_trials: list[dict[str, Any]]) -> str:
    """SHA-256 of the canonical JSON of the public trial list (what the page exports and import re-hashes)."""
    # surrogatepass: a file may carry a lone surrogate (\ud800), which must give a hash, not an encoding error
    return hashlib.sha256(canonical(public_trials).encode("utf-8", "surrogatepass")).hexdigest()
