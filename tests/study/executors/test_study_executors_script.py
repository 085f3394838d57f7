"""A training job's script on several GPUs or nodes: torchrun on one node, one torchrun per node through srun with the
rendezvous on the first node, each process with its share of the job's CPUs; a one-process training has no
launcher. The launcher lines are run by bash here (with a fake ``scontrol``) to check what they set."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from helpers.studysetup import tiny_study, write_study

from codecstudy.study.executors.jobs import study_jobs
from codecstudy.study.executors.script import job_script, launch_lines, training_processes
from codecstudy.study.layout import RunLayout
from codecstudy.study.spec import StudySpec, load_study


def _spec(tmp_path: Path, train: dict) -> StudySpec:
    data = tiny_study(tmp_path, tmp_path / "synth", executor="slurm", slurm={"cpus": 2, "train": train})
    return load_study(write_study(tmp_path / "tiny.yaml", data))


def _train_job(spec: StudySpec):
    return next(job for job in study_jobs(spec) if job.kind == "train")


def _launch(tmp_path: Path, spec: StudySpec, env: dict[str, str]) -> tuple[str, str]:
    """Run the job's launcher lines in bash; (LAUNCH, OMP_NUM_THREADS) as they come out."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    scontrol = bin_dir / "scontrol"  # `scontrol show hostnames LIST`: one host per line
    scontrol.write_text('#!/bin/sh\necho "$3" | tr "," "\\n"\n')
    scontrol.chmod(0o755)
    script = "\n".join([*launch_lines(spec, _train_job(spec)), 'printf "%s\\n%s" "$LAUNCH" "$OMP_NUM_THREADS"'])
    done = subprocess.run(["bash", "-euc", script], capture_output=True, text=True, check=True,
                          env={"PATH": f"{bin_dir}:{os.environ['PATH']}", **env})
    launch, threads = done.stdout.split("\n")
    return launch, threads


def test_one_gpu_trains_in_the_job_itself(tmp_path) -> None:
    spec = _spec(tmp_path, {"gpus": 1, "cpus": 8})
    job = _train_job(spec)
    assert training_processes(spec, job) == (1, 1)
    script = job_script(spec, RunLayout(tmp_path / "run"), job, [])
    assert "LAUNCH" not in script and "torch.distributed.run" not in script


def test_four_gpus_on_one_node_run_torchrun_with_a_quarter_of_the_cpus_each(tmp_path) -> None:
    spec = _spec(tmp_path, {"gpus": 4, "cpus": 32})
    job = _train_job(spec)
    script = job_script(spec, RunLayout(tmp_path / "run"), job, ["train.seeds=[0]"])
    assert "#SBATCH --gres=gpu:4" in script and "#SBATCH --nodes" not in script
    assert '--launch "$LAUNCH" --set \'train.seeds=[0]\'' in script
    launch, threads = _launch(tmp_path, spec, {"SLURM_CPUS_PER_TASK": "32"})
    assert launch.endswith("-m torch.distributed.run --standalone --nnodes=1 --nproc_per_node=4")
    assert threads == "8"
    subprocess.run(["bash", "-n"], input=script, text=True, check=True)  # the whole script parses


def test_two_nodes_start_one_torchrun_each_with_the_rendezvous_on_the_first(tmp_path) -> None:
    spec = _spec(tmp_path, {"gpus": 8, "nodes": 2, "cpus": 64})
    job = _train_job(spec)
    assert training_processes(spec, job) == (2, 8)
    script = job_script(spec, RunLayout(tmp_path / "run"), job, [])
    assert "#SBATCH --nodes=2" in script and "#SBATCH --ntasks-per-node=1" in script
    launch, threads = _launch(tmp_path, spec, {"SLURM_CPUS_PER_TASK": "64", "SLURM_JOB_ID": "4711",
                                               "SLURM_JOB_NODELIST": "gpu07,gpu12"})
    assert launch.startswith("srun --nodes=2 --ntasks-per-node=1 --cpus-per-task=64 --kill-on-bad-exit=1 ")
    assert launch.endswith("--nnodes=2 --nproc_per_node=8 --rdzv_id=4711 --rdzv_backend=c10d "
                           "--rdzv_endpoint=gpu07:29500")
    assert threads == "8"


@pytest.mark.parametrize(("train", "cpus", "expected"), [({"processes": 2}, "2", ("2", "1")),
                                                         ({"processes": 3}, "2", ("3", "1"))])
def test_cpu_processes_without_gpus_and_never_zero_threads(tmp_path, train, cpus, expected) -> None:
    spec = _spec(tmp_path, train)
    launch, threads = _launch(tmp_path, spec, {"SLURM_CPUS_PER_TASK": cpus})
    assert launch.endswith(f"--nproc_per_node={expected[0]}") and threads == expected[1]


def test_only_training_jobs_get_a_launcher(tmp_path) -> None:
    spec = _spec(tmp_path, {"gpus": 4})
    others = [job for job in study_jobs(spec) if job.kind != "train"]
    assert others and all(launch_lines(spec, job) == [] for job in others)


def test_a_checkpoint_import_on_a_gpu_node_is_one_process(tmp_path) -> None:
    spec = _spec(tmp_path, {"gpus": 4})
    imported = load_study(spec.path, ["checkpoints.english=soundstream-tiny"])
    jobs = {job.name: job for job in study_jobs(imported)}
    assert training_processes(imported, jobs["import-english-soundstream"]) == (1, 1)
    assert launch_lines(imported, jobs["import-english-soundstream"]) == []
    assert training_processes(imported, jobs["train-multilingual_audio-soundstream"]) == (1, 4)
