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

Not covered: the model-based metrics (DNSMOS, speaker similarity, Whisper WER) load their models on the CPU in
this version (evaluate/metrics/models.py), so scoring an evaluation set "on the GPU" is not measured here.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
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
    from codecstudy.codec.registry import preset_config
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
    return {
        "preset": preset,
        "device": torch.cuda.get_device_name(0),
        "batch": tc.batch_size,
        "segment_seconds": tc.segment_seconds,
        "steps": steps,
        "steps_per_second": round(steps / seconds, 3),
        "audio_seconds_per_second": round(steps * tc.batch_size * tc.segment_seconds / seconds, 1),
        "peak_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2),
    }


def write_corpus(folder: Path, clips: int = 24, seconds: float = 4.0, rate: int = 16000) -> Path:
    """Generated speech-like WAV clips and their manifest (the trainer's input format)."""
    import numpy as np
    import soundfile as sf

    from codecstudy.corpus.records import Clip

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    lines = []
    t = np.arange(int(seconds * rate)) / rate
    for i in range(clips):
        f0 = 100 + 10 * i
        wave = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 8)) * 0.1 * (0.6 + 0.4 * np.sin(6 * t))
        path = folder / f"{i}.wav"
        sf.write(str(path), (wave + 0.005 * rng.standard_normal(t.size)).astype(np.float32), rate)
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="soundstream-paper")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--ddp-steps", type=int, default=50)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    reason = no_gpu_line()
    if reason:
        print(reason)
        return 0
    report = {
        "train": train_speed(args.preset, args.steps, args.warmup),
        "torchrun": torchrun_check(args.preset, args.ddp_steps),
        "model_metrics_on_gpu": "not measured: the model-based metrics run on the CPU in this version",
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0 if report["torchrun"]["returncode"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
