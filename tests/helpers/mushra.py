"""Ratings files as the listening-test page exports them, made in Python for the import tests."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any


def export(test: dict[str, Any], listener: str, score: Callable[[dict[str, Any], str], float],
           languages: tuple[str, ...] = ("en",)) -> dict[str, Any]:
    """A complete session: ``score(trial, condition)`` gives each rating."""
    return {
        "format": test["format"], "version": test["version"], "codecstudy": test["codecstudy"],
        "study": dict(test["study"]), "trials_hash": test["trials_hash"], "trials": copy.deepcopy(test["trials"]),
        "listener": {"id": listener, "languages": list(languages)},
        "session": {"id": f"s-{listener}", "started": "2026-01-01T00:00:00Z", "finished": "2026-01-01T00:10:00Z",
                    "complete": True, "order_seed": f"{test['seed']}:{listener}"},
        "ratings": [{"trial": t["id"], "position": i + 1, "order": sorted(t["stimuli"]),
                     "scores": {c: score(t, c) for c in sorted(t["stimuli"])}, "seconds": 10.0}
                    for i, t in enumerate(test["trials"])],
    }


def write(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path
