"""The tiny study through a real one-node Slurm (Debian's packages, started here as root): the same tables as the
local executor; run again, nothing is submitted twice; every daemon stopped by its PID afterwards."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from helpers.localslurm import local_slurm, slurm_unavailable
from helpers.studysetup import STUDY_TRAIN, tiny_study, write_study
from helpers.tables import table_cells

from codecstudy.codec.registry import unwrap_codec_payload
from codecstudy.study.layout import RunLayout
from codecstudy.study.runner import StudyRunner, stage_records
from codecstudy.study.spec import load_study
from codecstudy.train.launch import run_launched, train_command

REPO = Path(__file__).resolve().parents[3]
BASELINES = {"codecs": ["opus:6kbps"]}


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "codecstudy", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300, check=False)


def _wait_for_jobs(env: dict[str, str], study: str, timeout: float) -> None:
    """Until no job of the study is pending or running."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        out = subprocess.run(["squeue", "--noheader", "--format=%j|%T"], env=env, capture_output=True, text=True,
                             check=False).stdout
        if not [line for line in out.splitlines() if line.startswith(f"codecstudy.{study}.")]:
            return
        time.sleep(2)
    raise AssertionError(f"jobs still queued after {timeout} s:\n{out}")


@pytest.mark.slow
def test_the_tiny_study_through_a_real_slurm_writes_the_local_runs_tables(tmp_path) -> None:
    why = slurm_unavailable()
    if why:
        pytest.skip(f"no local Slurm: {why}")
    study = write_study(tmp_path / "tiny.yaml", tiny_study(tmp_path, tmp_path / "synth", baselines=BASELINES,
                                                           slurm={"cpus": 1, "shards": {"en": 2}}))
    local = tmp_path / "local"
    StudyRunner(load_study(study), local, progress=False, echo=lambda _: None).run()

    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1"}
    out = tmp_path / "slurm-run"
    with local_slurm(tmp_path / "slurm", cpus=2) as slurm_env:
        env.update(SLURM_CONF=slurm_env["SLURM_CONF"])
        submitted = _cli(["study", "run", str(study), "--out", str(out), "--executor", "slurm"], env)
        assert submitted.returncode == 0, submitted.stderr[-3000:]
        assert "13 jobs submitted, 0 already queued, 0 complete" in submitted.stdout
        _wait_for_jobs(env, "tiny", 300)
        layout = RunLayout(out)
        logs = sorted((layout.slurm_dir / "logs").glob("*.out"))
        assert len(logs) == 1 + 2 + 6 + 3 + 1 + 3  # the three arrays over `en` have two tasks each
        assert (out / "tables" / "summary.csv").is_file(), "\n".join(p.read_text()[-1500:] for p in logs)
        assert table_cells(out / "tables" / "summary.csv") == table_cells(local / "tables" / "summary.csv")
        status = _cli(["study", "status", str(study), "--out", str(out)], env)
        assert status.returncode == 0 and "failed" not in status.stdout, status.stdout
        again = _cli(["study", "run", str(study), "--out", str(out), "--executor", "slurm"], env)
        assert "0 jobs submitted, 0 already queued, 13 complete" in again.stdout, again.stdout + again.stderr
    graph = json.loads(layout.slurm_jobs.read_text())
    assert [j["name"] for j in graph["jobs"]][0] == "corpus" and graph["jobs"][-1]["name"] == "report"
    trained = [r for r in stage_records(layout) if r["stage"] == "train" and r["action"] == "ran"]
    assert len(trained) == 2


def _weights(run: Path, codec: str) -> dict[str, torch.Tensor]:
    payload = torch.load(RunLayout(run).codec_file(codec), map_location="cpu", weights_only=True)
    return unwrap_codec_payload(payload)["state_dict"]


@pytest.mark.slow
def test_a_training_job_cancelled_half_way_resumes_from_its_checkpoint_to_the_same_codec(tmp_path) -> None:
    why = slurm_unavailable()
    if why:
        pytest.skip(f"no local Slurm: {why}")
    # long enough that the cancel (a CLI that imports torch: seconds on a busy machine) lands before the end
    codec = {"preset": "tiny", "overrides": [*STUDY_TRAIN, "train.steps=300", "train.checkpoint_interval=5",
                                              "train.valid_interval=150", "train.log_interval=5"]}
    study = write_study(tmp_path / "tiny.yaml", tiny_study(tmp_path, tmp_path / "synth", codec=codec,
                                                           slurm={"cpus": 1}))
    local = tmp_path / "local"
    StudyRunner(load_study(study), local, progress=False, echo=lambda _: None).run()

    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1"}
    out = tmp_path / "slurm-run"
    layout = RunLayout(out)
    with local_slurm(tmp_path / "slurm", cpus=2) as slurm_env:
        env.update(SLURM_CONF=slurm_env["SLURM_CONF"])
        assert _cli(["study", "run", str(study), "--out", str(out), "--executor", "slurm"], env).returncode == 0
        end = time.monotonic() + 240
        while (layout.last_checkpoint_step("english-soundstream") or 0) < 10 and time.monotonic() < end:
            time.sleep(0.1)
        cancelled = _cli(["study", "cancel", str(study), "--out", str(out)], env)
        assert cancelled.returncode == 0 and "cancelled" in cancelled.stdout, cancelled.stderr
        _wait_for_jobs(env, "tiny", 60)
        assert not layout.train_summary("english-soundstream").exists()  # it was stopped half-way
        status = _cli(["study", "status", str(study), "--out", str(out)], env)
        assert "failed" in status.stdout and str(layout.slurm_dir / "logs") in status.stdout, status.stdout
        again = _cli(["study", "run", str(study), "--out", str(out), "--executor", "slurm"], env)
        assert "0 already queued, 1 complete" in again.stdout, again.stdout + again.stderr  # the corpus
        _wait_for_jobs(env, "tiny", 300)
    summary = json.loads(layout.train_summary("english-soundstream").read_text())
    assert summary["step"] == 300 and summary["resumed_from"] >= 10
    ours, alone = _weights(out, "english-soundstream"), _weights(local, "english-soundstream")
    assert ours.keys() == alone.keys()
    assert all(torch.equal(ours[k], alone[k]) for k in ours)
    assert table_cells(out / "tables" / "summary.csv") == table_cells(local / "tables" / "summary.csv")


def _preempted_study(tmp_path: Path, overrides: list[str], slurm: dict) -> tuple[Path, RunLayout, int]:
    """The one-condition tiny study (60 steps, a checkpoint every 20) through the local Slurm, with USR2 sent to its
    training job's batch shell after a few steps, as ``--signal=B:USR2@N`` sends it before the time limit or a
    preemption; returns the study file, the run and the step the training stopped at (after the study ended)."""
    codec = {"preset": "tiny", "overrides": [*STUDY_TRAIN, "train.steps=60", "train.checkpoint_interval=20",
                                              "train.valid_interval=30", "train.log_interval=5", *overrides]}
    study = write_study(tmp_path / "tiny.yaml", tiny_study(tmp_path, tmp_path / "synth", codec=codec,
                                                           conditions=[{"name": "english", "languages": ["en"],
                                                                        "domains": ["speech"]}],
                                                           slurm=slurm))
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1"}
    layout = RunLayout(tmp_path / "slurm-run")
    with local_slurm(tmp_path / "slurm", cpus=2) as slurm_env:
        env.update(SLURM_CONF=slurm_env["SLURM_CONF"])
        submitted = _cli(["study", "run", str(study), "--out", str(layout.root), "--executor", "slurm"], env)
        assert submitted.returncode == 0, submitted.stderr[-3000:]
        job = next(j for j in json.loads(layout.slurm_jobs.read_text())["jobs"] if j["name"].startswith("train-"))
        metrics = layout.train_metrics("english-soundstream")
        end = time.monotonic() + 240
        while (not metrics.is_file() or metrics.stat().st_size < 200) and time.monotonic() < end:
            time.sleep(0.05)  # a few steps logged, before the first periodic checkpoint (step 20)
        subprocess.run(["scancel", "--signal=USR2", "--batch", job["id"]], env=env, check=True)
        _wait_for_jobs(env, "tiny", 360)
    log = layout.slurm_log(job["name"], job["id"]).read_text()
    stopped = re.search(r"training stopped on request at step (\d+)", log)
    assert stopped, log[-3000:]
    return study, layout, int(stopped.group(1))


@pytest.mark.slow
def test_a_training_job_told_it_is_preempted_checkpoints_requeues_and_resumes_to_the_same_codec(tmp_path) -> None:
    why = slurm_unavailable()
    if why:
        pytest.skip(f"no local Slurm: {why}")
    study, layout, stopped = _preempted_study(tmp_path, [], {"cpus": 1})
    local = tmp_path / "local"
    StudyRunner(load_study(study), local, progress=False, echo=lambda _: None).run()
    summary = json.loads(layout.train_summary("english-soundstream").read_text())
    assert summary["step"] == 60 and summary["resumed_from"] == stopped < 20  # no step trained twice
    ours, alone = _weights(layout.root, "english-soundstream"), _weights(local, "english-soundstream")
    assert all(torch.equal(ours[k], alone[k]) for k in alone)
    assert table_cells(layout.tables / "summary.csv") == table_cells(local / "tables" / "summary.csv")


@pytest.mark.slow
def test_a_training_on_two_processes_under_torchrun_is_preempted_and_resumes_to_the_same_codec(tmp_path) -> None:
    """``slurm.train.processes: 2``: the job runs torchrun (two gloo ranks); USR2 to the batch shell reaches the ranks
    through the job's process, both checkpoint after the same step, and the requeued job ends where an uninterrupted
    two-process training ends."""
    why = slurm_unavailable()
    if why:
        pytest.skip(f"no local Slurm: {why}")
    study, layout, stopped = _preempted_study(tmp_path, ["train.batch_size=4"],
                                              {"cpus": 1, "train": {"cpus": 2, "processes": 2}})
    assert "torch.distributed.run --standalone --nnodes=1 --nproc_per_node=2" in (
        layout.slurm_dir / "train-english-soundstream.sbatch").read_text()
    summary = json.loads(layout.train_summary("english-soundstream").read_text())
    assert summary["world_size"] == 2 and summary["step"] == 60
    assert summary["resumed_from"] == stopped < 20  # no step trained twice
    assert (layout.tables / "summary.csv").is_file()

    run = load_study(study).codec_runs()[0]
    reference = tmp_path / "uninterrupted"
    launch = f"{sys.executable} -m torch.distributed.run --standalone --nnodes=1 --nproc_per_node=2"
    run_launched(train_command(launch, run.source, run.overrides, layout.condition_manifest(run.condition),
                               reference, valid=layout.valid_manifest(run.condition), cache_dir=layout.audio_cache),
                 reference)
    alone = json.loads((reference / "summary.json").read_text())
    assert summary["rank_weight_hashes"] == alone["rank_weight_hashes"]
