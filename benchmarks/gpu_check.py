"""GPU check: the paper preset's training speed with bf16 and TF32, and the trainer under torchrun with NCCL.

    .venv/bin/python benchmarks/gpu_check.py [--steps 300] [--ddp-steps 50] [--json out.json]    (make gpu-check)

Where no CUDA device is visible it prints one line and exits 0, so `make gpu-check` is safe anywhere.

1. ``soundstream-paper`` (the ESPnet recipe) trains ``--steps`` steps on synthetic speech-like batches at its own
   batch size and crop, with ``train.bf16=true`` and ``train.tf32=true``, GAN active from the first step (the
   recipe's ``discriminator_start`` is 0): steps/s and audio seconds per second over the steps after the warm-up,
   and the peak GPU memory (``torch.cuda.max_memory_allocated``).
2. ``torchrun --standalone --nproc_per_node=<visible GPUs> -m codecstudy train`` on a generated corpus for
   ``--ddp-steps`` steps: the NCCL process group, sharded batches and the end-of-run check that every rank holds the
   same weights (the trainer fails otherwise); its wall time and steps/s are reported.

3. The model-based metrics that run a torch model (SpeechBERTScore with WavLM-large, UTMOS22 strong, SHEET-SSQA,
   and speaker similarity where resemblyzer is installed) score a generated evaluation set of ``--eval-clips``
   pairs (harmonic speech-like clips of ``--eval-seconds`` and a copy with noise at 20 dB SNR) with
   ``evaluate.device=cuda``, through ``evaluate_pairs`` as ``codecstudy evaluate --device cuda`` does: wall time after
   the model is loaded, clips/s and audio seconds per second. The first ``--compare-clips`` pairs are scored on
   the CPU too, and the largest difference between the CPU's and the GPU's values is reported. The models have
   random weights at the published sizes (``tests/helpers/randommodels.py``; the real weights are on model hubs,
   which the check must not need): the cost is the architecture's, the values mean nothing beyond that comparison.

Not covered: DNSMOS (onnxruntime on the CPU) and Whisper WER (faster-whisper/CTranslate2 on the CPU) keep their CPU
runtimes in this version.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any


def no_gpu_line() -> str | None:
    """One line saying why the check cannot run here, or None when a CUDA device is visible."""
    import torch

    if not torch.cuda.is_available():
        build = torch.version.cuda or "none"
        return f"gpu-check: no CUDA GPU visible (torch {torch.__version__}, CUDA build {build}); nothing to do"
    return None



def train_speed(preset: str, steps: int, warmup: int) -> dict[str, Any]:
    import torch

    from codecstudy.bench.harness import speechy_batch
    from codecstudy.codec.presets import preset_config
    from codecstudy.train.trainer import Trainer

    config = preset_config(preset, ["train.bf16=true", "train.tf32=true"])
    tc = config.train_config()
    samples = int(round(tc.segment_seconds * config.sample_rate))
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(config, data="-", out_dir=tmp, show_progress=False)
        trainer.build()
        wave = speechy_batch(tc.batch_size, samples, config.sample_rate).to(trainer.device)
        index = tc.discriminator_start
        for i in range(warmup):
            trainer.train_step(wave, index + i)
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        began = time.perf_counter()
        for i in range(steps):
            trainer.train_step(wave, index + warmup + i)
        torch.cuda.synchronize()
        seconds = time.perf_counter() - began
        peak = torch.cuda.max_memory_allocated()
        del trainer, wave
    # The caching allocator keeps the freed blocks (~120 GiB for the paper preset's batch): hand them back, or the
    # torchrun process started next runs out of GPU memory.
    import gc

    gc.collect()
    torch.cuda.empty_cache()
    return {
        "preset": preset,
        "device": torch.cuda.get_device_name(0),
        "batch": tc.batch_size,
        "segment_seconds": tc.segment_seconds,
        "steps": steps,
        "steps_per_second": round(steps / seconds, 3),
        "audio_seconds_per_second": round(steps * tc.batch_size * tc.segment_seconds / seconds, 1),
        "peak_memory_gib": round(peak / 2**30, 2),
    }


def harmonic_clip(i: int, seconds: float, rate: int, rng: Any) -> Any:
    """A speech-like clip: 7 harmonics of an F0 that differs per clip, a syllable-rate envelope, a little noise."""
    import numpy as np

    t = np.arange(int(seconds * rate)) / rate
    f0 = 100 + 10 * (i % 20)
    wave = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 8)) * 0.1 * (0.6 + 0.4 * np.sin(6 * t))
    return (wave + 0.005 * rng.standard_normal(t.size)).astype(np.float32)


def write_corpus(folder: Path, clips: int = 24, seconds: float = 4.0, rate: int = 16000) -> Path:
    """Generated speech-like WAV clips and their manifest (the trainer's input format)."""
    import numpy as np
    import soundfile as sf

    from codecstudy.corpus.records import Clip

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    lines = []
    for i in range(clips):
        path = folder / f"{i}.wav"
        sf.write(str(path), harmonic_clip(i, seconds, rate, rng), rate)
        clip = Clip(id=f"gpu/{i}", path=str(path), start=0.0, duration=seconds, sample_rate=rate, language="en",
                    domain="speech", speaker=None, text=None, source="generated", license="none", split="train")
        lines.append(json.dumps(clip.to_json()))
    manifest = folder / "train.jsonl"
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return manifest


def torchrun_check(preset: str, steps: int) -> dict[str, Any]:
    import torch

    gpus = torch.cuda.device_count()
    with tempfile.TemporaryDirectory() as tmp:
        manifest = write_corpus(Path(tmp) / "corpus")
        command = [
            sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={gpus}",
            "-m", "codecstudy", "train", "--config", preset, "--data", str(manifest), "--out", str(Path(tmp) / "run"),
            "--quiet", "--set", f"train.steps={steps}", "--set", "train.bf16=true", "--set", "train.tf32=true",
            "--set", f"train.checkpoint_interval={steps}", "--set", f"train.log_interval={max(1, steps // 5)}",
        ]
        began = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "NCCL_DEBUG": "WARN"})
        seconds = time.perf_counter() - began
        summary_path = Path(tmp) / "run" / "summary.json"
        summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    result: dict[str, Any] = {"gpus": gpus, "steps": steps, "returncode": done.returncode,
                              "wall_seconds": round(seconds, 1)}
    if done.returncode != 0:
        result["stderr_tail"] = done.stderr[-2000:]
    else:
        result["train_seconds"] = summary.get("seconds")
        result["world_size"] = summary.get("world_size")
        result["ranks_agree"] = len(set(summary.get("rank_weight_hashes") or [])) == 1
        if summary.get("seconds"):
            result["steps_per_second_with_setup"] = round(steps / summary["seconds"], 3)
    return result


MODEL_METRICS = ("speech_bert", "utmos", "sheet_ssqa", "spk_sim")


def write_pairs(folder: Path, clips: int, seconds: float, rate: int = 16000) -> tuple[Path, Path]:
    """``folder/ref`` and ``folder/dec``: generated clips and the same with white noise at 20 dB SNR."""
    import numpy as np
    import soundfile as sf

    rng = np.random.default_rng(1)
    ref_dir, dec_dir = folder / "ref", folder / "dec"
    ref_dir.mkdir(parents=True)
    dec_dir.mkdir(parents=True)
    for i in range(clips):
        x = harmonic_clip(i, seconds, rate, rng)
        noise = rng.standard_normal(x.size).astype(np.float32)
        noise *= np.sqrt(np.mean(x**2) / np.mean(noise**2)) * 0.1
        sf.write(str(ref_dir / f"{i:03d}.wav"), x, rate)
        sf.write(str(dec_dir / f"{i:03d}.wav"), x + noise, rate)
    return ref_dir, dec_dir


def _subset(ref_dir: Path, dec_dir: Path, folder: Path, n: int) -> tuple[Path, Path]:
    """The first ``n`` pairs in their own folders (the CPU comparison scores only those)."""
    import shutil

    out_ref, out_dec = folder / "ref", folder / "dec"
    out_ref.mkdir(parents=True)
    out_dec.mkdir(parents=True)
    for path in sorted(ref_dir.glob("*.wav"))[:n]:
        shutil.copy(path, out_ref / path.name)
        shutil.copy(dec_dir / path.name, out_dec / path.name)
    return out_ref, out_dec


def _score(metric: str, overrides: dict[str, Any], device: str, ref_dir: Path, dec_dir: Path,
           out: Path) -> tuple[float, dict[str, dict[str, float]]]:
    """Seconds to score the pairs once the model is loaded (a warm-up pair loads it), and the values per clip."""
    import soundfile as sf

    from codecstudy.evaluate.outputs import metrics_meta, read_results
    from codecstudy.evaluate.pair import PairScorer
    from codecstudy.evaluate.pairs import evaluate_pairs
    from codecstudy.evaluate.settings import EvalSettings

    settings = EvalSettings(metrics=[metric], overrides=overrides, device=device, workers=1, ref_cache=None)
    metrics_meta(settings)  # hashes the weights once (memoised), so the timing below is the scoring's
    first = sorted(ref_dir.glob("*.wav"))[0]
    ref, rate = sf.read(str(first))
    est, _ = sf.read(str(dec_dir / first.name))
    PairScorer(settings).score("warm-up", ref, est, rate, {"domain": "speech", "language": "en"})
    began = time.perf_counter()
    evaluate_pairs(ref_dir, dec_dir, out, settings)
    seconds = time.perf_counter() - began
    values = {r["clip"]: r["metrics"] for r in read_results(out)}
    return seconds, values


def model_metrics(clips: int, seconds: float, compare: int, device: str = "cuda") -> dict[str, Any]:
    """Scores a generated evaluation set with each torch-model metric on ``device``, and a few pairs on the CPU."""
    from codecstudy.evaluate.base import MissingDependency
    from codecstudy.evaluate.dependencies import check_available
    from codecstudy.evaluate.registry import METRICS

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from helpers.randommodels import full_size_settings

    report: dict[str, Any] = {"clips": clips, "seconds_per_clip": seconds, "compare_clips": compare,
                              "weights": "random, at the published sizes (tests/helpers/randommodels.py)"}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        ref_dir, dec_dir = write_pairs(tmp / "set", clips, seconds)
        cpu_ref, cpu_dec = _subset(ref_dir, dec_dir, tmp / "subset", compare)
        for metric in MODEL_METRICS:
            try:
                check_available([METRICS[metric]])
            except MissingDependency as exc:
                report[metric] = {"skipped": str(exc)}
                continue
            overrides = full_size_settings(metric, tmp / "models")
            gpu_s, gpu = _score(metric, overrides, device, ref_dir, dec_dir, tmp / f"{metric}-gpu")
            cpu_s, cpu = _score(metric, overrides, "cpu", cpu_ref, cpu_dec, tmp / f"{metric}-cpu")
            differences = [abs(gpu[clip][key] - value) for clip, row in cpu.items() for key, value in row.items()
                           if isinstance(value, float) and key in gpu.get(clip, {})]
            report[metric] = {
                "scored_on_gpu": len(gpu),
                "gpu_seconds": round(gpu_s, 2),
                "gpu_clips_per_second": round(len(gpu) / gpu_s, 2),
                "gpu_audio_seconds_per_second": round(len(gpu) * seconds / gpu_s, 1),
                "cpu_seconds_per_clip": round(cpu_s / max(1, len(cpu)), 3),
                "gpu_speedup_per_clip": round((cpu_s / max(1, len(cpu))) / (gpu_s / max(1, len(gpu))), 1),
                "max_abs_difference_cpu_gpu": max(differences) if differences else None,
                "values_compared": len(differences),
            }
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="soundstream-paper")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--ddp-steps", type=int, default=50)
    parser.add_argument("--eval-clips", type=int, default=32, help="pairs in the generated evaluation set")
    parser.add_argument("--eval-seconds", type=float, default=4.0)
    parser.add_argument("--compare-clips", type=int, default=4, help="of them, scored on the CPU too")
    parser.add_argument("--skip-train", action="store_true", help="only the model-based metrics")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    reason = no_gpu_line()
    if reason:
        print(reason)
        return 0
    report: dict[str, Any] = {"gpu": _gpu_info()}
    parts = [("model_metrics", lambda: model_metrics(args.eval_clips, args.eval_seconds, args.compare_clips))]
    if not args.skip_train:
        parts[:0] = [("train", lambda: train_speed(args.preset, args.steps, args.warmup)),
                     ("torchrun", lambda: torchrun_check(args.preset, args.ddp_steps))]
    for name, part in parts:  # one part's failure is reported and the others still run
        try:
            report[name] = part()
        except Exception:
            report[name] = {"error": traceback.format_exc()[-3000:]}
        _write(report, args.json)
    failed = [name for name in report if "error" in report[name] or report[name].get("returncode", 0) != 0]
    return 1 if failed else 0


def _gpu_info() -> dict[str, Any]:
    import torch

    return {"name": torch.cuda.get_device_name(0), "count": torch.cuda.device_count(), "torch": torch.__version__,
            "cuda": torch.version.cuda}


def _write(report: dict[str, Any], path: Path | None) -> None:
    text = json.dumps(report, indent=2)
    print(text, flush=True)
    if path:
        path.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
