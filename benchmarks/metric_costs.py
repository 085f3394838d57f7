"""Cost of every metric per second of audio, single-threaded, on one eSpeak reference and a noisy copy.

Each metric runs alone through the scorer (``PairScorer``, no reference-feature reuse, so the reference side is
paid every time), once to warm up (imports, model loading, numba JIT), then ``--repeats`` times; the median is
divided by the clip's length. SpeechBERTScore runs a WavLM-large *architecture* with random weights (the real
weights are on a model hub): the cost depends on the architecture, not on the weights. UTMOS likewise runs a
random state dict of the published UTMOS22 strong layout at full size (written by ``tests/helpers/randommodels``).
SHEET-SSQA likewise, at the published SSL-MOS sizes.

Run: ``python benchmarks/metric_costs.py [--seconds 10] [--repeats 3] [--metrics mcd,pesq,...]``; prints a
Markdown table (metric, seconds per pair, seconds per second of audio).
"""

from __future__ import annotations

import argparse
import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import platform  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

warnings.filterwarnings("ignore")
SR = 16000
TEXT = "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background. It is easy to tell."
DEFAULT = ("mcd,mcd_dtw,f0_corr,mel_distance,mrstft_distance,pesq,stoi,estoi,ci_sdr,si_snr,visqol_audio,"
           "visqol_speech,dnsmos,spk_sim,wer,speech_bert,utmos,sheet_ssqa,emb_dist")


def pair(seconds: float) -> tuple[np.ndarray, np.ndarray]:
    from codecstudy import audio
    from codecstudy.corpus.espeak import synthesize

    x, sr = synthesize(TEXT, "en-us")
    x = audio.resample(x, sr, SR).astype(np.float64)
    x = np.tile(x, int(np.ceil(seconds * SR / x.size)))[: int(seconds * SR)]
    x = 0.5 * x / np.max(np.abs(x)) + 1e-4 * np.random.default_rng(1).standard_normal(x.size)
    noise = np.random.default_rng(0).standard_normal(x.size)
    return x, x + noise * np.sqrt(np.mean(x**2) / np.mean(noise**2)) * 0.1  # 20 dB SNR


def _helpers() -> object:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from helpers import randommodels

    return randommodels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--metrics", default=DEFAULT)
    args = parser.parse_args()

    import torch

    from codecstudy.evaluate.cache import FeatureCache
    from codecstudy.evaluate.pair import PairScorer
    from codecstudy.evaluate.settings import EvalSettings

    torch.set_num_threads(1)
    ref, est = pair(args.seconds)
    fields = {"text": TEXT, "language": "en", "domain": "speech"}
    tmp = Path(tempfile.mkdtemp())
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, 1 thread; "
          f"{args.seconds:.0f} s pair at {SR} Hz (noise at 20 dB SNR), median of {args.repeats}\n")
    print("| metric | s per pair | s per s of audio |")
    print("|---|---|---|")
    for name in args.metrics.split(","):
        mode = "fast" if name.endswith("@fast") else "parity"
        metric = name.removesuffix("@fast")
        overrides = _helpers().full_size_settings(metric, tmp)
        scorer = PairScorer(EvalSettings(metrics=[metric], mode=mode, overrides=overrides, threads=1))
        scorer.score("warm", ref, est, SR, fields)
        times = []
        for _ in range(args.repeats):
            scorer.cache = FeatureCache(None)
            start = time.perf_counter()
            record = scorer.score("ref", ref, est, SR, fields)
            times.append(time.perf_counter() - start)
            assert not record["errors"], record["errors"]
        t = statistics.median(times)
        print(f"| {name} | {t:.3f} | {t / args.seconds:.4f} |", flush=True)


if __name__ == "__main__":
    main()
