"""The Slurm executor: a study's jobs written as ``slurm/<job>.sbatch``, submitted with ``afterok`` dependencies,
recorded in ``slurm/jobs.json``; resubmission, status and cancellation from that record and ``squeue``.

Submitting again submits only what is neither complete (by the files, the same state checks as the local runner)
nor still queued or running (``squeue`` by the study's job names); a job waits only for jobs submitted or queued
now. If ``sbatch`` refuses a job (a partition the cluster does not have, GPUs it has none of), the jobs this call
submitted are cancelled and the refusal is one line naming the setting; nothing computed is touched.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from codecstudy.files import read_json_or_none, write_json_atomic, write_text_atomic
from codecstudy.study import state
from codecstudy.study.executors import slurmctl
from codecstudy.study.executors.jobs import (
    CORPUS_ITEM,
    REPORT_ITEM,
    Job,
    array_option,
    item_id,
    part_key,
    slurm_name,
    state_keys,
    study_jobs,
)
from codecstudy.study.executors.script import job_script
from codecstudy.study.executors.shards import incomplete_shards
from codecstudy.study.hubs import check_hub_models
from codecstudy.study.layout import RunLayout
from codecstudy.study.schedule import study_items
from codecstudy.study.settings import metric_parts, tts_steps
from codecstudy.study.spec import StudySpec
from codecstudy.study.state import COMPLETE

Echo = Callable[[str], None]


def item_states(spec: StudySpec, layout: RunLayout) -> dict[str, str]:
    """Each job item's file state (complete, partial, missing), and of each metric part of a split evaluation
    (:func:`codecstudy.study.executors.jobs.part_key`). Before the corpus and conditions are complete nothing
    downstream is read: it is all to do."""
    corpus_done = all(s.status == COMPLETE for s in (state.corpus_state(spec, layout),
                                                     state.conditions_state(spec, layout)))
    states = {CORPUS_ITEM: COMPLETE if corpus_done else state.MISSING}
    if not corpus_done:
        return states
    runs = spec.codec_runs()
    for item in study_items(spec, layout, runs, progress=False, baselines=True):
        states[item_id(item.stage, item.item)] = item.state().status if item.state else state.MISSING
        for part in metric_parts(spec) if item.stage == "evaluate" else ():
            states[part_key(item_id(item.stage, item.item), part)] = state.codec_eval_state(
                item.codec, item.eval_set, spec, layout, part).status
    codecs = [r.name for r in runs] + [b.name for b in spec.baseline_runs()]
    final = [state.aggregate_state(layout, codecs), state.report_state(layout)]
    if spec.tts.enabled:
        final += [state.tts_state(r.name, layout, tts_steps(spec)) for r in runs]
    if spec.listen.enabled:
        final.append(state.listen_state(spec, layout))
    states[REPORT_ITEM] = COMPLETE if all(s.status == COMPLETE for s in final) else state.MISSING
    return states


def set_clips(spec: StudySpec, layout: RunLayout) -> dict[str, int]:
    """The number of clips each eval set's evaluations score, where it is known (``slurm.clips_per_shard``): the
    set's ``max_clips`` (``evaluate.max_clips`` by default) and, once the conditions are built for this study, the
    set's size; the smaller of the two. Nothing is read (and nothing returned) when ``slurm.shards`` decides."""
    if spec.slurm.clips_per_shard is None:
        return {}
    limits = {s.name: s.max_clips for s in spec.conditions.eval_sets}
    built = state.conditions_state(spec, layout).status == COMPLETE
    clips: dict[str, int] = {}
    for eval_set in spec.eval_set_names:
        known = [n for n in [limits.get(eval_set)] if n is not None]
        if built and layout.eval_manifest(eval_set).is_file():
            known.append(len(state.eval_clip_ids(layout, eval_set)))
        if known:
            clips[eval_set] = min(known)
    return clips


@dataclass
class Submission:
    """What one ``study run --executor slurm`` decided for each job: submit, queued (with its id) or complete."""

    jobs: list[Job]
    action: dict[str, str]  # job name -> submit | queued | complete

    def graph_text(self) -> str:
        lines = []
        for job in self.jobs:
            array = f" array 0-{job.shards - 1}" if job.shards > 1 else ""
            if job.tasks is not None:
                array += f", tasks {','.join(str(t) for t in job.tasks)} only"
            after = f" after {', '.join(job.after)}" if job.after else ""
            ident = f" [{job.id}]" if job.id else ""
            part = f", {job.metrics} metrics" if job.metrics else ""
            lines.append(f"  {self.action[job.name]:<8} {job.name}{ident} ({job.kind}{array}{part}){after}")
        return "\n".join(lines)


def queued_jobs(spec: StudySpec, jobs: list[Job]) -> dict[str, slurmctl.QueuedJob]:
    """The study's jobs that Slurm still knows, by job name (the active one when a name appears twice)."""
    by_slurm_name = {slurm_name(spec, job): job.name for job in jobs}
    found: dict[str, slurmctl.QueuedJob] = {}
    for queued in slurmctl.squeue(list(by_slurm_name)):
        name = by_slurm_name.get(queued.name)
        if name and (name not in found or queued.active):
            found[name] = queued
    return found


def plan_submission(spec: StudySpec, layout: RunLayout, queued: dict[str, slurmctl.QueuedJob]) -> Submission:
    """Which jobs to submit: those not complete and not queued, and every job after one that is submitted (its
    inputs will change); each waits only for the jobs that are submitted or queued now."""
    states = item_states(spec, layout)
    jobs = study_jobs(spec, set_clips(spec, layout))
    action: dict[str, str] = {}
    for job in jobs:
        waiting = [name for name in job.after if action[name] != "complete"]
        if job.name in queued and queued[job.name].active:
            action[job.name] = "queued"
            job.id = queued[job.name].id
        elif any(action[name] == "submit" for name in waiting):
            action[job.name] = "submit"  # its inputs will change: every task again
        elif any(states.get(key) != COMPLETE for key in state_keys(job.items, job.metrics)):
            action[job.name] = "submit"
            job.tasks = incomplete_shards(spec, layout, job)
        else:
            action[job.name] = "complete"
        job.after = waiting
    return Submission(jobs, action)


def submit(spec: StudySpec, layout: RunLayout, overrides: list[str], *, dry_run: bool = False,
           echo: Echo = print) -> Submission:
    """Write the scripts and submit what is missing (``dry_run``: print the scripts and the graph, submit and
    write nothing). A study whose hub models are not all in the cache is refused: its jobs run offline."""
    check_hub_models(spec)
    if not dry_run:
        slurmctl.require("sbatch")
    queued: dict[str, slurmctl.QueuedJob] = {}
    try:
        if not dry_run or _on_path("squeue"):
            queued = queued_jobs(spec, study_jobs(spec, set_clips(spec, layout)))
    except slurmctl.SlurmError as exc:
        if not dry_run:
            raise
        echo(f"# {exc}: the graph below assumes that none of the study's jobs is queued")
    plan = plan_submission(spec, layout, queued)
    scripts = {job.name: job_script(spec, layout, job, overrides) for job in plan.jobs}
    if dry_run:
        for job in plan.jobs:
            if plan.action[job.name] == "submit":
                echo(f"# ---- {layout.slurm_script(job.name)}\n{scripts[job.name]}")
        echo(f"study {spec.name}: job graph (nothing was submitted)\n{plan.graph_text()}")
        return plan
    ids = {job.name: job.id for job in plan.jobs if job.id}
    submitted: list[str] = []
    layout.slurm_logs.mkdir(parents=True, exist_ok=True)
    for job in plan.jobs:
        if plan.action[job.name] != "submit":
            continue
        script = write_text_atomic(layout.slurm_script(job.name), scripts[job.name])
        try:
            tasks = [array_option(job.shards, job.tasks, spec.slurm.array_limit)] if job.tasks is not None else []
            job.id = slurmctl.sbatch(script, [ids[name] for name in job.after], tasks)
        except slurmctl.SlurmError as exc:
            slurmctl.scancel(submitted)  # no half-submitted graph: its dependents would wait for nothing
            raise slurmctl.SlurmError(f"sbatch refused job {job.name}: {exc}{_hint(spec, job, str(exc))}") from None
        ids[job.name] = job.id
        submitted.append(job.id)
    _record(layout, spec, plan)
    counts = {a: sum(1 for v in plan.action.values() if v == a) for a in ("submit", "queued", "complete")}
    echo(f"study {spec.name}: {counts['submit']} jobs submitted, {counts['queued']} already queued, "
         f"{counts['complete']} complete; graph in {layout.slurm_jobs}\n{plan.graph_text()}")
    return plan


def _hint(spec: StudySpec, job: Job, message: str) -> str:
    res = spec.slurm.for_kind(job.kind)
    low = message.lower()
    if "partition" in low:
        return f" (slurm.{job.kind}.partition or slurm.partition: {res.partition})"
    if "gres" in low or "gpu" in low:
        return f" (slurm.{job.kind}.gpus={res.gpus}: does the cluster have GPUs there?)"
    if "account" in low or "qos" in low:
        return f" (slurm.{job.kind}.account={res.account}, qos={res.qos})"
    return ""


def _on_path(command: str) -> bool:
    try:
        slurmctl.require(command)
    except slurmctl.SlurmError:
        return False
    return True


def _record(layout: RunLayout, spec: StudySpec, plan: Submission) -> Path:
    """``slurm/jobs.json``: each job's items, dependencies, id and log; ids of jobs not resubmitted are kept."""
    old = read_json_or_none(layout.slurm_jobs) or {}
    previous = {j.get("name"): j for j in old.get("jobs", []) if isinstance(j, dict)}
    entries = []
    for job in plan.jobs:
        entry = job.to_json()
        if job.id is None and job.name in previous:
            entry["id"] = previous[job.name].get("id")
        entry["log"] = str(layout.slurm_log(job.name, "%A_%a" if job.shards > 1 else "%j"))
        entry["script"] = str(layout.slurm_script(job.name))
        entries.append(entry)
    return write_json_atomic(layout.slurm_jobs, {"study": spec.name, "submitted": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                                                 "jobs": entries})


def recorded_jobs(layout: RunLayout) -> list[dict[str, object]]:
    data = read_json_or_none(layout.slurm_jobs)
    return [j for j in data.get("jobs", []) if isinstance(j, dict)] if isinstance(data, dict) else []


def status_text(spec: StudySpec, layout: RunLayout) -> str:
    """Each recorded job's Slurm state beside its items' file state; a job that ended without completing its items
    is failed, with its log."""
    recorded = recorded_jobs(layout)
    if not recorded:
        return ""
    jobs = study_jobs(spec, set_clips(spec, layout))
    lines = [f"slurm jobs ({layout.slurm_jobs}):"]
    queued: dict[str, slurmctl.QueuedJob] = {}
    try:
        queued = queued_jobs(spec, jobs) if _on_path("squeue") else {}
    except slurmctl.SlurmError as exc:
        lines[0] += f" ({exc}: Slurm states unknown)"
    states = item_states(spec, layout)
    for entry in recorded:
        name = str(entry.get("name"))
        items = [str(i) for i in entry.get("items", [])]  # type: ignore[union-attr]
        keys = state_keys(items, str(entry["metrics"]) if entry.get("metrics") else None)
        files = "complete" if all(states.get(key) == COMPLETE for key in keys) else "not complete"
        job = queued.get(name)
        if files == "complete":
            slurm = "complete"
        elif job is not None and job.active:
            slurm = job.state.lower()
        elif entry.get("id"):
            ended = f" ({job.state.lower()})" if job is not None else ""
            log = str(entry.get("log", "")).replace("%j", str(entry["id"])).replace("%A", str(entry["id"]))
            slurm = f"failed{ended}: log {log}"
        else:
            slurm = "not submitted"
        lines.append(f"  {name:<40} {str(entry.get('id') or '-'):>8}  {slurm}")
    return "\n".join(lines)


def cancel(spec: StudySpec, layout: RunLayout, echo: Echo = print) -> list[str]:
    """``scancel`` the study's own jobs that are still queued or running (found by their names, which carry the
    study's name: another study's jobs are never touched)."""
    slurmctl.require("scancel")
    queued = queued_jobs(spec, study_jobs(spec, set_clips(spec, layout)))
    ids = sorted({q.id for q in queued.values() if q.active}, key=lambda i: (len(i), i))
    slurmctl.scancel(ids)
    echo(f"study {spec.name}: cancelled {len(ids)} jobs" + (f" ({' '.join(ids)})" if ids else ""))
    return ids
