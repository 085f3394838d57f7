"""A small study end to end, compared file by file with a reference run: proof that a redesign changed nothing.

The study is the demo's (embedded corpus, three conditions, two baselines cut to one) made small: 60 training steps
per codec, 4 clips per evaluation set, no listening test. Run it once on the code before a change and keep the run
folder; run it again after and compare:

    python benchmarks/same_results.py --out runs/same-before
    python benchmarks/same_results.py --out runs/same-after --reference runs/same-before

The comparison is byte for byte on ``summary.csv``, ``counts.csv``, ``baselines.csv`` and ``delays.csv``, and
line for line on every ``eval/*/*/*/results*.jsonl`` (the lines parsed, so key order does not matter; the
``seconds`` a metric took is left out: it is a timing, not a result). Exit status 1 when anything differs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
TABLES = ("summary.csv", "counts.csv", "baselines.csv", "delays.csv")
# Per-line values that are measurements of time, not results.
TIMING_KEYS = {"seconds", "elapsed", "time"}


def small_study(path: Path) -> Path:
    spec = yaml.safe_load((ROOT / "configs" / "studies" / "demo.yaml").read_text(encoding="utf-8"))
    spec["name"] = "same-results"
    spec["codec"]["overrides"] = [
        "train.valid.max_clips=4", "train.steps=60", "train.segment_seconds=0.5", "train.discriminator_start=60",
        "train.valid_interval=30", "train.checkpoint_interval=30",
    ]
    spec["evaluate"]["max_clips"] = 4
    spec["baselines"]["codecs"] = ["opus:6kbps"]
    spec["listen"] = {"enabled": False}
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


def _result_lines(path: Path) -> list[dict]:
    lines = []
    for text in path.read_text(encoding="utf-8").splitlines():
        if text.strip():
            record = json.loads(text)
            lines.append({k: v for k, v in record.items() if k not in TIMING_KEYS})
    return sorted(lines, key=lambda r: json.dumps(r, sort_keys=True))


def compare(run: Path, reference: Path) -> list[str]:
    problems = []
    for name in TABLES:
        ours, theirs = run / "tables" / name, reference / "tables" / name
        if not theirs.exists():
            problems.append(f"reference has no tables/{name}")
        elif not ours.exists() or ours.read_bytes() != theirs.read_bytes():
            problems.append(f"tables/{name} differs")
    pattern = "eval/*/*/*/results*.jsonl"
    ours = {p.relative_to(run) for p in run.glob(pattern)}
    theirs = {p.relative_to(reference) for p in reference.glob(pattern)}
    for missing in sorted(theirs - ours):
        problems.append(f"{missing}: missing")
    for extra in sorted(ours - theirs):
        problems.append(f"{extra}: not in the reference")
    for rel in sorted(ours & theirs):
        if _result_lines(run / rel) != _result_lines(reference / rel):
            problems.append(f"{rel}: result lines differ")
    compared = len(ours & theirs)
    print(f"compared {len(TABLES)} tables and {compared} result files ({run} against {reference})")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="run folder of this run")
    parser.add_argument("--reference", type=Path, help="run folder to compare with (omit to only run)")
    parser.add_argument("--compare-only", action="store_true", help="do not run, only compare --out with --reference")
    args = parser.parse_args(argv)
    if not args.compare_only:
        args.out.mkdir(parents=True, exist_ok=True)
        study = small_study(args.out.parent / f"{args.out.name}.study.yaml")
        started = time.monotonic()
        command = [sys.executable, "-m", "codecstudy", "study", "run", str(study), "--out", str(args.out), "--quiet"]
        subprocess.run(command, check=True, env={**os.environ})
        print(f"study run in {time.monotonic() - started:.0f} s")
    if args.reference is None:
        return 0
    problems = compare(args.out, args.reference)
    for problem in problems:
        print(problem)
    print("identical" if not problems else f"{len(problems)} differences")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
