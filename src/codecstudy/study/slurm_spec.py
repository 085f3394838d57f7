"""The study file's ``executor:`` key and ``slurm:`` section: where a study runs and what its Slurm jobs ask for.

``executor: local`` (the default) runs the study's items as processes on this machine; ``executor: slurm`` submits
them as Slurm jobs (:mod:`codecstudy.study.executors.slurm`). The ``slurm:`` section has resources that every job
asks for (its top-level keys) and, per kind of job, resources that replace them (``slurm.train.gpus: 1``); the extra
``#SBATCH`` lines and setup lines of a kind are added to the common ones. Like every study key, each can be given
with ``--set`` (``--set slurm.train.partition=gpu``). Only the shape is checked here; what the cluster has
(partitions, GPUs) is checked by ``sbatch`` when the jobs are submitted.
"""

from __future__ import annotations

import math
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from codecstudy.errors import ConfigError

Executor = Literal["local", "slurm"]
#: The kinds of job a study submits, in the order they run.
JOB_KINDS = ("corpus", "train", "evaluate-cpu", "evaluate-gpu", "baseline", "report")


class SlurmResources(BaseModel):
    """What one kind of job asks of Slurm; None leaves the cluster's default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    partition: str | None = Field(None, pattern=r"^[A-Za-z0-9_.,-]+$")
    account: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]+$")
    qos: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]+$")
    time: str | None = Field(None, description="time limit as Slurm writes it: minutes, H:MM:SS or D-HH:MM:SS")
    cpus: int | None = Field(None, ge=1, description="--cpus-per-task (the job's threads are taken from it)")
    mem: str | None = Field(None, pattern=r"^\d+[KMGT]?$", description="--mem, e.g. 16G")
    gpus: int | None = Field(None, ge=0, description="GPUs per node (--gres=gpu:N); 0 asks for none")
    nodes: int | None = Field(None, ge=1, description="nodes per job (--nodes); a training on several nodes runs "
                              "one torchrun per node (srun) with the rendezvous on the job's first node")
    processes: int | None = Field(None, ge=1, description="training processes per node (torchrun's "
                                  "--nproc_per_node); default: the job's GPUs, or 1 without GPUs")
    sbatch: list[str] = Field(default_factory=list,
                              description="extra #SBATCH options, e.g. --constraint=a100 (added to the common ones)")
    setup: list[str] = Field(default_factory=list,
                             description="shell lines run before the job's command: module loads, venv activation")

    @field_validator("partition", "account", "qos", "time", "mem", mode="before")
    @classmethod
    def _text(cls, value: object) -> object:
        """``--set slurm.time=30`` reads 30 as a number; Slurm's values are text."""
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("time")
    @classmethod
    def _slurm_time(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"(\d+-)?\d+(:\d{1,2}){0,2}", value):
            raise ValueError(f"expected minutes, H:MM:SS or D-HH:MM:SS (Slurm's --time), got {value!r}")
        return value

    @field_validator("sbatch")
    @classmethod
    def _options(cls, lines: list[str]) -> list[str]:
        for line in lines:
            text = line.removeprefix("#SBATCH").strip()
            if not text.startswith("-") or "\n" in text:
                raise ValueError(f"expected one sbatch option such as --constraint=a100, got {line!r}")
        return [line.removeprefix("#SBATCH").strip() for line in lines]

    @field_validator("setup")
    @classmethod
    def _one_line(cls, lines: list[str]) -> list[str]:
        bad = [line for line in lines if "\n" in line]
        if bad:
            raise ValueError(f"each setup entry is one shell line, got {bad[0]!r}")
        return lines


class SlurmSection(SlurmResources):
    """Common resources (the inherited keys), resources per kind of job, and how evaluations are split."""

    corpus: SlurmResources = Field(default_factory=SlurmResources)
    train: SlurmResources = Field(default_factory=SlurmResources)
    evaluate_cpu: SlurmResources = Field(default_factory=SlurmResources, alias="evaluate-cpu")
    evaluate_gpu: SlurmResources = Field(default_factory=SlurmResources, alias="evaluate-gpu")
    baseline: SlurmResources = Field(default_factory=SlurmResources)
    report: SlurmResources = Field(default_factory=SlurmResources)
    shards: int | dict[str, int] = Field(
        1, description="array tasks per evaluation (codec x set): a number for every set, or {set: number}")
    clips_per_shard: int | None = Field(
        None, ge=1, description="instead of `shards`: array tasks of about this many clips each, ceil(clips / N) per "
        "set, clips being the set's evaluate.max_clips or, once the corpus is built, its size (the smaller); needs "
        "one of them")
    array_limit: int | None = Field(None, ge=1, description="at most this many tasks of one array at once (%N)")
    signal_seconds: int = Field(
        120, ge=0, description="training jobs ask for USR2 this many seconds before their time limit or preemption "
        "(--signal=B:USR2@N, --requeue): the trainer checkpoints at the next step and the job requeues itself; "
        "0: neither")
    command: str | None = Field(
        None, description="how a job starts codecstudy (default: this Python, `-m codecstudy`)")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("shards")
    @classmethod
    def _positive(cls, shards: int | dict[str, int]) -> int | dict[str, int]:
        values = shards.values() if isinstance(shards, dict) else [shards]
        if any(v < 1 for v in values):
            raise ValueError(f"shards must be >= 1, got {shards}")
        return shards

    @model_validator(mode="after")
    def _one_way_to_shard(self) -> SlurmSection:
        if self.clips_per_shard is not None and "shards" in self.model_fields_set:
            raise ValueError("give slurm.shards or slurm.clips_per_shard, not both")
        return self

    def for_kind(self, kind: str) -> SlurmResources:
        """The resources of one kind of job: its own keys over the common ones, lists added to them."""
        if kind not in JOB_KINDS:
            raise ValueError(f"unknown kind of job {kind!r} (kinds: {', '.join(JOB_KINDS)})")
        own: SlurmResources = getattr(self, kind.replace("-", "_"))
        merged = {name: getattr(own, name) if getattr(own, name) is not None else getattr(self, name)
                  for name in ("partition", "account", "qos", "time", "cpus", "mem", "gpus", "nodes", "processes")}
        return SlurmResources(**merged, sbatch=[*self.sbatch, *own.sbatch], setup=[*self.setup, *own.setup])

    def shards_of(self, eval_set: str, clips: int | None = None) -> int:
        """Array tasks of one set's evaluations; with ``clips_per_shard``, from ``clips``, the number of clips the
        set's evaluations score (None: not known yet, which is a one-line error naming what to set)."""
        if self.clips_per_shard is not None:
            if clips is None:
                raise ConfigError(f"slurm.clips_per_shard: the number of clips of eval set {eval_set!r} is not known "
                                  "before the corpus is built; set evaluate.max_clips or slurm.shards")
            return max(1, math.ceil(clips / self.clips_per_shard))
        if isinstance(self.shards, dict):
            return self.shards.get(eval_set, 1)
        return self.shards


class ExecutionSections(BaseModel):
    """Where the study's items run; not part of the resolved study (``study.yaml``): they change no number."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    executor: Executor = Field("local", description="local: processes on this machine; slurm: Slurm jobs")
    slurm: SlurmSection = Field(default_factory=SlurmSection, description="the Slurm jobs' resources (executor slurm)")
