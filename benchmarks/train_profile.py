"""Where one training step's time goes: data loading, encoder, quantizer, decoder, each loss, backward, optimizer.

    .venv/bin/python benchmarks/train_profile.py [--preset soundstream-tiny] [--threads 2] [--repeats 20]
    ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2 .venv/bin/python benchmarks/train_profile.py  # AVX2 only

Each phase is timed on its own, in the trainer's order, with CPU time (``time.process_time``: all threads of this
process) as well as wall time, because the machines this runs on are shared and CPU time is what other load
disturbs least. The phases are cut where the trainer's step has seams:

* ``data``: one batch from :class:`CropDataset` over a cache of synthetic clips (memory-mapped int16 reads);
* ``encoder``, ``quantizer``, ``decoder``: the generator's forward pass with autograd recording, as in training;
* ``loss/<term>``: each generator loss term's forward (waveform L1, multi-scale mel);
* ``backward``: the whole backward pass of the weighted loss; ``backward/mel`` is the mel loss's own share,
  measured alone on a leaf copy of the reconstruction (the rest is the model's);
* ``optimizer``: gradient norm and the AdamW step;
* ``step``: :meth:`Trainer.train_step` as a whole, for comparison with the sum.

The ``--ops`` table lists the aten operators with the largest CPU share from ``torch.profiler`` over a few steps.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from codecstudy.bench.harness import machine_info, speechy_batch
from codecstudy.codec.presets import preset_config
from codecstudy.corpus.records import Clip
from codecstudy.train.data import AudioCache, CachedClip, CropDataset, CropSampler
from codecstudy.train.trainer import Trainer


def synthetic_cache(folder: Path, sample_rate: int, clips: int = 64, seconds: float = 8.0) -> list[CachedClip]:
    """int16 clips written the way :class:`AudioCache` stores them, for the data-loading phase."""
    rng = np.random.default_rng(0)
    entries = []
    for i in range(clips):
        pcm = (rng.standard_normal(int(seconds * sample_rate)) * 3000).astype(np.int16)
        path = folder / f"{i}.npy"
        np.save(path, pcm)
        clip = Clip(id=f"c{i}", path=str(path), start=0.0, duration=seconds, sample_rate=sample_rate,
                    language="en", domain="speech", speaker=None, text=None, source="synthetic", license="none")
        entries.append(CachedClip(clip, path, pcm.shape[0]))
    return entries


class PhaseTimer:
    """CPU and wall seconds per named phase, over repeated steps."""

    def __init__(self) -> None:
        self.cpu: dict[str, list[float]] = {}
        self.wall: dict[str, list[float]] = {}

    def __call__(self, name: str, fn: Callable[[], Any]) -> Any:
        wall0, cpu0 = time.perf_counter(), time.process_time()
        value = fn()
        self.cpu.setdefault(name, []).append(time.process_time() - cpu0)
        self.wall.setdefault(name, []).append(time.perf_counter() - wall0)
        return value

    def rows(self) -> list[dict[str, Any]]:
        step = statistics.median(self.cpu["step"])
        return [
            {
                "phase": name,
                "cpu_ms": round(1000 * statistics.median(cpu), 2),
                "wall_ms": round(1000 * statistics.median(self.wall[name]), 2),
                "share_of_step_cpu": round(statistics.median(cpu) / step, 3),
            }
            for name, cpu in self.cpu.items()
        ]


def phases(trainer: Trainer, wave: torch.Tensor, dataset: CropDataset, timer: PhaseTimer, index: int) -> None:
    """One generator step cut into phases (no GAN: the demo's schedule never reaches the discriminator)."""
    model, loss = trainer.gan.model, trainer.gan.gen_loss
    timer("data", lambda: dataset[index])
    snapshot = trainer.gan.snapshot_codebooks()
    latent = timer("encoder", lambda: model.encoder(wave))
    q = timer("quantizer", lambda: model.quantizer(latent))
    recon = timer("decoder", lambda: model.decoder(q.quantized)[..., : wave.shape[-1]])
    weights = loss.weights
    waveform = timer("loss/waveform", lambda: torch.nn.functional.l1_loss(recon, wave))
    mel = timer("loss/mel", lambda: loss.mel(recon, wave))
    total = weights["waveform"] * waveform + weights["mel"] * mel + weights["commitment"] * q.commitment
    trainer.gan.g_opt.zero_grad(set_to_none=True)
    timer("backward", total.backward)
    leaf = recon.detach().requires_grad_(True)
    mel_alone = loss.mel(leaf, wave) * weights["mel"]
    timer("backward/mel", mel_alone.backward)

    def optimizer() -> None:
        torch.nn.utils.get_total_norm([p.grad for p in trainer.gan.g_params if p.grad is not None], 2.0)
        trainer.gan.g_opt.step()

    timer("optimizer", optimizer)
    trainer.gan.restore_codebooks(snapshot)
    timer("step", lambda: trainer.train_step(wave, index))


def op_table(trainer: Trainer, wave: torch.Tensor, steps: int, limit: int) -> list[dict[str, Any]]:
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for i in range(steps):
            trainer.train_step(wave, i)
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events)
    return [
        {"op": e.key, "calls": e.count, "self_cpu_share": round(e.self_cpu_time_total / total, 3)}
        for e in events[:limit]
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="soundstream-tiny")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="codec config override")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--ops", type=int, default=15, help="rows of the operator table (0: none)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = preset_config(args.preset, args.overrides)
    tc = config.train_config()
    samples = int(round(tc.segment_seconds * config.sample_rate))
    wave = speechy_batch(tc.batch_size, samples, config.sample_rate)
    timer = PhaseTimer()
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(config, data="-", out_dir=tmp, show_progress=False)
        trainer.build()
        entries = synthetic_cache(Path(tmp), config.sample_rate)
        dataset = CropDataset(entries, CropSampler(entries, samples, tc.batch_size, tc.seed))
        AudioCache.load(entries[0])
        for i in range(args.warmup):
            trainer.train_step(wave, i)
        load_before = os.getloadavg()
        for i in range(args.repeats):
            phases(trainer, wave, dataset, timer, args.warmup + i)
        load_after = os.getloadavg()
        ops = op_table(trainer, wave, 3, args.ops) if args.ops else []
    rows = timer.rows()
    report = {
        "preset": args.preset,
        "overrides": args.overrides,
        "batch": tc.batch_size,
        "segment_seconds": tc.segment_seconds,
        "threads": args.threads,
        "isa_limit": {k: os.environ.get(k) for k in ("ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS")},
        "loadavg_before_after": [load_before[0], load_after[0]],
        "machine": machine_info(),
        "phases": rows,
        "ops": ops,
    }
    print(json.dumps(report, indent=2) if args.json is None else "")
    print(f"{args.preset}, batch {tc.batch_size} x {tc.segment_seconds:g} s, {args.threads} threads, "
          f"load {load_before[0]:.2f} -> {load_after[0]:.2f}, ISA limit {report['isa_limit']}")
    print("| phase | CPU ms | wall ms | share of step CPU |\n|---|---|---|---|")
    for row in rows:
        print(f"| {row['phase']} | {row['cpu_ms']:.1f} | {row['wall_ms']:.1f} | {row['share_of_step_cpu']:.0%} |")
    if ops:
        print("\n| operator | calls (3 steps) | share of self CPU |\n|---|---|---|")
        for op in ops:
            print(f"| {op['op']} | {op['calls']} | {op['self_cpu_share']:.1%} |")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
