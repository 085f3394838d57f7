"""A tiny generated training corpus and a model/schedule small enough for trainer tests on 2 CPU cores."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from codecstudy.corpus.records import Clip

# soundstream-tiny, thinner and without its LSTM, 0.25 s crops, one thread: a step takes a few milliseconds.
TINY = [
    "seanet.channels=4",
    "seanet.dimension=16",
    "seanet.lstm_layers=0",
    "quantizer.n_codebooks=2",
    "quantizer.codebook_size=16",
    "quantizer.kmeans_iters=2",
    "train.batch_size=2",
    "train.segment_seconds=0.25",
    "train.threads=1",
    "train.generator.lr=1e-3",
    "train.valid.max_clips=3",
    "train.valid.stoi=false",
    "train.valid.audio_samples=1",
]


def _signal(seconds: float, rate: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * rate))) / rate
    f0 = 120.0 + 40.0 * seed
    wave = 0.3 * np.sin(2 * np.pi * f0 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3.0 * t))
    return (wave + 0.02 * rng.standard_normal(t.size)).astype(np.float32)


def clip_record(path: Path, clip_id: str, rate: int, start: float, duration: float, **labels: object) -> dict:
    clip = Clip(
        id=clip_id,
        path=str(path),
        start=start,
        duration=duration,
        sample_rate=rate,
        language=labels.get("language", "en"),  # type: ignore[arg-type]
        domain=str(labels.get("domain", "speech")),
        speaker=None,
        text=None,
        source="test",
        license="CC0-1.0",
        split=str(labels.get("split", "train")),
    )
    return clip.to_json()


def write_corpus(folder: Path, clips: int = 4, seconds: float = 1.0, rate: int = 16000, split: str = "train",
                 language: str = "en", domain: str = "speech") -> Path:
    """``clips`` WAV files plus one clip that is a range of a longer 22.05 kHz file; returns the manifest path."""
    folder.mkdir(parents=True, exist_ok=True)
    records = []
    for i in range(clips):
        path = folder / f"{split}-{i}.wav"
        sf.write(str(path), _signal(seconds, rate, i), rate)
        records.append(clip_record(path, f"{split}/{i}", rate, 0.0, seconds, split=split, language=language,
                                   domain=domain))
    long_path = folder / f"{split}-long.wav"
    sf.write(str(long_path), _signal(3.0, 22050, 7), 22050)
    records.append(clip_record(long_path, f"{split}/long-range", 22050, 1.0, 1.5, split=split, language=language,
                               domain=domain))
    manifest = folder / f"{split}.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return manifest


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = "1"
    env["PYTHONWARNINGS"] = "ignore"
    return env


def train_command(data: Path, out: Path, *extra: str, valid: Path | None = None) -> list[str]:
    cmd = [sys.executable, "-m", "codecstudy", "train", "--config", "soundstream-tiny", "--data", str(data),
           "--out", str(out), "--quiet"]
    if valid is not None:
        cmd += ["--valid", str(valid)]
    for item in [*TINY, *extra]:
        cmd += ["--set", item]
    return cmd


def run_train_cli(data: Path, out: Path, *extra: str, valid: Path | None = None,
                  timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(train_command(data, out, *extra, valid=valid), capture_output=True, text=True,
                          env=cli_env(), timeout=timeout)
