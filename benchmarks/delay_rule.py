"""The old per-clip lag search against one delay per codec, side by side on the same decoded clips.

    .venv/bin/python benchmarks/delay_rule.py --codec runs/demo/codecs/english-soundstream/codec.pt \\
        --sets runs/demo/corpus/eval_sets --n-q 8 --json runs/bench/delay_rule.json

Every clip of each set is encoded and decoded once; the same reconstruction is then scored twice with the same
metrics: (a) the rule codecstudy used before: shift each clip by its own cross-correlation peak within ±100 ms when
the normalised peak is at least 0.1; (b) the codec's delay (declared by the codec, else calibrated once over the
set; :mod:`codecstudy.evaluate.delay`). Printed per set: mean of each metric under both rules, how many clips the
per-clip rule shifted, and its largest shift. The legacy rule lives here only, as the thing being measured.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

from codecstudy import audio
from codecstudy.codec.catalog import load_codec
from codecstudy.corpus.manifest import load_manifest
from codecstudy.evaluate.delay import DelaySettings, calibrate_delay, clip_lag
from codecstudy.evaluate.pair import PairScorer
from codecstudy.evaluate.settings import EvalSettings

LEGACY_MIN_CORRELATION = 0.1


def legacy_delay(ref: np.ndarray, est: np.ndarray, sr: int, max_delay_s: float = 0.1) -> int:
    lag, corr = clip_lag(ref, est, int(round(max_delay_s * sr)))
    return lag if corr >= LEGACY_MIN_CORRELATION else 0


def reconstruct(model, clip, n_q: int) -> tuple[np.ndarray, np.ndarray]:
    import torch

    samples, rate = audio.read(clip.path, clip.start or 0.0, clip.duration)
    ref = audio.resample(samples, rate, model.sample_rate)
    wave = torch.from_numpy(np.ascontiguousarray(ref)).view(1, 1, -1)
    codes = model.encode(wave, n_q=n_q)
    return ref, model.decode(codes, lengths=[ref.size])[0, 0].numpy()


def mean(values: list[float]) -> float:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return sum(finite) / len(finite) if finite else math.nan


def run_set(model, manifest: Path, n_q: int, metrics: list[str]) -> dict:
    sr = model.sample_rate
    pairs = [(clip, *reconstruct(model, clip, n_q)) for clip in load_manifest(manifest)]
    declared = model.delay_samples(n_q) if hasattr(model, "delay_samples") else None
    calibrated = calibrate_delay([(r, e) for _, r, e in pairs], sr, DelaySettings())
    codec_delay = declared if declared is not None else calibrated.samples
    scorer = PairScorer(EvalSettings(metrics=metrics, mode="fast"))
    rows = {"legacy": {m: [] for m in metrics}, "codec": {m: [] for m in metrics}}
    shifts = []
    for clip, ref, est in pairs:
        lag = legacy_delay(ref, est, sr)
        shifts.append(lag)
        for rule, delay in (("legacy", lag), ("codec", codec_delay)):
            values = scorer.score(clip.id, ref, est, sr, {"language": clip.language}, delay=delay)["metrics"]
            for m in metrics:
                rows[rule][m].append(values.get(m))
    return {
        "set": manifest.stem,
        "clips": len(pairs),
        "codec_delay": codec_delay,
        "declared": declared,
        "calibrated": calibrated.to_json(),
        "legacy_shifted": sum(1 for s in shifts if s),
        "legacy_max_shift_ms": round(1000 * max((abs(s) for s in shifts), default=0) / sr, 1),
        "mean": {rule: {m: round(mean(v), 4) for m, v in per.items()} for rule, per in rows.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--codec", required=True, help="checkpoint, codec YAML or preset")
    parser.add_argument("--sets", type=Path, required=True, help="a folder of eval-set manifests (*.jsonl) or one")
    parser.add_argument("--n-q", type=int, default=8)
    parser.add_argument("--metrics", default="stoi,mcd,si_snr,ci_sdr")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    model = load_codec(args.codec).prepare_for_inference()
    manifests = sorted(args.sets.glob("*.jsonl")) if args.sets.is_dir() else [args.sets]
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
    results = [run_set(model, m, args.n_q, metrics) for m in manifests]
    head = "| set | clips | codec delay | clips shifted by per-clip rule (max ms) | " + " | ".join(
        f"{m} per-clip → codec" for m in metrics) + " |"
    print(head)
    print("|" + "---|" * (4 + len(metrics)))
    for r in results:
        cells = [f"{r['mean']['legacy'][m]:.3f} → {r['mean']['codec'][m]:.3f}" for m in metrics]
        shifted = f"{r['legacy_shifted']} ({r['legacy_max_shift_ms']})"
        print(f"| {r['set']} | {r['clips']} | {r['codec_delay']} | {shifted} | " + " | ".join(cells) + " |")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"codec": args.codec, "n_q": args.n_q, "sets": results}, indent=2))


if __name__ == "__main__":
    main()
