"""The Slurm executor against a recording fake sbatch/squeue/scancel: the job graph and its dependencies, the
scripts' settings, resubmission of what is missing only, status, cancel, and bad input as one line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers.fakeslurm import FakeSlurm, install_fake_slurm
from helpers.studysetup import tiny_study, write_study

from codecstudy.study.executors import slurm
from codecstudy.study.executors.slurmctl import SlurmError
from codecstudy.study.layout import RunLayout
from codecstudy.study.spec import StudySpec, load_study
from codecstudy.study.state import COMPLETE, MISSING

SLURM = {
    "partition": "cpu", "account": "lab", "time": "30", "sbatch": ["--constraint=x86"],
    "setup": ["source /opt/venv/bin/activate"],
    "train": {"partition": "gpu", "gpus": 1, "time": "1:00:00", "cpus": 4, "mem": "16G", "setup": ["module load cuda"]},
    "shards": {"en": 2},
}
CODECS = ["english-soundstream", "multilingual_audio-soundstream"]
SETS = ["en", "other_languages", "music"]


def _study(tmp_path: Path, overrides: list[str] | None = None, **changes) -> StudySpec:
    data = tiny_study(tmp_path, tmp_path / "synth", executor="slurm", slurm=SLURM, baselines={"codecs": ["opus:6kbps"]})
    data.update(changes)
    return load_study(write_study(tmp_path / "tiny.yaml", data), overrides)


def _submitted(fake: FakeSlurm) -> dict[str, dict]:
    """Job name (without the study prefix) -> its sbatch call, with the dependency ids and script."""
    calls = {}
    for call in fake.calls("sbatch"):
        name = re.search(r"--job-name=codecstudy\.tiny\.(\S+)", call["script"]).group(1)
        dependency = next((a for a in call["argv"] if a.startswith("--dependency=")), "")
        call["after"] = dependency.removeprefix("--dependency=afterok:").split(":") if dependency else []
        calls[name] = call
    return calls


def _ids(fake: FakeSlurm) -> dict[str, str]:
    return {name.removeprefix("codecstudy.tiny."): job_id for job_id, name, _ in fake.queue()}


def test_job_graph_of_two_conditions_one_baseline_and_sharded_sets(tmp_path, monkeypatch) -> None:
    fake = install_fake_slurm(tmp_path / "slurm", monkeypatch)
    spec, layout = _study(tmp_path), RunLayout(tmp_path / "run")
    slurm.submit(spec, layout, [], echo=lambda _: None)
    calls, ids = _submitted(fake), _ids(fake)
    train = [f"train-{c}" for c in CODECS]
    evaluations = [f"evaluate-{c}-{s}" for s in SETS for c in CODECS]
    baselines = [f"baseline-opus-6kbps-{s}" for s in SETS]
    assert list(calls) == ["corpus", *train, *evaluations, *baselines, "report"]  # submitted in this order
    assert calls["corpus"]["after"] == []
    assert "--kill-on-invalid-dep=yes" in calls["train-english-soundstream"]["argv"]
    for name in train + baselines:
        assert calls[name]["after"] == [ids["corpus"]], name  # baselines wait for the corpus only
    for codec in CODECS:
        for eval_set in SETS:
            assert calls[f"evaluate-{codec}-{eval_set}"]["after"] == [ids[f"train-{codec}"]]
    assert calls["report"]["after"] == [ids[n] for n in ["corpus", *train, *evaluations, *baselines]]
    sharded = [n for n, c in calls.items() if "#SBATCH --array=0-1\n" in c["script"]]
    assert sharded == ["evaluate-english-soundstream-en", "evaluate-multilingual_audio-soundstream-en",
                       "baseline-opus-6kbps-en"]
    recorded = {j["name"]: j for j in slurm.recorded_jobs(layout)}
    assert recorded["evaluate-english-soundstream-en"] == {
        "name": "evaluate-english-soundstream-en", "kind": "evaluate-cpu",
        "items": ["evaluate:english-soundstream/en"], "after": ["train-english-soundstream"], "shards": 2,
        "id": ids["evaluate-english-soundstream-en"],
        "log": str(layout.slurm_log("evaluate-english-soundstream-en", "%A_%a")),
        "script": str(layout.slurm_script("evaluate-english-soundstream-en"))}
    assert layout.slurm_script("report").read_text() == calls["report"]["script"]


def test_scripts_carry_the_settings_asked_for(tmp_path, monkeypatch) -> None:
    fake = install_fake_slurm(tmp_path / "slurm", monkeypatch)
    spec = _study(tmp_path, ["slurm.baseline.qos=short", "evaluate.max_clips=2"])
    slurm.submit(spec, RunLayout(tmp_path / "run"), ["evaluate.max_clips=2"], echo=lambda _: None)
    calls = _submitted(fake)

    def options(name: str) -> list[str]:
        return re.findall(r"^#SBATCH (\S+)$", calls[name]["script"], re.M)

    train = options("train-english-soundstream")
    assert train[2:] == ["--partition=gpu", "--account=lab", "--time=1:00:00", "--cpus-per-task=4", "--mem=16G",
                         "--gres=gpu:1", "--kill-on-invalid-dep=yes", "--signal=B:USR2@120", "--requeue",
                         "--open-mode=append", "--constraint=x86"]
    assert train[1] == f"--output={(tmp_path / 'run' / 'slurm' / 'logs').resolve()}/train-english-soundstream-%j.out"
    assert options("baseline-opus-6kbps-music")[2:] == ["--partition=cpu", "--account=lab", "--qos=short",
                                                        "--time=30", "--kill-on-invalid-dep=yes", "--constraint=x86"]
    script = calls["train-english-soundstream"]["script"]
    assert script.index("source /opt/venv/bin/activate") < script.index("module load cuda") < script.index("run-item")
    assert 'export OMP_NUM_THREADS="$SLURM_CPUS_PER_TASK"' in script
    command = next(line for line in script.splitlines() if "run-item" in line)
    assert command.endswith(" &")  # in the background: the batch shell hands Slurm's USR2 on to it
    assert 'trap \'kill -USR2 "$child"' in script and 'if [ "$status" -eq 3 ]; then scontrol requeue' in script
    study, run = (tmp_path / "tiny.yaml").resolve(), (tmp_path / "run").resolve()
    assert command.removesuffix(" &").endswith(f"study run-item {study} --out {run} --item train:english-soundstream "
                                               "--set evaluate.max_clips=2")
    assert "--requeue" not in calls["evaluate-multilingual_audio-soundstream-en"]["script"]
    shard = calls["evaluate-multilingual_audio-soundstream-en"]["script"].strip().splitlines()[-1]
    assert '--item evaluate:multilingual_audio-soundstream/en --shard "${SLURM_ARRAY_TASK_ID}/2"' in shard


def _states(done: set[str]):
    def states(spec, layout):
        every = ["corpus", *(f"train:{c}" for c in CODECS), *(f"evaluate:{c}/{s}" for c in CODECS for s in SETS),
                 *(f"baseline:opus-6kbps/{s}" for s in SETS), "report"]
        return {item: COMPLETE if item in done else MISSING for item in every}
    return states


def test_resubmission_submits_only_what_is_neither_complete_nor_queued(tmp_path, monkeypatch) -> None:
    fake = install_fake_slurm(tmp_path / "slurm", monkeypatch)
    spec, layout = _study(tmp_path), RunLayout(tmp_path / "run")
    slurm.submit(spec, layout, [], echo=lambda _: None)
    first = _ids(fake)
    fake.forget_calls()
    plan = slurm.submit(spec, layout, [], echo=lambda _: None)  # everything still queued: nothing new
    assert fake.calls("sbatch") == [] and set(plan.action.values()) == {"queued"}

    # later: the corpus, the English codec and its scoring on `en` are done; the other codec still trains
    done = {"corpus", "train:english-soundstream", "evaluate:english-soundstream/en", "baseline:opus-6kbps/en"}
    monkeypatch.setattr(slurm, "item_states", _states(done))
    training, music = "train-multilingual_audio-soundstream", "evaluate-english-soundstream-music"
    fake.set_queue([(first[training], f"codecstudy.tiny.{training}", "RUNNING"),
                    (first[music], f"codecstudy.tiny.{music}", "FAILED"),
                    ("5", "codecstudy.other.corpus", "PENDING")])
    plan = slurm.submit(spec, layout, [], echo=lambda _: None)
    calls = _submitted(fake)
    running = first["train-multilingual_audio-soundstream"]
    assert sorted(calls) == sorted([
        "evaluate-english-soundstream-other_languages", "evaluate-english-soundstream-music",  # failed: again
        *(f"evaluate-multilingual_audio-soundstream-{s}" for s in SETS),
        "baseline-opus-6kbps-other_languages", "baseline-opus-6kbps-music", "report"])
    assert calls["evaluate-english-soundstream-music"]["after"] == []  # its codec is complete
    assert calls["evaluate-multilingual_audio-soundstream-en"]["after"] == [running]  # the queued training
    assert calls["baseline-opus-6kbps-music"]["after"] == []
    assert running in calls["report"]["after"] and first["corpus"] not in calls["report"]["after"]
    assert plan.action["train-english-soundstream"] == "complete"
    assert plan.action["train-multilingual_audio-soundstream"] == "queued"
    recorded = {j["name"]: j["id"] for j in slurm.recorded_jobs(layout)}
    assert recorded["corpus"] == first["corpus"]  # a complete job keeps the id it ran under


def test_dry_run_prints_the_scripts_and_the_graph_and_submits_nothing(tmp_path, monkeypatch) -> None:
    install_fake_slurm(tmp_path / "slurm", monkeypatch, commands=())  # no Slurm at all
    spec, layout = _study(tmp_path), RunLayout(tmp_path / "run")
    printed: list[str] = []
    slurm.submit(spec, layout, [], dry_run=True, echo=printed.append)
    text = "\n".join(printed)
    assert text.count("#!/bin/bash") == 1 + 2 + 6 + 3 + 1
    assert "  submit   evaluate-english-soundstream-en (evaluate-cpu array 0-1) after train-english-soundstream" in text
    assert "nothing was submitted" in text
    assert not layout.slurm_dir.exists()


def test_status_shows_each_job_beside_its_files_and_a_failed_jobs_log(tmp_path, monkeypatch) -> None:
    fake = install_fake_slurm(tmp_path / "slurm", monkeypatch)
    spec, layout = _study(tmp_path), RunLayout(tmp_path / "run")
    slurm.submit(spec, layout, [], echo=lambda _: None)
    ids = _ids(fake)
    monkeypatch.setattr(slurm, "item_states", _states({"corpus"}))
    fake.set_queue([(ids["train-english-soundstream"], "codecstudy.tiny.train-english-soundstream", "RUNNING"),
                    (ids["evaluate-english-soundstream-en"], "codecstudy.tiny.evaluate-english-soundstream-en",
                     "PENDING")])
    lines = {line.split()[0]: line for line in slurm.status_text(spec, layout).splitlines()[1:]}
    assert lines["corpus"].split()[1:] == [ids["corpus"], "complete"]
    assert lines["train-english-soundstream"].split()[1:] == [ids["train-english-soundstream"], "running"]
    assert lines["evaluate-english-soundstream-en"].endswith("pending")
    failed = ids["train-multilingual_audio-soundstream"]
    log = layout.slurm_log("train-multilingual_audio-soundstream", failed)
    assert lines["train-multilingual_audio-soundstream"].endswith(f"failed: log {log}")


def test_cancel_stops_only_this_studys_queued_jobs(tmp_path, monkeypatch) -> None:
    fake = install_fake_slurm(tmp_path / "slurm", monkeypatch)
    spec, layout = _study(tmp_path), RunLayout(tmp_path / "run")
    fake.set_queue([("5", "codecstudy.other.corpus", "PENDING"), ("6", "codecstudy.tiny.corpus", "COMPLETED")])
    slurm.submit(spec, layout, [], echo=lambda _: None)
    ours = sorted(_ids(fake)[name] for name in _ids(fake) if _ids(fake)[name] not in ("5", "6"))
    cancelled = slurm.cancel(spec, layout, echo=lambda _: None)
    assert sorted(cancelled) == ours and len(ours) == 1 + 2 + 6 + 3 + 1
    assert [c["argv"] for c in fake.calls("scancel")] == [cancelled]
    assert [row[1] for row in fake.queue()] == ["codecstudy.other.corpus", "codecstudy.tiny.corpus"]


def test_no_sbatch_on_path_is_one_line(tmp_path, monkeypatch) -> None:
    install_fake_slurm(tmp_path / "slurm", monkeypatch, commands=("squeue",))
    with pytest.raises(SlurmError) as error:
        slurm.submit(_study(tmp_path), RunLayout(tmp_path / "run"), [], echo=lambda _: None)
    assert str(error.value) == ("sbatch not found on PATH: executor slurm needs Slurm's client commands (run on a "
                                "login node, or use --executor local)")


def test_a_partition_the_cluster_lacks_is_one_line_and_leaves_nothing_queued(tmp_path, monkeypatch) -> None:
    fake = install_fake_slurm(tmp_path / "slurm", monkeypatch)
    monkeypatch.setenv("FAKE_SLURM_PARTITIONS", "cpu")
    layout = RunLayout(tmp_path / "run")
    with pytest.raises(SlurmError) as error:
        slurm.submit(_study(tmp_path), layout, [], echo=lambda _: None)
    assert str(error.value) == ("sbatch refused job train-english-soundstream: sbatch: error: Batch job submission "
                                "failed: Invalid partition name specified (slurm.train.partition or slurm.partition: "
                                "gpu)")
    assert "\n" not in str(error.value)
    assert [c["argv"] for c in fake.calls("scancel")] == [["1000"]]  # the corpus job it had submitted
    assert fake.queue() == [] and not layout.slurm_jobs.exists()


def test_gpus_on_a_cluster_without_gpus_is_one_line(tmp_path, monkeypatch) -> None:
    install_fake_slurm(tmp_path / "slurm", monkeypatch)
    monkeypatch.setenv("FAKE_SLURM_GPUS", "0")
    with pytest.raises(SlurmError) as error:
        slurm.submit(_study(tmp_path), RunLayout(tmp_path / "run"), [], echo=lambda _: None)
    assert str(error.value).endswith("Invalid generic resource (gres) specification (slurm.train.gpus=1: does the "
                                     "cluster have GPUs there?)")
    assert str(error.value).startswith("sbatch refused job train-english-soundstream: ")
