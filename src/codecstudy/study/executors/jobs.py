"""A study as a graph of cluster jobs (pure: from the study file and the eval sets' clip counts, nothing read here).

One job builds the corpus and the conditions; one job per codec trains it (or imports its checkpoint) after that;
each codec x set is scored after its codec, as an array over shards of the set; each baseline x set is scored once
the corpus exists (it waits for no codec); one final job writes TTS, the listening test, the tables and the report
after all of them. Every job runs items by their ids (``train:english-soundstream``, ``evaluate:CODEC/SET``), the
same items the local executor runs (:func:`codecstudy.study.schedule.study_items`).

When a study's GPU and DSP metrics are scored apart (:func:`codecstudy.study.settings.metric_parts`), each codec x
set is two jobs over the same shards, both after the codec's job: ``evaluate-<codec>-<set>-gpu`` (an
``evaluate-gpu`` job, ``--metrics gpu``) and ``evaluate-<codec>-<set>-cpu`` (an ``evaluate-cpu`` job).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from codecstudy.errors import ConfigError
from codecstudy.evaluate.parts import GPU
from codecstudy.study.settings import metric_parts
from codecstudy.study.spec import StudySpec

CORPUS_ITEM = "corpus"  # the corpus and the conditions
REPORT_ITEM = "report"  # TTS (when enabled), the listening test, the tables and the report
#: run-item's exit status when training stopped on request with a checkpoint: the job script requeues the job
REQUEUE_EXIT = 3


@dataclass
class Job:
    """One Slurm job (an array when ``shards`` > 1): its name, kind (``slurm.<kind>`` resources), items, the jobs
    it waits for (``afterok``), the metric part it scores (``metrics``: gpu or cpu; None: every metric) and, once
    submitted, its Slurm id."""

    name: str
    kind: str
    items: list[str]
    after: list[str] = field(default_factory=list)
    shards: int = 1
    id: str | None = None
    metrics: str | None = None
    tasks: list[int] | None = None  # the array tasks submitted, when a resubmission needs only some; None: all

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {"name": self.name, "kind": self.kind, "items": self.items, "after": self.after,
                                   "shards": self.shards, "id": self.id}
        if self.metrics:
            data["metrics"] = self.metrics
        if self.tasks is not None:
            data["tasks"] = self.tasks
        return data


def array_option(shards: int, tasks: list[int] | None, limit: int | None) -> str:
    """``--array=...`` for an array of ``shards`` tasks: every task, or only ``tasks``; at most ``limit`` at once."""
    chosen = f"0-{shards - 1}" if tasks is None else ",".join(str(t) for t in tasks)
    return f"--array={chosen}" + (f"%{limit}" if limit else "")


def part_key(item: str, part: str | None) -> str:
    """The key of one metric part of an item among the items' states (``evaluate:CODEC/SET+gpu``); the item's own
    id when ``part`` is None."""
    return f"{item}+{part}" if part else item


def state_keys(items: list[str], part: str | None) -> list[str]:
    """What decides whether a job (its items, or its part of them) is complete."""
    return [part_key(item, part) for item in items]


def item_id(stage: str, item: str) -> str:
    """``train english-soundstream`` (a study item's key) as a job's item id: ``train:english-soundstream``."""
    return f"{stage}:{item}" if item else stage


def job_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")


def slurm_name(spec: StudySpec, job: Job) -> str:
    """The name Slurm shows (``squeue --name``): the study's and the job's, so another study's jobs never match."""
    return f"codecstudy.{spec.name}.{job.name}"


def evaluation_kind(spec: StudySpec) -> str:
    """GPU jobs when the study runs its model metrics on a GPU (``evaluate.device``), CPU jobs otherwise."""
    return "evaluate-cpu" if spec.evaluate.device == "cpu" else "evaluate-gpu"


def set_shards(spec: StudySpec, eval_set: str, clips: Mapping[str, int]) -> int:
    """Array tasks of one set's evaluations (``slurm.shards``, or ``slurm.clips_per_shard`` over ``clips``)."""
    try:
        return spec.slurm.shards_of(eval_set, clips.get(eval_set))
    except ConfigError as exc:
        raise ConfigError(f"{spec.where}{exc}") from None


def study_jobs(spec: StudySpec, clips: Mapping[str, int] | None = None) -> list[Job]:
    """Every job of the study, each after the jobs it waits for; ``clips``: each eval set's number of clips to score,
    where known (``slurm.clips_per_shard`` needs them)."""
    clips = clips or {}
    corpus = Job("corpus", "corpus", [CORPUS_ITEM])
    jobs = [corpus]
    trained: dict[str, Job] = {}
    for run in spec.codec_runs():
        stage = "import" if run.pretrained else "train"
        job = Job(job_name(f"{stage}-{run.name}"), "train", [item_id(stage, run.name)], [corpus.name])
        trained[run.name] = job
        jobs.append(job)
    kind, parts = evaluation_kind(spec), metric_parts(spec)
    for eval_set in spec.eval_set_names:
        shards = set_shards(spec, eval_set, clips)
        for run in spec.codec_runs():
            name, item = f"evaluate-{run.name}-{eval_set}", item_id("evaluate", f"{run.name}/{eval_set}")
            if not parts:
                jobs.append(Job(job_name(name), kind, [item], [trained[run.name].name], shards))
            for part in parts:  # the GPU metrics' job and the DSP metrics' job, over the same shards
                part_kind = "evaluate-gpu" if part == GPU else "evaluate-cpu"
                jobs.append(Job(job_name(f"{name}-{part}"), part_kind, [item], [trained[run.name].name], shards,
                                metrics=part))
    for eval_set in spec.eval_set_names:
        for baseline in spec.baseline_runs():
            jobs.append(Job(job_name(f"baseline-{baseline.name}-{eval_set}"), "baseline",
                            [item_id("baseline", f"{baseline.name}/{eval_set}")], [corpus.name],
                            set_shards(spec, eval_set, clips)))
    jobs.append(Job("report", "report", [REPORT_ITEM], [j.name for j in jobs]))
    return jobs
