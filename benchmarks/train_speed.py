"""Training speed of the SoundStream presets: steps/s and achieved GFLOP/s against this machine's matmul rate.

    .venv/bin/python benchmarks/train_speed.py [--presets soundstream-tiny soundstream-small] [--threads 2]

For each preset, one full training step as the trainer runs it (generator forward with quantizer dropout,
discriminator on fake and real for the adversarial and feature-matching terms, generator update, discriminator
update), at the preset's own ``train.batch_size`` x ``train.segment_seconds``, on synthetic speech-like audio
(no corpus needed). A step without the GAN (before ``train.discriminator_start``) is measured too.

* FLOPs per step: ``FlopCounterMode`` over one whole step (forward and backward convolutions, matmuls), plus
  the LSTMs it cannot see (added analytically: forward, and twice that for backward).
* Time per step: median of ``--repeats`` steps after ``--warmup`` steps.
* Reference: the median float32 2048 x 2048 ``torch.mm`` rate, at the same thread count, measured before and
  after the models in the same process.

Run it on a quiet machine: the script reports how many cores other processes used meanwhile.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from codecstudy.bench.harness import (
    OtherLoad,
    lstm_flops,
    machine_info,
    matmul_gflops,
    retain_freed_memory,
    speechy_batch,
    time_call,
)
from codecstudy.codec.presets import preset_config
from codecstudy.train.trainer import Trainer


def step_flops(trainer: Trainer, wave: torch.Tensor, index: int) -> tuple[int, int]:
    """(counted FLOPs, analytic LSTM FLOPs) of one training step."""
    lstm_total = 0

    def hook(module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        nonlocal lstm_total
        if isinstance(module, nn.LSTM):
            x = args[0]
            steps, batch = (x.shape[1], x.shape[0]) if module.batch_first else (x.shape[0], x.shape[1])
            lstm_total += 3 * lstm_flops(module, steps, batch)  # forward + backward (about twice the forward)

    handle = nn.modules.module.register_module_forward_hook(hook)
    try:
        with FlopCounterMode(display=False) as counter:
            trainer.train_step(wave, index)
    finally:
        handle.remove()
    return int(counter.get_total_flops()), lstm_total


def measure(preset: str, warmup: int, repeats: int, batch: int | None) -> dict[str, Any]:
    overrides = [f"train.batch_size={batch}"] if batch else []
    config = preset_config(preset, overrides)
    tc = config.train_config()
    samples = int(round(tc.segment_seconds * config.sample_rate))
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(config, data="-", out_dir=tmp, show_progress=False)
        trainer.build()
    wave = speechy_batch(tc.batch_size, samples, config.sample_rate)
    gan_index = max(tc.discriminator_start, 1)
    result: dict[str, Any] = {
        "preset": preset,
        "batch": tc.batch_size,
        "segment_seconds": tc.segment_seconds,
        "generator_params_m": round(sum(p.numel() for p in trainer.gan.g_params) / 1e6, 3),
        "discriminator_params_m": round(sum(p.numel() for p in trainer.gan.d_params) / 1e6, 3),
    }
    for label, index in (("gan", gan_index), ("reconstruction_only", 0 if tc.discriminator_start > 0 else None)):
        if index is None:
            continue
        for _ in range(warmup):
            trainer.train_step(wave, index)
        counted, lstm = step_flops(trainer, wave, index)
        load = OtherLoad().start()
        times = [time_call(lambda: trainer.train_step(wave, index))[1] for _ in range(repeats)]
        others = load.stop()
        seconds = statistics.median(times)
        flops = counted + lstm
        result[label] = {
            "seconds_per_step": round(seconds, 4),
            "steps_per_second": round(1 / seconds, 3),
            "audio_seconds_per_second": round(tc.batch_size * tc.segment_seconds / seconds, 2),
            "gflop_per_step": round(flops / 1e9, 2),
            "gflop_lstm_added": round(lstm / 1e9, 3),
            "achieved_gflops": round(flops / seconds / 1e9, 1),
            "other_load_cores": None if others is None else round(others, 2),
        }
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=["soundstream-tiny", "soundstream-small"])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--batch", type=int, default=None, help="override train.batch_size")
    parser.add_argument("--keep-memory", action="store_true",
                        help="glibc keeps freed memory (no mmap/trim per large tensor; codecstudy.bench.harness)")
    parser.add_argument("--json", type=Path, help="also write the report to this JSON file (make bench)")
    args = parser.parse_args()
    if args.keep_memory:
        retain_freed_memory()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    before = matmul_gflops()
    rows = [measure(preset, args.warmup, args.repeats, args.batch) for preset in args.presets]
    after = matmul_gflops()
    peak = statistics.mean([before, after])
    for row in rows:
        for label in ("gan", "reconstruction_only"):
            if label in row:
                row[label]["fraction_of_matmul"] = round(row[label]["achieved_gflops"] / peak, 3)
    report = {
        "threads": args.threads,
        "keep_memory": args.keep_memory,
        "matmul_gflops": {"before": round(before, 1), "after": round(after, 1)},
        "machine": machine_info(),
        "results": rows,
    }
    text = json.dumps(report, indent=2)
    print(text)
    for row in rows:
        for label in ("gan", "reconstruction_only"):
            if label in row:
                r = row[label]
                print(f"{row['preset']:>20} {label:>20}: {r['steps_per_second']:.2f} steps/s, "
                      f"{r['achieved_gflops']:.0f} GFLOP/s = {r['fraction_of_matmul']:.0%} of the matmul rate")
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
