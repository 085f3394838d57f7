"""A tiny study on the synthetic corpus: two conditions, three eval sets, a thin codec trained for a few steps.

Every stage of ``codecstudy study run`` runs on it in well under a minute on 2 CPU cores, so runner and report
tests exercise the real code paths (corpus build, trainer, scorer, aggregation) rather than stubs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from helpers.trainsetup import TINY

# The trainer's TINY model (2 codebooks of 16), 6 steps, no validation-time STOI.
STUDY_TRAIN = [*TINY, "train.steps=6", "train.log_interval=2", "train.valid_interval=3", "train.checkpoint_interval=3",
               "train.segment_seconds=0.5"]


def tiny_study(folder: Path, synth_dir: Path, **changes: Any) -> dict[str, Any]:
    """The study as a mapping (tests change keys before writing it)."""
    study: dict[str, Any] = {
        "name": "tiny",
        "description": "synthetic <speech> & ambience",
        "corpus": {
            "sources": [
                {
                    "kind": "synthetic",
                    "out_dir": str(synth_dir),
                    "languages": ["en", "de", "es"],
                    "speakers_per_language": 3,
                    "utterances_per_speaker": 2,
                    "music_clips": 4,
                    "environment_clips": 4,
                    "clip_seconds": 1.0,
                }
            ],
            "splits": {"valid": 0.2, "test": 0.3, "seed": 0},
        },
        "conditions": [
            {"name": "english", "languages": ["en"], "domains": ["speech"]},
            {"name": "multilingual_audio", "domains": ["speech", "music", "environment"]},
        ],
        "eval_sets": [
            {"name": "en", "languages": ["en"], "domains": ["speech"], "splits": ["test", "valid"]},
            {"name": "other_languages", "languages": ["de", "es"], "domains": ["speech"],
             "splits": ["test", "valid"]},
            {"name": "music", "domains": ["music", "environment"], "splits": ["test", "valid", "train"]},
        ],
        "codec": {"preset": "tiny", "overrides": list(STUDY_TRAIN)},
        "evaluate": {"n_q": [1, 2], "metrics": ["mel_distance", "si_snr"], "mode": "fast", "max_clips": 3,
                     "workers": 1},
        "report": {"n_q": 8, "audio_clips": 2, "n_boot": 50},
    }
    study.update(changes)
    return study


def write_study(path: Path, study: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(study, sort_keys=False), encoding="utf-8")
    return path
