"""A study as a graph of cluster jobs (pure: from the study file alone, nothing read from disk).

One job builds the corpus and the conditions; one job per codec trains it (or imports its checkpoint) after that;
each codec x set is scored after its codec, as an array over shards of the set; each baseline x set is scored once
the corpus exists (it waits for no codec); one final job writes TTS, the listening test, the tables and the report
after all of them. Every job runs items by their ids (``train:english-soundstream``, ``evaluate:CODEC/SET``), the
same items the local executor runs (:func:`codecstudy.study.schedule.study_items`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from codecstudy.study.spec import StudySpec

CORPUS_ITEM = "corpus"  # the corpus and the conditions
REPORT_ITEM = "report"  # TTS (when enabled), the listening test, the tables and the report
#: run-item's exit status when training stopped on request with a checkpoint: the job script requeues the job
REQUEUE_EXIT = 3


@dataclass
class Job:
    """One Slurm job (an array when ``shards`` > 1): its name, kind (``slurm.<kind>`` resources), items, the jobs
    it waits for (``afterok``), and, once submitted, its Slurm id."""

    name: str
    kind: str
    items: list[str]
    after: list[str] = field(default_factory=list)
    shards: int = 1
    id: str | None = None

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "kind": self.kind, "items": self.items, "after": self.after,
                "shards": self.shards, "id": self.id}


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


def study_jobs(spec: StudySpec) -> list[Job]:
    """Every job of the study, each after the jobs it waits for."""
    corpus = Job("corpus", "corpus", [CORPUS_ITEM])
    jobs = [corpus]
    trained: dict[str, Job] = {}
    for run in spec.codec_runs():
        stage = "import" if run.pretrained else "train"
        job = Job(job_name(f"{stage}-{run.name}"), "train", [item_id(stage, run.name)], [corpus.name])
        trained[run.name] = job
        jobs.append(job)
    kind = evaluation_kind(spec)
    for eval_set in spec.eval_set_names:
        for run in spec.codec_runs():
            jobs.append(Job(job_name(f"evaluate-{run.name}-{eval_set}"), kind,
                            [item_id("evaluate", f"{run.name}/{eval_set}")], [trained[run.name].name],
                            spec.slurm.shards_of(eval_set)))
    for eval_set in spec.eval_set_names:
        for baseline in spec.baseline_runs():
            jobs.append(Job(job_name(f"baseline-{baseline.name}-{eval_set}"), "baseline",
                            [item_id("baseline", f"{baseline.name}/{eval_set}")], [corpus.name],
                            spec.slurm.shards_of(eval_set)))
    jobs.append(Job("report", "report", [REPORT_ITEM], [j.name for j in jobs]))
    return jobs
