"""Speed of the evaluation suite against calling the libraries the way VERSA does, with the values compared.

The parity suite is VERSA's ``mcd_f0`` (without and with DTW: mcd, f0_rmse, f0_corr and their DTW variants),
``pesq`` (wide band), ``stoi`` and CI-SDR. The baseline re-implements VERSA's calls literally: per signal
``world_extract`` (FIR low-cut, harvest, cheaptrick, d4c, ``pysptk.sp2mc``, the per-bin Python power loop), then
the truncated frame-wise distances, ``fastdtw`` with ``scipy.spatial.distance.euclidean`` for both DTW variants,
``pesq.pesq``, ``pystoi.stoi`` and a 512-tap CI-SDR (``fast_bss_eval.sdr``, numerically the same as the ``ci_sdr``
package VERSA imports, which pip cannot install by name). The baseline is generous: it analyses each signal once
for both DTW settings, where VERSA would run ``mcd_f0`` twice.

Pairs are eSpeak sentences (references) each degraded in ``--conditions`` ways (white noise at 20 and 10 dB, a
4 kHz low-pass, noise + low-pass), as a codec study scores every reference at several bitrates. Three runs of
ours are timed side by side with the baseline in one process, single-threaded:

* parity, cold cache: every pair pays for its reference's analysis (no reuse at all);
* parity: reference features computed once per reference and reused (the scorer's cache);
* fast: dio + stonemask instead of harvest and the exact DTW, reference features reused.

Run: ``python benchmarks/eval_speed.py [--refs 3] [--conditions 4] [--seconds 6]``; prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import platform  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

warnings.filterwarnings("ignore")

SR = 16000
SENTENCES = [
    "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background.",
    "It is easy to tell the depth of a well. These days a chicken leg is a rare dish.",
    "Rice is often served in round bowls. The juice of lemons makes fine punch.",
    "The box was thrown beside the parked truck. The hogs were fed chopped corn and garbage.",
    "Four hours of steady work faced us. A large size in stockings is hard to sell.",
    "The boy was there when the sun rose. A rod is used to catch pink salmon.",
]


def make_pairs(n_refs: int, n_conditions: int, seconds: float) -> list[tuple[int, np.ndarray, np.ndarray]]:
    from scipy.signal import butter, sosfilt

    from codecstudy import audio
    from codecstudy.corpus.espeak import synthesize

    rng = np.random.default_rng(0)
    pairs = []
    for r in range(n_refs):
        x, sr = synthesize(SENTENCES[r % len(SENTENCES)], "en-us")
        x = audio.resample(x, sr, SR).astype(np.float64)[: int(seconds * SR)]
        x = 0.5 * x / np.max(np.abs(x)) + 1e-4 * rng.standard_normal(x.size)
        lp = sosfilt(butter(8, 4000, fs=SR, output="sos"), x)

        def noisy(y: np.ndarray, snr: float) -> np.ndarray:
            n = rng.standard_normal(y.size)
            return y + n * np.sqrt(np.mean(y**2) / np.mean(n**2)) * 10 ** (-snr / 20)

        conditions = [noisy(x, 20), noisy(x, 10), lp, noisy(lp, 15)]
        # float32 like every decoded file: MCD of band-limited audio depends on the rounding of near-silent bands
        ref = x.astype(np.float32).astype(np.float64)
        for c in range(n_conditions):
            pairs.append((r, ref, conditions[c % len(conditions)].astype(np.float32).astype(np.float64)))
    return pairs


# ---------------------------------------------------------------------------------------- VERSA-style baseline
def _versa_world(x: np.ndarray) -> dict[str, np.ndarray]:
    import pysptk
    import pyworld as pw
    from scipy.signal import firwin, lfilter

    x = np.array(x * np.iinfo(np.int16).max, dtype=np.float64)
    x = lfilter(firwin(255, 70 / (SR // 2), pass_zero=False), 1, x)
    f0, t = pw.harvest(x, SR, f0_floor=40, f0_ceil=800, frame_period=5)
    sp = pw.cheaptrick(x, f0, t, SR, fft_size=1024)
    pw.d4c(x, f0, t, SR, fft_size=1024)  # VERSA computes it and never uses it

    def spvec2pow(s: np.ndarray) -> float:
        half = len(s) - 1
        power = s[0] + s[half]
        for k in range(1, half):
            power += 2.0 * s[k]
        return power / (2 * half)

    npow = np.apply_along_axis(spvec2pow, 1, sp)
    return {"f0": f0, "mcep": pysptk.sp2mc(sp, 39, 0.466), "npow": 10.0 * np.log10(npow / np.mean(npow))}


def versa_style(ref: np.ndarray, est: np.ndarray) -> dict[str, float]:
    import fast_bss_eval
    import pystoi
    import scipy.spatial.distance
    import scipy.stats
    from fastdtw import fastdtw
    from pesq import pesq

    p, g = _versa_world(est), _versa_world(ref)
    n = min(len(p["f0"]), len(g["f0"]))
    out = {
        "mcd": float(np.mean(10 / np.log(10.0) * np.sqrt(2 * np.sum((p["mcep"][:n] - g["mcep"][:n]) ** 2, 1)))),
        "f0_rmse": float(np.sqrt(np.mean((p["f0"][:n] - g["f0"][:n]) ** 2))),
        "f0_corr": float(scipy.stats.pearsonr(p["f0"][:n], g["f0"][:n])[0]),
    }
    pm, gm = p["mcep"][p["npow"] > -20], g["mcep"][g["npow"] > -20]
    _, path = fastdtw(pm, gm, dist=scipy.spatial.distance.euclidean)
    path = np.array(path).T
    out["mcd_dtw"] = float(np.mean(10 / np.log(10.0) * np.sqrt(2 * np.sum((pm[path[0]] - gm[path[1]]) ** 2, 1))))
    gi, pi = np.where(g["f0"] > 0)[0], np.where(p["f0"] > 0)[0]
    _, path = fastdtw(p["mcep"][pi], g["mcep"][gi], dist=scipy.spatial.distance.euclidean)
    path = np.array(path).T
    pf, gf = p["f0"][pi][path[0]], g["f0"][gi][path[1]]
    out["f0_rmse_dtw"] = float(np.sqrt(np.mean((pf - gf) ** 2)))
    out["f0_corr_dtw"] = float(scipy.stats.pearsonr(pf, gf)[0])
    out["pesq"] = float(pesq(SR, ref, est, "wb"))
    out["stoi"] = float(pystoi.stoi(ref, est, SR))
    # VERSA does not clamp (an exact copy is +inf); clamped at our 100 dB here so the values can be compared
    out["ci_sdr"] = min(100.0, float(fast_bss_eval.sdr(ref[None], est[None], filter_length=512)[0]))
    return out


# ------------------------------------------------------------------------------------------------------ ours
METRICS = ["mcd", "mcd_dtw", "f0_rmse", "f0_corr", "f0_rmse_dtw", "f0_corr_dtw", "pesq", "stoi", "ci_sdr"]


def make_scorer(mode: str) -> Any:
    from codecstudy.evaluate.cache import FeatureCache
    from codecstudy.evaluate.pair import PairScorer
    from codecstudy.evaluate.settings import EvalSettings

    return PairScorer(EvalSettings(metrics=METRICS, mode=mode, delay_compensation=False), FeatureCache(None))


def ours(scorer: Any, pairs: list, reuse: bool) -> tuple[float, list[dict[str, float]]]:
    """Time ``scorer`` on ``pairs``; without ``reuse`` each pair starts from an empty reference cache."""
    from codecstudy.evaluate.cache import FeatureCache

    values = []
    start = time.perf_counter()
    for r, ref, est in pairs:
        if not reuse:
            scorer.cache = FeatureCache(None)
        record = scorer.score(f"ref{r}", ref, est, SR)
        assert not record["errors"], record["errors"]
        values.append(record["metrics"])
    return time.perf_counter() - start, values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--refs", type=int, default=3, help="reference sentences")
    parser.add_argument("--conditions", type=int, default=4, help="degraded versions per reference")
    parser.add_argument("--seconds", type=float, default=6.0, help="length of each reference")
    parser.add_argument("--json", help="also write the timings and differences to this JSON file (make bench)")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    pairs = make_pairs(args.refs, args.conditions, args.seconds)
    audio_s = sum(ref.size for _, ref, _ in pairs) / SR
    runs = {"cold": make_scorer("parity"), "parity": make_scorer("parity"), "fast": make_scorer("fast")}
    # Warm-up: imports, the freqt matrix, numba's DTW, pesq/pystoi first calls (not part of any timing).
    warm = [(-1, pairs[0][1][: SR * 2], pairs[0][2][: SR * 2])]
    versa_style(warm[0][1], warm[0][2])
    for scorer in runs.values():
        ours(scorer, warm, reuse=False)

    # Interleaved by reference, so that load from other processes falls on every run alike.
    times = {"versa": 0.0, "cold": 0.0, "parity": 0.0, "fast": 0.0}
    values: dict[str, list[dict[str, float]]] = {k: [] for k in times}
    for r in range(args.refs):
        group = [p for p in pairs if p[0] == r]
        start = time.perf_counter()
        values["versa"] += [versa_style(ref, est) for _, ref, est in group]
        times["versa"] += time.perf_counter() - start
        for name, scorer in runs.items():
            t, v = ours(scorer, group, reuse=name != "cold")
            times[name] += t
            values[name] += v
    t_base, baseline = times["versa"], values["versa"]
    t_cold, v_cold = times["cold"], values["cold"]
    t_parity, v_parity = times["parity"], values["parity"]
    t_fast, v_fast = times["fast"], values["fast"]

    import fastdtw

    c_ext = hasattr(fastdtw, "fastdtw") and "_fastdtw" in getattr(fastdtw.fastdtw, "__module__", "")
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"python {platform.python_version()}, 1 thread; fastdtw C extension: {c_ext}"
    )
    print(f"{len(pairs)} pairs ({args.refs} references x {args.conditions} conditions), {audio_s:.0f} s of audio\n")
    print("| run | seconds | s per pair | speed-up vs VERSA-style |")
    print("|---|---|---|---|")
    print(f"| VERSA-style library calls | {t_base:.1f} | {t_base / len(pairs):.2f} | 1.0x |")
    for name, t in (("ours, parity, no reference reuse", t_cold), ("ours, parity", t_parity), ("ours, fast", t_fast)):
        print(f"| {name} | {t:.1f} | {t / len(pairs):.2f} | {t_base / t:.1f}x |")
    print("\nlargest |difference| from the VERSA-style values over all pairs")
    print("| metric | parity | fast |")
    print("|---|---|---|")
    diffs: dict[str, dict[str, float]] = {}
    for key in METRICS:
        d_par = max(abs(b[key] - o[key]) for b, o in zip(baseline, v_parity))
        d_cold = max(abs(b[key] - o[key]) for b, o in zip(baseline, v_cold))
        d_fast = max(abs(b[key] - o[key]) for b, o in zip(baseline, v_fast))
        print(f"| {key} | {max(d_par, d_cold):.2e} | {d_fast:.3g} |")
        diffs[key] = {"parity": max(d_par, d_cold), "fast": d_fast}
    if args.json:
        import json

        result = {
            "pairs": len(pairs),
            "audio_seconds": audio_s,
            "seconds": times,
            "speedup": {k: t_base / v for k, v in times.items() if k != "versa"},
            "max_abs_difference": diffs,
        }
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(result, handle, indent=2)


if __name__ == "__main__":
    main()
