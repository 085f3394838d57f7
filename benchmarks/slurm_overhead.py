"""A study through a real one-node Slurm against the local executor on the same machine: wall time of each, Slurm's
overhead, and whether the tables are the same.

Needs root and Debian's Slurm packages (``slurmctld slurmd slurm-client munge``; the tests' helper installs them
when missing). The Slurm node gets the machine's CPUs; every job asks for one CPU (the local runner's ``parallel:
auto`` runs one item per core with one thread each), the corpus and the report jobs for all of them (the local
runner builds the corpus with every core). Run it on an idle machine:

    python benchmarks/slurm_overhead.py --out runs/slurm-bench                       # local, then Slurm
    python benchmarks/slurm_overhead.py --out runs/slurm-bench --local runs/demo      # Slurm against a local run

With ``--local RUN`` the local time is read from RUN's stage records (the first stage's start to the last stage's
end: the study's own work, without ``make install``), and RUN must be the same study at the same commit. The Slurm
time is from the submission to the end of the study's last job. Tables are compared cell by cell (numbers to 1e-9
relative: a sum over one or two threads differs in its last digits).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the tests' one-node Slurm (helpers/localslurm.py)

from helpers.localslurm import local_slurm, slurm_unavailable  # noqa: E402
from helpers.tables import csv_cells  # noqa: E402

TABLES = ("summary.csv", "counts.csv", "baselines.csv")


def _cli(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "codecstudy", *args], cwd=ROOT, env=env, text=True,
                          capture_output=True, check=False)


def records_span(run: Path) -> float:
    """Seconds from the first stage's start to the last stage's end, over every stage record of a run."""
    spans = []
    for path in [run / "stages.jsonl", *sorted((run / "stages").glob("*.jsonl"))]:
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            record = json.loads(line)
            end = datetime.datetime.strptime(record["time"], "%Y-%m-%dT%H:%M:%S%z").timestamp()
            spans.append((end - float(record.get("seconds") or 0.0), end))
    if not spans:
        raise SystemExit(f"{run}: no stage records")
    return max(e for _, e in spans) - min(s for s, _ in spans)


def wait_for_study(env: dict[str, str], study: str, poll: float = 5.0) -> None:
    while True:
        out = subprocess.run(["squeue", "--noheader", "--format=%j"], env=env, capture_output=True, text=True,
                             check=False).stdout
        if not [line for line in out.splitlines() if line.startswith(f"codecstudy.{study}.")]:
            return
        time.sleep(poll)


def tables_equal(a: Path, b: Path) -> dict[str, bool]:
    result = {}
    for name in TABLES:
        left, right = a / "tables" / name, b / "tables" / name
        if left.is_file() or right.is_file():
            result[name] = (left.is_file() and right.is_file()
                            and csv_cells(left.read_text(), approx=True) == csv_cells(right.read_text()))
    return result


def cpu_model() -> str:
    for line in subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--study", default="configs/studies/demo.yaml")
    parser.add_argument("--out", type=Path, required=True, help="folder for the runs and the result (JSON)")
    parser.add_argument("--local", type=Path, help="an existing local run of the same study to compare against")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    why = slurm_unavailable()
    if why:
        print(f"no local Slurm: {why}")
        return 2
    cpus = os.cpu_count() or 1
    sets = [x for o in args.overrides for x in ("--set", o)]
    args.out.mkdir(parents=True, exist_ok=True)
    if args.local:
        local_run, local_seconds = args.local, records_span(args.local)
    else:
        local_run = args.out / "local"
        started = time.monotonic()
        done = _cli(["study", "run", args.study, "--out", str(local_run), *sets])
        local_seconds = time.monotonic() - started
        if done.returncode:
            print(done.stderr[-3000:])
            return 1
    slurm_run = args.out / "slurm"
    study_name = Path(args.study).stem
    resources = ["--set", "slurm.cpus=1", "--set", f"slurm.corpus.cpus={cpus}", "--set", f"slurm.report.cpus={cpus}"]
    with local_slurm(args.out / "slurm-daemons", cpus=cpus) as env:
        env = {**env, "PYTHONPATH": str(ROOT / "src")}
        started = time.monotonic()
        done = _cli(["study", "run", args.study, "--out", str(slurm_run), "--executor", "slurm", *sets,
                     *resources], env)
        if done.returncode:
            print(done.stdout[-2000:], done.stderr[-3000:])
            return 1
        print(done.stdout.splitlines()[0])
        wait_for_study(env, study_name)
        slurm_seconds = time.monotonic() - started
        status = _cli(["study", "status", args.study, "--out", str(slurm_run), *sets], env).stdout
    equal = tables_equal(local_run, slurm_run)
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M"), "study": args.study, "cpu": cpu_model(), "cpus": cpus,
        "local_run": str(local_run), "local_seconds": round(local_seconds, 1),
        "slurm_run": str(slurm_run), "slurm_seconds": round(slurm_seconds, 1),
        "overhead_seconds": round(slurm_seconds - local_seconds, 1),
        "overhead_percent": round(100 * (slurm_seconds - local_seconds) / local_seconds, 1),
        "slurm_records_seconds": round(records_span(slurm_run), 1), "tables_equal": equal,
    }
    (args.out / "slurm_overhead.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(status)
    return 0 if equal and all(equal.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
