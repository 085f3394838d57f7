"""The Slurm executor against a recording fake sbatch/squeue/scancel: the job graph and its dependencies, the
scripts' settings, resubmission of what is missing only, status, cancel, and bad input as one line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers.fakehub import WAVLM_FILES, FakeHub
from helpers.fakeslurm import FakeSlurm, install_fake_slurm
from helpers.studysetup import tiny_study, write_study

from codecstudy.errors import ConfigError
from codecstudy.jsonl import write_jsonl_atomic
from codecstudy.study.executors import slurm
from codecstudy.study.executors.slurmctl import SlurmError
from codecstudy.study.layout import RunLayout
from codecstudy.study.spec import StudySpec, load_study
from codecstudy.study.state import COMPLETE, MISSING, StageState

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


# ------------------------------------------------------------------------------------ split evaluations, clip counts
SPLIT = {"evaluate": {"n_q": [1, 2], "metrics": ["mel_distance", "speech_bert", "si_snr"], "mode": "fast",
                      "max_clips": 3, "workers": 1, "device": "cuda"}}
GPU_SLURM = {**SLURM, "evaluate-gpu": {"partition": "gpu", "gpus": 1}, "evaluate-cpu": {"cpus": 8}}


@pytest.fixture
def wavlm_cached(tmp_path, monkeypatch) -> None:
    """speech_bert's WavLM in a (fake) hub cache: a submission refuses a study whose models are not cached."""
    FakeHub(tmp_path / "hf-cache", monkeypatch).put("microsoft/wavlm-large", WAVLM_FILES)


@pytest.mark.usefixtures("wavlm_cached")
def test_a_gpu_studys_evaluation_is_a_gpu_job_and_a_cpu_job_over_the_same_shards(tmp_path, monkeypatch) -> None:
    fake = install_fake_slurm(tmp_path / "slurm", monkeypatch)
    spec, layout = _study(tmp_path, slurm=GPU_SLURM, **SPLIT), RunLayout(tmp_path / "run")
    slurm.submit(spec, layout, [], echo=lambda _: None)
    calls, ids = _submitted(fake), _ids(fake)
    evaluations = [f"evaluate-{c}-{s}-{part}" for s in SETS for c in CODECS for part in ("gpu", "cpu")]
    train = [f"train-{c}" for c in CODECS]
    baselines = [f"baseline-opus-6kbps-{s}" for s in SETS]
    assert list(calls) == ["corpus", *train, *evaluations, *baselines, "report"]
    recorded = {j["name"]: j for j in slurm.recorded_jobs(layout)}
    for codec in CODECS:
        for eval_set in SETS:
            for part in ("gpu", "cpu"):
                name = f"evaluate-{codec}-{eval_set}-{part}"
                assert calls[name]["after"] == [ids[f"train-{codec}"]], name  # both wait for the codec only
                entry = recorded[name]
                assert (entry["kind"], entry["metrics"], entry["items"], entry["shards"]) == (
                    f"evaluate-{part}", part, [f"evaluate:{codec}/{eval_set}"], 2 if eval_set == "en" else 1)
                command = calls[name]["script"].strip().splitlines()[-1]
                assert f"--item evaluate:{codec}/{eval_set}" in command and f" --metrics {part}" in command
    gpu, cpu = (calls[f"evaluate-english-soundstream-en-{p}"]["script"] for p in ("gpu", "cpu"))
    assert "#SBATCH --array=0-1\n" in gpu and "#SBATCH --array=0-1\n" in cpu
    assert "#SBATCH --partition=gpu\n" in gpu and "#SBATCH --gres=gpu:1\n" in gpu
    assert "#SBATCH --partition=cpu\n" in cpu and "#SBATCH --cpus-per-task=8\n" in cpu and "--gres" not in cpu
    assert '--shard "${SLURM_ARRAY_TASK_ID}/2" --metrics gpu' in gpu
    assert calls["report"]["after"] == [ids[n] for n in ["corpus", *train, *evaluations, *baselines]]
    assert "metrics" not in recorded["baseline-opus-6kbps-en"] and "metrics" not in recorded["corpus"]


@pytest.mark.usefixtures("wavlm_cached")
@pytest.mark.parametrize(("evaluate", "kind"), [
    ({"device": "cpu"}, "evaluate-cpu"),  # every metric on CPU nodes: one job puts each clip through the codec once
    ({"metrics": ["mel_distance", "si_snr"]}, "evaluate-gpu"),  # one group of metrics: one job, as before
])
def test_one_group_of_metrics_or_a_cpu_device_is_one_evaluation_job(tmp_path, monkeypatch, evaluate, kind) -> None:
    install_fake_slurm(tmp_path / "slurm", monkeypatch)
    spec = _study(tmp_path, slurm=GPU_SLURM, evaluate={**SPLIT["evaluate"], **evaluate})
    layout = RunLayout(tmp_path / "run")
    slurm.submit(spec, layout, [], echo=lambda _: None)
    recorded = {j["name"]: j for j in slurm.recorded_jobs(layout)}
    evaluations = [j for j in recorded.values() if j["name"].startswith("evaluate-")]
    assert sorted(j["name"] for j in evaluations) == sorted(f"evaluate-{c}-{s}" for c in CODECS for s in SETS)
    assert {j["kind"] for j in evaluations} == {kind} and not any("metrics" in j for j in evaluations)


@pytest.mark.usefixtures("wavlm_cached")
def test_a_finished_part_is_not_submitted_again_and_status_shows_each_part(tmp_path, monkeypatch) -> None:
    fake = install_fake_slurm(tmp_path / "slurm", monkeypatch)
    spec, layout = _study(tmp_path, slurm=GPU_SLURM, **SPLIT), RunLayout(tmp_path / "run")
    slurm.submit(spec, layout, [], echo=lambda _: None)
    first = _ids(fake)
    fake.set_queue([])  # every job ended
    fake.forget_calls()
    item = "evaluate:english-soundstream/en"
    done = {"corpus", *(f"train:{c}" for c in CODECS), *(f"baseline:opus-6kbps/{s}" for s in SETS),
            *(f"evaluate:{c}/{s}+{p}" for c in CODECS for s in SETS for p in ("gpu", "cpu"))}
    done -= {f"{item}+cpu"}  # the DSP part of one evaluation failed half-way; its GPU part is complete

    def states(spec, layout):
        keys = [*done, f"{item}+cpu", item, *(f"evaluate:{c}/{s}" for c in CODECS for s in SETS), "report"]
        return {key: COMPLETE if key in done or (key.startswith("evaluate:") and "+" not in key and key != item)
                else MISSING for key in keys}

    monkeypatch.setattr(slurm, "item_states", states)
    lines = {line.split()[0]: line for line in slurm.status_text(spec, layout).splitlines()[1:]}
    assert lines["evaluate-english-soundstream-en-gpu"].split()[1:] == [first["evaluate-english-soundstream-en-gpu"],
                                                                         "complete"]
    cpu_job = first["evaluate-english-soundstream-en-cpu"]
    log = layout.slurm_log("evaluate-english-soundstream-en-cpu", f"{cpu_job}_%a")
    assert lines["evaluate-english-soundstream-en-cpu"].endswith(f"failed: log {log}")
    plan = slurm.submit(spec, layout, [], echo=lambda _: None)
    assert sorted(_submitted(fake)) == ["evaluate-english-soundstream-en-cpu", "report"]
    assert plan.action["evaluate-english-soundstream-en-gpu"] == "complete"
    again = _ids(fake)["evaluate-english-soundstream-en-cpu"]
    assert f"  submit   evaluate-english-soundstream-en-cpu [{again}] (evaluate-cpu array 0-1, cpu metrics)\n" in (
        plan.graph_text())


def test_clips_per_shard_sizes_each_sets_arrays(tmp_path, monkeypatch) -> None:
    fake = install_fake_slurm(tmp_path / "slurm", monkeypatch)
    no_shards = {k: v for k, v in SLURM.items() if k != "shards"}
    spec = _study(tmp_path, ["slurm.clips_per_shard=2"], slurm=no_shards)  # evaluate.max_clips 3: 2 tasks a set
    slurm.submit(spec, RunLayout(tmp_path / "run"), [], echo=lambda _: None)
    arrays = {name: re.search(r"^#SBATCH --array=(\S+)$", call["script"], re.M) for name, call in
              _submitted(fake).items()}
    scored = [n for n in arrays if n.startswith(("evaluate-", "baseline-"))]
    assert len(scored) == 6 + 3 and all(arrays[n] and arrays[n].group(1) == "0-1" for n in scored)
    assert not any(arrays[n] for n in arrays if n not in scored)


def test_clips_per_shard_counts_a_built_set_and_needs_a_count(tmp_path, monkeypatch) -> None:
    install_fake_slurm(tmp_path / "slurm", monkeypatch)
    data = tiny_study(tmp_path, tmp_path / "synth", executor="slurm", slurm={"clips_per_shard": 2})
    data["evaluate"] = {k: v for k, v in data["evaluate"].items() if k != "max_clips"}
    spec, layout = load_study(write_study(tmp_path / "tiny.yaml", data)), RunLayout(tmp_path / "run")
    with pytest.raises(ConfigError) as error:  # no evaluate.max_clips and no corpus yet: refused before anything
        slurm.submit(spec, layout, [], dry_run=True, echo=lambda _: None)
    assert str(error.value) == (f"{tmp_path / 'tiny.yaml'}: slurm.clips_per_shard: the number of clips of eval set "
                                "'en' is not known before the corpus is built; set evaluate.max_clips or slurm.shards")
    for eval_set, clips in {"en": 5, "other_languages": 4, "music": 1}.items():
        write_jsonl_atomic(layout.eval_manifest(eval_set), ({"id": f"{eval_set}{i}"} for i in range(clips)))
    monkeypatch.setattr(slurm.state, "conditions_state", lambda spec, layout: StageState("conditions", "", COMPLETE))
    assert slurm.set_clips(spec, layout) == {"en": 5, "other_languages": 4, "music": 1}
    shards = {j.name: j.shards for j in slurm.plan_submission(spec, layout, {}).jobs}
    assert [shards[f"evaluate-english-soundstream-{s}"] for s in SETS] == [3, 2, 1]
    capped = load_study(tmp_path / "tiny.yaml", ["evaluate.max_clips=2"])  # a built set is never above its max_clips
    assert slurm.set_clips(capped, layout)["other_languages"] == 2
