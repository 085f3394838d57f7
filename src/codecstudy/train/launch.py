"""Training as a launched command: ``torchrun`` (or ``srun ... torchrun`` on several nodes) starting ``codecstudy
train`` on a job's devices, watched by the process that holds the study item's lock.

Why a child command and not the trainer in this process: a cluster job's training on several GPUs is one process per
GPU, which only a launcher can start; the study's item (its lock, its state, its records) stays in the process that
started it, so the job's bookkeeping is the same for one process and for many. The launcher is a plain command line
(``slurm/train-*.sbatch`` shows it), so a user can read and change it.

A stop request (Slurm's USR2 before a time limit or a preemption) reaches this process only; it is passed on to the
ranks as a file (:data:`codecstudy.train.interrupt.STOP_FILE_VARIABLE`), they checkpoint after the same step and
exit, and this process raises :class:`TrainingInterrupted` at the step of the checkpoint they left.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from codecstudy.errors import CodecStudyError
from codecstudy.files import read_json_or_none
from codecstudy.train import checkpoint as ckpt
from codecstudy.train.interrupt import STOP_FILE_VARIABLE, TrainingInterrupted, stop_requested
from codecstudy.train.trainer import CHECKPOINT_DIR, SUMMARY_NAME

STOP_NAME = "stop.request"  # in the training's folder, while a launched training runs
POLL_SECONDS = 0.5


@dataclass(frozen=True)
class LaunchedTraining:
    """What a finished launched training left: its last step and its seconds (from its ``summary.json``)."""

    step: int
    seconds: float
    world_size: int


def train_command(launch: str, config: str, overrides: Sequence[str], data: Path, out: Path, *,
                  valid: Path | None = None, cache_dir: Path | None = None) -> list[str]:
    """``LAUNCH -m codecstudy train ...``: the launcher's words, then the module and the training's arguments."""
    command = [*shlex.split(launch), "-m", "codecstudy", "train", "--config", config, "--data", str(data),
               "--out", str(out), "--quiet"]
    if valid is not None:
        command += ["--valid", str(valid)]
    if cache_dir is not None:
        command += ["--cache-dir", str(cache_dir)]
    for override in overrides:
        command += ["--set", override]
    return command


def run_launched(command: list[str], out: Path) -> LaunchedTraining:
    """Run a launched training to its end, passing a stop request on to its ranks (see the module docstring)."""
    out.mkdir(parents=True, exist_ok=True)
    stop_file = out / STOP_NAME
    stop_file.unlink(missing_ok=True)  # a request that an earlier run of the job already answered
    env = {**os.environ, STOP_FILE_VARIABLE: str(stop_file)}
    passed_on = False
    process = subprocess.Popen(command, env=env, stdout=sys.stdout, stderr=sys.stderr)
    try:
        while True:
            try:
                status = process.wait(timeout=POLL_SECONDS)
                break
            except subprocess.TimeoutExpired:
                if not passed_on and stop_requested():
                    stop_file.touch()
                    passed_on = True
    finally:
        if process.poll() is None:  # this process was interrupted: the ranks must not outlive it
            process.terminate()
            process.wait()
        stop_file.unlink(missing_ok=True)
    if status != 0 and passed_on:
        latest = ckpt.step_checkpoints(out / CHECKPOINT_DIR)
        if latest:
            raise TrainingInterrupted(latest[-1][0])
    summary = read_json_or_none(out / SUMMARY_NAME) if status == 0 else None
    if summary is None:
        raise CodecStudyError(f"training {out}: `{shlex.join(command[:3])} ...` failed (exit status {status}); "
                              "its ranks' output is above in this job's log")
    return LaunchedTraining(int(summary["step"]), float(summary["seconds"]), int(summary.get("world_size", 1)))
