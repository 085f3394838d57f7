"""A job's ``slurm/<job>.sbatch``: a plain script a user can read, edit and submit again by hand.

Resources come from the study's ``slurm:`` section (the job's kind over the common keys); dependencies are not in
the script but on ``sbatch``'s command line, because they name job ids known only when the jobs are submitted.
The job runs one command, ``codecstudy study run-item``, with the study file and every ``--set`` the submission was
given, so that the job sees the same study; its threads follow the allocation (``SLURM_CPUS_PER_TASK``).
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from codecstudy.hub import OFFLINE_ENVIRONMENT
from codecstudy.study.executors.jobs import REQUEUE_EXIT, Job, array_option, slurm_name
from codecstudy.study.layout import RunLayout
from codecstudy.study.slurm_spec import SlurmResources
from codecstudy.study.spec import StudySpec

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
RENDEZVOUS_PORT = 29500  # torchrun's c10d rendezvous on a multi-node training's first node


def sbatch_options(spec: StudySpec, layout: RunLayout, job: Job) -> list[str]:
    """The ``#SBATCH`` options of a job, in a fixed order."""
    res: SlurmResources = spec.slurm.for_kind(job.kind)
    log = layout.slurm_log(job.name, "%A_%a" if job.shards > 1 else "%j")
    options = [f"--job-name={slurm_name(spec, job)}", f"--output={log.resolve()}"]
    if job.shards > 1:  # every task: a resubmission of some of them names them on sbatch's command line
        options.append(array_option(job.shards, None, spec.slurm.array_limit))
    for key, option in (("partition", "partition"), ("account", "account"), ("qos", "qos"), ("time", "time"),
                        ("cpus", "cpus-per-task"), ("mem", "mem")):
        value = getattr(res, key)
        if value is not None:
            options.append(f"--{option}={value}")
    if res.nodes:
        options.append(f"--nodes={res.nodes}")
    if res.nodes and res.nodes > 1:
        options.append("--ntasks-per-node=1")  # one torchrun per node (srun), which starts the node's processes
    if res.gpus:
        options.append(f"--gres=gpu:{res.gpus}")
    options.append("--kill-on-invalid-dep=yes")
    if requeues(spec, job):
        # a requeued run appends to the log instead of truncating the first run's
        options += [f"--signal=B:USR2@{spec.slurm.signal_seconds}", "--requeue", "--open-mode=append"]
    return [*options, *res.sbatch]


def requeues(spec: StudySpec, job: Job) -> bool:
    """A training job is told before its time limit or preemption, checkpoints and requeues itself."""
    return spec.slurm.signal_seconds > 0 and any(item.startswith("train:") for item in job.items)


#: The batch shell gets USR2 (``B:``) and hands it to the trainer; run-item exits with REQUEUE_EXIT once the
#: checkpoint is written, and the job puts itself back in the queue (it resumes from that checkpoint).
REQUEUE_BODY = """trap 'kill -USR2 "$child" 2>/dev/null || true' USR2
{command} &
child=$!
status=0; wait "$child" || status=$?
while [ "$status" -gt 128 ] && kill -0 "$child" 2>/dev/null; do status=0; wait "$child" || status=$?; done
if [ "$status" -eq {requeue} ]; then scontrol requeue "$SLURM_JOB_ID"; fi
exit "$status"
"""


def training_processes(spec: StudySpec, job: Job) -> tuple[int, int]:
    """(nodes, processes per node) of a training job; more than one process in all is a torchrun launch. A
    checkpoint's import (a ``train`` job too) is one process."""
    if job.kind != "train" or not any(item.startswith("train:") for item in job.items):
        return 1, 1
    res = spec.slurm.for_kind(job.kind)
    return res.nodes or 1, res.processes or res.gpus or 1


def launch_lines(spec: StudySpec, job: Job) -> list[str]:
    """The shell lines that set ``LAUNCH`` for a training on several processes: ``torchrun`` on one node, or one
    torchrun per node through ``srun`` with the rendezvous on the job's first node; each process gets its share of
    the job's CPUs as threads. No lines for a training on one process."""
    nodes, per_node = training_processes(spec, job)
    if nodes * per_node == 1:
        return []
    torchrun = "torchrun" if spec.slurm.command else f"{shlex.quote(sys.executable)} -m torch.distributed.run"
    lines = [f"# training: {per_node} process(es) per node on {nodes} node(s) under torchrun, each with its share "
             "of the CPUs as threads",
             f'threads=$(( ${{SLURM_CPUS_PER_TASK:-{per_node}}} / {per_node} )); '
             'threads=$(( threads > 0 ? threads : 1 ))',
             *(f'export {name}="$threads"' for name in THREAD_VARIABLES)]
    if nodes == 1:
        lines.append(f'LAUNCH="{torchrun} --standalone --nnodes=1 --nproc_per_node={per_node}"')
        return lines
    lines += ['head=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)',
              f'LAUNCH="srun --nodes={nodes} --ntasks-per-node=1 --cpus-per-task=${{SLURM_CPUS_PER_TASK:-1}} '
              f'--kill-on-bad-exit=1 {torchrun} --nnodes={nodes} --nproc_per_node={per_node} '
              f'--rdzv_id=$SLURM_JOB_ID --rdzv_backend=c10d --rdzv_endpoint=$head:{RENDEZVOUS_PORT}"']
    return lines


def job_command(spec: StudySpec, layout: RunLayout, job: Job, overrides: list[str]) -> str:
    """``codecstudy study run-item`` for each of the job's items (the shard from the array's task id, the metric
    part of a split evaluation, the launcher of a training on several processes)."""
    start = spec.slurm.command or f"{shlex.quote(sys.executable)} -m codecstudy"
    study = shlex.quote(str(Path(spec.path).resolve())) if spec.path else "STUDY"
    sets = "".join(f" --set {shlex.quote(o)}" for o in overrides)
    shard = f' --shard "${{SLURM_ARRAY_TASK_ID}}/{job.shards}"' if job.shards > 1 else ""
    part = f" --metrics {job.metrics}" if job.metrics else ""
    launch = ' --launch "$LAUNCH"' if launch_lines(spec, job) else ""
    return "\n".join(
        f"{start} study run-item {study} --out {shlex.quote(str(layout.root.resolve()))} "
        f"--item {shlex.quote(item)}{shard}{part}{launch}{sets}"
        for item in job.items
    )


def job_script(spec: StudySpec, layout: RunLayout, job: Job, overrides: list[str]) -> str:
    res = spec.slurm.for_kind(job.kind)
    title = f"# codecstudy study {spec.name}: job {job.name} ({job.kind}), items {', '.join(job.items)}"
    lines = ["#!/bin/bash", title]
    lines += [f"#SBATCH {option}" for option in sbatch_options(spec, layout, job)]
    lines += ["set -euo pipefail", 'if [ -n "${SLURM_CPUS_PER_TASK:-}" ]; then  # threads from the allocation',
              *(f'  export {name}="$SLURM_CPUS_PER_TASK"' for name in THREAD_VARIABLES), "fi"]
    # hub models come from the cache only (`codecstudy study fetch` filled it); slurm.setup may undo it
    lines += [f"export {key}={value}" for key, value in OFFLINE_ENVIRONMENT.items()]
    lines += res.setup
    lines += launch_lines(spec, job)
    command = job_command(spec, layout, job, overrides)
    lines.append(REQUEUE_BODY.format(command=command, requeue=REQUEUE_EXIT).rstrip() if requeues(spec, job)
                 else command)
    return "\n".join(lines) + "\n"
