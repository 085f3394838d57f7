"""Slurm's client commands (``sbatch``, ``squeue``, ``scancel``) as functions whose failures are one line each.

Only what a study needs: submit a script with ``afterok`` dependencies (``--kill-on-invalid-dep=yes``, so a failed
item never leaves its dependents pending for ever), list the jobs of some names in any state Slurm still remembers,
cancel jobs by id. Nothing here needs Slurm's accounting (``sacct``).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from codecstudy.errors import CodecStudyError

#: Job states after which a job no longer runs (squeue shows them for a while after the end).
ENDED = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE",
         "PREEMPTED", "SPECIAL_EXIT", "REVOKED"}


class SlurmError(CodecStudyError):
    """A Slurm command is missing or refused what it was asked."""


def require(command: str = "sbatch") -> str:
    path = shutil.which(command)
    if path is None:
        raise SlurmError(f"{command} not found on PATH: executor slurm needs Slurm's client commands (run on a login "
                         "node, or use --executor local)")
    return path


def _call(args: list[str]) -> subprocess.CompletedProcess[str]:
    require(args[0])
    return subprocess.run(args, capture_output=True, text=True, check=False)


def _last_line(text: str, command: str = "") -> str:
    """The last line a command printed, without its own ``command:`` prefix (the caller names the command)."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    line = lines[-1] if lines else "no message"
    return line.removeprefix(f"{command}: ").strip() if command else line


def sbatch(script: Path, after: list[str], options: list[str] | None = None) -> str:
    """Submit ``script`` after every job in ``after`` succeeded (``options`` on the command line override the
    script's ``#SBATCH`` lines); returns the job id."""
    args = ["sbatch", "--parsable", *(options or [])]
    if after:
        args += [f"--dependency=afterok:{':'.join(after)}", "--kill-on-invalid-dep=yes"]
    done = _call([*args, str(script)])
    if done.returncode != 0:
        raise SlurmError(_last_line(done.stderr or done.stdout))
    job_id = done.stdout.strip().split(";")[0]
    if not job_id.isdigit():
        raise SlurmError(f"sbatch answered {done.stdout.strip()!r}, not a job id")
    return job_id


@dataclass(frozen=True)
class QueuedJob:
    id: str  # the job id (an array's own id for its tasks)
    name: str
    state: str  # PENDING, RUNNING, ... or an ended state squeue still shows

    @property
    def active(self) -> bool:
        return self.state not in ENDED


def squeue(names: list[str]) -> list[QueuedJob]:
    """Jobs with these names in any state Slurm still remembers (an array's tasks share their array's id)."""
    if not names:
        return []
    done = _call(["squeue", "--noheader", "--states=all", "--format=%F|%j|%T", f"--name={','.join(names)}"])
    if done.returncode != 0:
        raise SlurmError(f"squeue: {_last_line(done.stderr or done.stdout, 'squeue')}")
    jobs = []
    for line in done.stdout.splitlines():
        parts = line.strip().split("|")
        if len(parts) == 3:
            jobs.append(QueuedJob(*parts))
    return jobs


def scancel(ids: list[str]) -> None:
    if not ids:
        return
    done = _call(["scancel", *ids])
    if done.returncode != 0:
        raise SlurmError(f"scancel: {_last_line(done.stderr or done.stdout, 'scancel')}")
