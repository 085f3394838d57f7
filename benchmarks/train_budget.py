"""Held-out quality after a fixed training budget: which codec config learns most in the demo's minutes?

    .venv/bin/python benchmarks/train_budget.py --corpus runs/demo/corpus --budget 600 \
        --try base= --try wide=seanet.channels=12 --try lr2=train.generator.lr=2e-3 [--cpu-budget] [--json out.json]

Each ``--try NAME=KEY=VALUE[,KEY=VALUE...]`` (or ``NAME=`` for the preset as is) trains ``--preset`` (default
``soundstream-tiny``) on the corpus's English condition (``conditions/english.jsonl``) until the budget is spent,
then scores the codec on the held-out English clips (``eval_sets/en.jsonl``) at ``--n-q`` codebooks: STOI, wide-band
PESQ, mel distance and SI-SNR (the validation code of ``benchmarks/train_tiny_quality.py``, which this succeeds:
that script trains a fixed number of steps, this one a fixed time).

The budget counts the training loop only (steps and the data they read), not the one-off decoding of the audio
cache nor the scoring. ``--budget`` is wall-clock seconds, what the demo's user waits; on a shared machine
``--cpu-budget`` counts this process's CPU seconds instead, which other load disturbs much less (give the
thread count with ``--threads``: with 2 threads a wall second can be 2 CPU seconds). Validation during training is
off, so the budget is spent on steps; the schedule's step count is raised so that the budget, not ``train.steps``,
ends the run (the learning-rate decay is per step, as in the preset). Results: one row per config with steps
done, seconds, and the four metrics; the load average before and after each run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from codecstudy.codec.catalog import load_codec
from codecstudy.codec.presets import resolve_codec_config
from codecstudy.train.trainer import Trainer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_tiny_quality import score  # noqa: E402


class BudgetTrainer(Trainer):
    """A trainer whose batches stop when the budget is spent; the run then ends as at ``train.steps``."""

    def __init__(self, *args: Any, budget: float, cpu: bool, ema: tuple[float, ...] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.budget = budget
        self.clock = time.process_time if cpu else time.perf_counter
        self.spent = 0.0
        self.steps_done = 0
        self.ema_decays = ema
        self.averages: dict[float, dict[str, Tensor]] = {}

    def train_step(self, wave: Tensor, index: int) -> tuple[dict[str, float], bool]:
        """The step, then each exponential moving average of the generator's weights (``--ema``)."""
        out = super().train_step(wave, index)
        with torch.no_grad():
            params = dict(self.gan.model.named_parameters())
            for decay in self.ema_decays:
                average = self.averages.setdefault(decay, {k: p.detach().clone() for k, p in params.items()})
                for key, p in params.items():
                    average[key].lerp_(p.detach(), 1.0 - decay)
        return out

    def _batches(self, start: int) -> Iterator[Tensor]:
        began = self.clock()
        for batch in super()._batches(start):
            self.spent = self.clock() - began
            if self.spent >= self.budget:
                return
            self.steps_done += 1
            yield batch


def parse_try(text: str) -> tuple[str, list[str]]:
    name, sep, rest = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"--try expects NAME=KEY=VALUE[,KEY=VALUE...] or NAME=, got {text!r}")
    # Commas inside brackets belong to a list value (train.generator.betas=[0.9,0.99]).
    return name, [item for item in re.split(r",(?![^\[]*\])", rest) if item]


def run_config(name: str, overrides: list[str], args: argparse.Namespace) -> dict[str, Any]:
    # --steps: a fixed schedule (e.g. the preset's own, as the reference the budgeted configs are held against)
    steps = args.steps or 1000000
    base = [*overrides, f"train.steps={steps}", "train.valid_interval=1000000", "train.checkpoint_interval=1000000",
            "train.log_interval=50"]
    if args.threads:
        base.append(f"train.threads={args.threads}")
    config = resolve_codec_config(args.preset, base)
    out = args.out / name
    load_before = os.getloadavg()[0]
    trainer = BudgetTrainer(config, args.corpus / "conditions" / "english.jsonl", out, cache_dir=args.cache_dir,
                            show_progress=False, budget=float("inf") if args.steps else args.budget,
                            cpu=args.cpu_budget, ema=tuple(args.ema))
    began_wall, began_cpu = time.perf_counter(), time.process_time()
    result = trainer.run()
    wall, cpu = time.perf_counter() - began_wall, time.process_time() - began_cpu
    load_after = os.getloadavg()[0]
    test_set = args.corpus / "eval_sets" / "en.jsonl"
    metrics = score(load_codec(result.codec_path), test_set, args.cache_dir, args.n_q)
    averaged = {}
    for decay, average in trainer.averages.items():
        model = load_codec(result.codec_path)
        with torch.no_grad():
            for key, p in model.named_parameters():
                p.copy_(average[key])
        averaged[str(decay)] = score(model, test_set, args.cache_dir, args.n_q)
    tc = config.train_config()
    return {
        "name": name,
        "overrides": overrides,
        "budget": {"seconds": args.budget, "kind": "cpu" if args.cpu_budget else "wall"},
        "steps": result.step,
        "batch": tc.batch_size,
        "segment_seconds": tc.segment_seconds,
        "audio_hours_seen": round(result.step * tc.batch_size * tc.segment_seconds / 3600, 3),
        "run_seconds_wall": round(wall, 1),
        "run_seconds_cpu": round(cpu, 1),
        "loadavg_before_after": [load_before, load_after],
        "n_q": args.n_q,
        "test": metrics,
        "test_weight_ema": averaged,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=Path("runs/demo/corpus"))
    parser.add_argument("--out", type=Path, default=Path("runs/train-budget"))
    parser.add_argument("--cache-dir", type=Path, default=None, help="decoded-audio cache (default: OUT/cache)")
    parser.add_argument("--preset", default="soundstream-tiny")
    parser.add_argument("--budget", type=float, default=600.0, help="seconds of training per config")
    parser.add_argument("--cpu-budget", action="store_true", help="count CPU seconds of this process, not wall")
    parser.add_argument("--steps", type=int, default=None,
                        help="train exactly this many steps instead of a budget (a reference schedule)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (train.threads)")
    parser.add_argument("--n-q", type=int, default=8)
    parser.add_argument("--try", dest="tries", type=parse_try, action="append", default=[],
                        metavar="NAME=KEY=VALUE,...")
    parser.add_argument("--ema", type=lambda t: [float(v) for v in t.split(",") if v], default=[],
                        help="also score exponential moving averages of the weights with these decays, e.g. 0.99,0.995")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    args.cache_dir = args.cache_dir or args.out / "cache"
    tries = args.tries or [("preset", [])]
    torch.manual_seed(0)
    rows = []
    for name, overrides in tries:
        rows.append(run_config(name, overrides, args))
        print(json.dumps(rows[-1]), flush=True)  # each config's result as soon as it is known
    report = {"preset": args.preset, "corpus": str(args.corpus), "rows": rows}
    text = json.dumps(report, indent=2)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    print(text)
    print("| config | overrides | steps | wall s | CPU s | load | STOI | PESQ | mel distance | SI-SNR dB |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        t = r["test"]
        print(f"| {r['name']} | {' '.join(r['overrides']) or '-'} | {r['steps']} | {r['run_seconds_wall']} | "
              f"{r['run_seconds_cpu']} | {r['loadavg_before_after'][0]:.1f}-{r['loadavg_before_after'][1]:.1f} | "
              f"{t.get('stoi', float('nan')):.3f} | {t.get('pesq', float('nan')):.2f} | "
              f"{t.get('mel_distance', float('nan')):.3f} | {t.get('si_snr', float('nan')):.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
