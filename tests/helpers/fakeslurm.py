"""A recording fake of Slurm's client commands (``sbatch``, ``squeue``, ``scancel``) for executor tests.

The commands are small Python scripts written into a folder put first on PATH. ``sbatch`` records each call and
answers job ids from 1000 on, adding the job to a queue file as PENDING; ``squeue`` prints the queue's jobs of the
names asked for (``ID|NAME|STATE``, as ``--format=%F|%j|%T``); ``scancel`` records and removes. A partition not in
``FAKE_SLURM_PARTITIONS`` and GPUs when ``FAKE_SLURM_GPUS=0`` are refused with Slurm's own messages.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

_SBATCH = r'''
import json, os, re, sys
from pathlib import Path
home = Path(os.environ["FAKE_SLURM_HOME"])
script = Path(sys.argv[-1]).read_text()
with open(home / "calls.jsonl", "a") as log:
    log.write(json.dumps({"command": "sbatch", "argv": sys.argv[1:], "script": script}) + "\n")
partitions = os.environ.get("FAKE_SLURM_PARTITIONS", "cpu,gpu").split(",")
for name in re.findall(r"^#SBATCH --partition=(\S+)", script, re.M):
    if name not in partitions:
        sys.stderr.write(f"sbatch: error: invalid partition specified: {name}\n"
                         "sbatch: error: Batch job submission failed: Invalid partition name specified\n")
        sys.exit(1)
if os.environ.get("FAKE_SLURM_GPUS") == "0" and re.search(r"^#SBATCH --gres=gpu", script, re.M):
    sys.stderr.write("sbatch: error: Batch job submission failed: Invalid generic resource (gres) specification\n")
    sys.exit(1)
counter = home / "next_id"
job = int(counter.read_text()) if counter.exists() else 1000
counter.write_text(str(job + 1))
name = re.search(r"^#SBATCH --job-name=(\S+)", script, re.M).group(1)
with open(home / "queue.txt", "a") as queue:
    queue.write(f"{job}|{name}|PENDING\n")
print(job)
'''

_SQUEUE = r'''
import json, os, sys
from pathlib import Path
home = Path(os.environ["FAKE_SLURM_HOME"])
with open(home / "calls.jsonl", "a") as log:
    log.write(json.dumps({"command": "squeue", "argv": sys.argv[1:]}) + "\n")
names = next(a for a in sys.argv if a.startswith("--name=")).split("=", 1)[1].split(",")
queue = home / "queue.txt"
for line in (queue.read_text().splitlines() if queue.exists() else []):
    if line.split("|")[1] in names:
        print(line)
'''

_SCANCEL = r'''
import json, os, sys
from pathlib import Path
home = Path(os.environ["FAKE_SLURM_HOME"])
with open(home / "calls.jsonl", "a") as log:
    log.write(json.dumps({"command": "scancel", "argv": sys.argv[1:]}) + "\n")
queue = home / "queue.txt"
lines = queue.read_text().splitlines() if queue.exists() else []
queue.write_text("".join(l + "\n" for l in lines if l.split("|")[0] not in sys.argv[1:]))
'''


@dataclass
class FakeSlurm:
    home: Path

    def calls(self, command: str) -> list[dict]:
        path = self.home / "calls.jsonl"
        lines = path.read_text().splitlines() if path.exists() else []
        return [c for c in map(json.loads, lines) if c["command"] == command]

    def set_queue(self, jobs: list[tuple[str, str, str]]) -> None:
        """The jobs squeue knows: (id, Slurm job name, state)."""
        (self.home / "queue.txt").write_text("".join(f"{i}|{n}|{s}\n" for i, n, s in jobs))

    def queue(self) -> list[list[str]]:
        path = self.home / "queue.txt"
        return [line.split("|") for line in path.read_text().splitlines()] if path.exists() else []

    def forget_calls(self) -> None:
        (self.home / "calls.jsonl").unlink(missing_ok=True)


def install_fake_slurm(folder: Path, monkeypatch: pytest.MonkeyPatch,
                      commands: tuple[str, ...] = ("sbatch", "squeue", "scancel")) -> FakeSlurm:
    """Write the fake commands into ``folder/bin``, the whole PATH (the scripts name their Python)."""
    bin_dir = folder / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    sources = {"sbatch": _SBATCH, "squeue": _SQUEUE, "scancel": _SCANCEL}
    for name in commands:
        path = bin_dir / name
        path.write_text(f"#!{sys.executable}\n{sources[name]}")
        path.chmod(0o755)
    monkeypatch.setenv("FAKE_SLURM_HOME", str(folder))
    monkeypatch.setenv("PATH", str(bin_dir))  # nothing else: a real Slurm on this machine is never reached
    return FakeSlurm(folder)
