"""Does the tiny preset learn? Train it on the demo corpus's English condition and score held-out English.

    .venv/bin/python benchmarks/train_tiny_quality.py --corpus runs/demo/corpus --out runs/tiny-quality

Steps: extract the English speech clips of the corpus's ``valid`` split as the validation manifest; run
``codecstudy train --config soundstream-tiny`` (its default schedule) on ``conditions/english.jsonl``, timing it;
score the trained codec and the untrained preset (same seed, random weights) on ``eval_sets/en.jsonl`` at 8
codebooks with mel distance, SI-SNR, STOI and wide-band PESQ; plot validation mel distance and STOI against the
step. ``--skip-train`` re-scores an existing run. Results go to ``OUT/quality.json`` and ``OUT/curve.png``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import torch

from codecstudy.codec.catalog import load_codec
from codecstudy.codec.registry import codec_from_preset
from codecstudy.codec.training_config import ValidConfig
from codecstudy.corpus.manifest import load_manifest, save_manifest
from codecstudy.train.data import AudioCache
from codecstudy.train.logging import read_metrics
from codecstudy.train.validation import load_validation_audio, validate

PRESET = "soundstream-tiny"


def valid_manifest(corpus: Path, out: Path) -> Path:
    clips = [c for c in load_manifest(corpus) if c.split == "valid" and c.language == "en" and c.domain == "speech"]
    path = out / "valid_en.jsonl"
    save_manifest(path, clips)
    return path


def score(model: torch.nn.Module, test: Path, cache: Path, n_q: int) -> dict[str, float]:
    clips = load_manifest(test)
    entries = AudioCache(cache, model.sample_rate).build(clips, show_progress=False)
    config = ValidConfig(max_clips=None, max_seconds=60.0, n_q=n_q, stoi=True, pesq=True, audio_samples=0)
    audio = load_validation_audio(entries, config, model.sample_rate)
    metrics = validate(model, audio, config, torch.device("cpu")).metrics
    keep = ("mel_distance", "si_snr", "stoi", "pesq")
    return {k: round(metrics[f"valid/{k}"], 4) for k in keep if f"valid/{k}" in metrics} | {
        "clips": len(audio),
        "perplexity_mean": round(metrics["valid/usage/perplexity/mean"], 2),
    }


def plot(metrics_file: Path, png: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = read_metrics(metrics_file, "valid")
    steps = [r["step"] for r in records]
    fig, left = plt.subplots(figsize=(7, 4))
    left.plot(steps, [r["valid/mel_distance"] for r in records], "o-", color="tab:blue", label="mel distance")
    left.set_xlabel("step")
    left.set_ylabel("validation mel distance (lower is better)", color="tab:blue")
    right = left.twinx()
    right.plot(steps, [r.get("valid/stoi", float("nan")) for r in records], "s-", color="tab:red", label="STOI")
    right.set_ylabel("validation STOI (higher is better)", color="tab:red")
    left.set_title(title)
    left.grid(alpha=0.3)
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)
    plt.close(fig)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=Path("runs/demo/corpus"))
    parser.add_argument("--out", type=Path, default=Path("runs/tiny-quality"))
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--n-q", type=int, default=8)
    parser.add_argument("--skip-train", action="store_true")
    parser.add_argument("--plot", type=Path, default=None, help="PNG of the curve (default: OUT/curve.png)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    cache = args.cache_dir or args.out / "cache"
    valid = valid_manifest(args.corpus / "manifest.jsonl", args.out)
    run = args.out / "run"
    minutes = None
    if not args.skip_train:
        cmd = [sys.executable, "-m", "codecstudy", "train", "--config", PRESET,
               "--data", str(args.corpus / "conditions" / "english.jsonl"), "--valid", str(valid),
               "--out", str(run), "--cache-dir", str(cache), "--quiet"]
        for item in args.overrides:
            cmd += ["--set", item]
        start = time.perf_counter()
        subprocess.run(cmd, check=True)
        minutes = (time.perf_counter() - start) / 60
    test = args.corpus / "eval_sets" / "en.jsonl"
    trained = score(load_codec(run / "codec.pt"), test, cache, args.n_q)
    untrained = score(codec_from_preset(PRESET), test, cache, args.n_q)
    summary = json.loads((run / "summary.json").read_text())
    result = {
        "preset": PRESET,
        "overrides": args.overrides,
        "train_minutes_wall": round(minutes, 2) if minutes is not None else None,
        "train_seconds_in_trainer": summary["seconds"],
        "steps": summary["step"],
        "n_q": args.n_q,
        "test_set": str(test),
        "trained": trained,
        "untrained": untrained,
    }
    (args.out / "quality.json").write_text(json.dumps(result, indent=2) + "\n")
    plot(run / "metrics.jsonl", args.plot or args.out / "curve.png",
         f"{PRESET} on English ({summary['step']} steps): validation")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
