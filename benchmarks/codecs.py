"""Every codec codecstudy can score, on one 10 s speech clip: measured bitrate, delay, encode + decode speed.

    .venv/bin/python benchmarks/codecs.py [--json runs/bench/codecs.json] [--seconds 10] [--repeats 3]
        [--only opus,codec2]

The clip is eSpeak NG speech (the sentences below, repeated to the length asked for) at 16 kHz, resampled to
each codec's rate. Per codec and setting:

* measured bitrate: the bytes the codec produced for the clip (what each adapter counts: raw packets, packed
  codes, or the whole MP3 file; see ``codecstudy codec info``) x 8 / 10 s;
* delay: the one the codec states (``delay_samples``), and the one measured here as the lag of the cross-
  correlation peak between clip and decoding (for codecs that keep the waveform; a vocoder's phase is its own);
* real-time factor: seconds of encode + decode (one :meth:`roundtrip`) per second of audio, median of
  ``--repeats`` runs after one warm-up, one thread (``torch.set_num_threads(1)``), so it is a per-core figure.

Neural codecs are built with random weights (``:random``; no hub here): their speed is that of the published
models (same architecture), their audio is noise, so only their bitrate and speed are meaningful.
Codecs whose package is missing are listed as such. Results go to docs/codecs.md by hand.
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from codecstudy import audio
from codecstudy.bench import load_average, machine_info
from codecstudy.codec.catalog import open_codec
from codecstudy.codec.interface import MissingPackageError

TEXT = ("the quick brown fox jumps over the lazy dog. codecs compress speech into a few thousand bits per second, "
        "and a classic codec at the same bitrate makes their tables readable.")
CODECS = [
    "opus", "codec2", "lc3", "amrwb", "g722", "mp3",
    "encodec:24khz:random:1.5kbps:6kbps:24kbps", "dac:16khz:random:4:12", "snac:24khz:random", "mimi:random:8:32",
    "soundstream-tiny:1:8",
]


def speech_clip(seconds: float, rate: int = 16000) -> np.ndarray:
    from codecstudy.corpus.espeak import synthesize

    x, sr = synthesize(TEXT, "en-us")
    x = audio.resample(x, sr, rate).astype(np.float32)
    x = 0.5 * x / np.max(np.abs(x))
    reps = int(np.ceil(seconds * rate / x.size))
    return np.tile(x, reps)[: int(seconds * rate)]


def measured_delay(ref: np.ndarray, est: np.ndarray, max_delay: int) -> tuple[int, float]:
    """Lag (samples) and normalised height of the cross-correlation peak of ``est`` behind ``ref``."""
    n = min(ref.size, est.size) - max_delay
    values = np.array([np.dot(ref[:n], est[d : d + n]) for d in range(max_delay)])
    lag = int(np.argmax(values))
    norm = float(np.linalg.norm(ref[:n]) * np.linalg.norm(est[lag : lag + n])) or 1.0
    return lag, float(values[lag] / norm)


def open_named(name: str) -> tuple[Any, list[str]]:
    """Adapters select settings in their name; ``preset:1:8`` means a codecstudy preset at those n_q."""
    if name.startswith("soundstream-"):
        preset, *settings = name.split(":")
        return open_codec(preset), settings
    codec = open_codec(name)
    return codec, codec.default_settings()


def bench(name: str, clip16: np.ndarray, repeats: int) -> list[dict[str, Any]]:
    try:
        codec, settings = open_named(name)
    except MissingPackageError as exc:
        return [{"codec": name, "error": str(exc)}]
    x = audio.resample(clip16, 16000, codec.sample_rate).astype(np.float32)
    rows = []
    for setting in settings:
        trip = codec.roundtrip(x, setting)  # warm-up, and the output we measure
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            codec.roundtrip(x, setting)
            times.append(time.perf_counter() - start)
        seconds = x.size / codec.sample_rate
        lag, corr = measured_delay(x, trip.audio, min(4000, x.size // 4))
        rows.append({
            "codec": name.split(":")[0],
            "setting": setting,
            "sample_rate": codec.sample_rate,
            "nominal_kbps": (codec.setting(setting).nominal_bps or 0) / 1000,
            "measured_kbps": round(trip.measured_bps(x.size, codec.sample_rate) / 1000, 3),
            "counts": codec.bitrate_counts,
            "stated_delay": codec.delay_samples(setting),
            "measured_delay": lag,
            "delay_correlation": round(corr, 3),
            "rtf": round(statistics.median(times) / seconds, 5),
            "weights": codec.weights(),
        })
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| codec | setting | rate (Hz) | nominal kbps | measured kbps | delay stated | delay measured (corr) "
             "| RTF (1 thread) |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['codec']} | - | - | - | - | - | - | not installed |")
            continue
        stated = "calibrated" if r["stated_delay"] is None else str(r["stated_delay"])
        lines.append(f"| {r['codec']} | {r['setting']} | {r['sample_rate']} | {r['nominal_kbps']:g} | "
                     f"{r['measured_kbps']:.2f} | {stated} | {r['measured_delay']} ({r['delay_correlation']:.2f}) | "
                     f"{r['rtf']:.4f} |")
    return "\n".join(lines)


def main() -> int:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", help="comma-separated kinds (default: all)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)  # random weights make denormals; the scorer flushes them too
    clip = speech_clip(args.seconds)
    wanted = [c for c in CODECS if not args.only or c.split(":")[0] in args.only.split(",")]
    rows: list[dict[str, Any]] = []
    for name in wanted:
        print(f"{name} ...", file=sys.stderr, flush=True)
        new = bench(name, clip, args.repeats)
        print(markdown(new).splitlines()[-1] if len(new) == 1 else "\n".join(markdown(new).splitlines()[2:]),
              file=sys.stderr, flush=True)  # each codec's rows as soon as they are measured
        rows += new
    result = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "seconds": args.seconds, "repeats": args.repeats, "machine": machine_info(),
              "load_average": load_average(), "rows": rows}
    print(markdown(rows))
    print(f"\n{result['machine']['cpu']} ({result['machine']['cpu_capability']}), load {result['load_average']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
