"""``study run-item``: the Slurm jobs' items, run one after another here in the job graph's order (evaluations as
two shards, or as a GPU-metrics and a DSP-metrics part), make the same tables as the local runner, each job's
records in a file of its own."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from helpers.studysetup import tiny_study, write_study
from helpers.tables import table_cells

from codecstudy.errors import ConfigError
from codecstudy.evaluate.outputs import read_results
from codecstudy.study.executors.items import run_job_item
from codecstudy.study.executors.jobs import study_jobs
from codecstudy.study.layout import RunLayout
from codecstudy.study.runner import StudyRunner, stage_records
from codecstudy.study.spec import load_study


@pytest.mark.slow
def test_jobs_item_by_item_with_sharded_sets_write_the_same_tables_as_a_local_run(tiny_run, tmp_path) -> None:
    study, run, _ = tiny_run
    out = tmp_path / "run"
    shutil.copytree(run / "corpus", out / "corpus")  # the corpus job then finds it complete
    spec = load_study(study, ["slurm.shards=2"])
    for job in study_jobs(spec):
        for item in job.items:
            for shard in range(job.shards):
                run_job_item(spec, out, item, (shard, job.shards) if job.shards > 1 else None)
    layout = RunLayout(out)
    assert sorted(p.name for p in layout.eval_setting_dir("english-soundstream", "en", 1).glob("results*")) == [
        "results.shard-0-of-2.jsonl", "results.shard-1-of-2.jsonl"]
    for name in ("summary.csv", "paper_counts.csv"):
        assert table_cells(layout.table(name)) == table_cells(run / "tables" / name), name
    assert not layout.stages_log.exists()
    files = sorted(p.name for p in layout.job_stages_dir.iterdir())
    assert "train_english-soundstream.jsonl" in files and "evaluate_english-soundstream_en.shard-1-of-2.jsonl" in files
    records = stage_records(layout)
    assert {(r["stage"], r["action"]) for r in records if r["stage"] in ("train", "evaluate")} == {
        ("train", "ran"), ("evaluate", "ran"), ("evaluate", "resumed")}  # the second shard finds the first's lines
    assert [r["stage"] for r in records][-2:] == ["aggregate", "report"]
    # a second pass finds every item complete: nothing runs again
    run_job_item(spec, out, "train:english-soundstream")
    assert stage_records(layout)[-1]["action"] == "skipped"


def test_only_a_split_evaluation_takes_a_metrics_part(tmp_path) -> None:
    study = write_study(tmp_path / "tiny.yaml", tiny_study(tmp_path, tmp_path / "synth"))
    with pytest.raises(ConfigError) as error:  # device cpu: one job scores every metric
        run_job_item(load_study(study), tmp_path / "run", "evaluate:english-soundstream/en", metrics="gpu")
    assert str(error.value) == ("study tiny: --metrics gpu: only the evaluations of a study whose GPU and DSP metrics "
                                "are separate jobs take it (parts: none, evaluate.device=cpu)")
    split = load_study(study, ["evaluate.device=cuda", "evaluate.metrics=[si_snr,utmos]"])
    with pytest.raises(ConfigError, match=r"--metrics cpu: .*\(parts: gpu, cpu, evaluate.device=cuda\)"):
        run_job_item(split, tmp_path / "run", "train:english-soundstream", metrics="cpu")
    assert not (tmp_path / "run").exists()


def _with_evaluation(study: Path, out: Path, evaluate: dict) -> Path:
    """The study file with other ``evaluate`` keys, written to ``out``."""
    data = yaml.safe_load(study.read_text(encoding="utf-8"))
    data["evaluate"] = {**data["evaluate"], **evaluate}
    return write_study(out, data)


@pytest.mark.slow
def test_split_evaluation_jobs_write_the_same_tables_as_one_item_per_evaluation(tiny_run, tmp_path) -> None:
    pytest.importorskip("transformers", reason="transformers is in the eval extra")
    from helpers.randommodels import save_random_wavlm

    study, run, _ = tiny_run
    wavlm = save_random_wavlm(tmp_path / "wavlm")
    evaluate = {"metrics": ["mel_distance", "speech_bert", "si_snr"],
                "metric_settings": {"speech_bert": {"model": str(wavlm), "layer": 3}}}
    # device auto: a GPU study (its metrics split into two jobs) that runs on this machine's CPU
    split = load_study(_with_evaluation(study, tmp_path / "split.yaml", {**evaluate, "device": "auto"}))
    whole = load_study(_with_evaluation(study, tmp_path / "whole.yaml", evaluate))
    outs = {"split": tmp_path / "split", "whole": tmp_path / "whole"}
    for out in outs.values():  # the corpus and the trained codecs of the tiny run: only the scoring differs
        for folder in ("corpus", "codecs"):
            shutil.copytree(run / folder, out / folder)
    StudyRunner(whole, outs["whole"], progress=False, echo=lambda _: None).run()
    jobs = study_jobs(split, {s: 3 for s in split.eval_set_names})
    assert [(j.name, j.kind, j.metrics) for j in jobs if j.name.startswith("evaluate-english-soundstream-en")] == [
        ("evaluate-english-soundstream-en-gpu", "evaluate-gpu", "gpu"),
        ("evaluate-english-soundstream-en-cpu", "evaluate-cpu", "cpu")]
    for job in jobs:
        for item in job.items:
            for shard in range(job.shards):
                run_job_item(split, outs["split"], item, (shard, job.shards) if job.shards > 1 else None,
                             metrics=job.metrics)
    layouts = {name: RunLayout(out) for name, out in outs.items()}
    folder = layouts["split"].eval_setting_dir("english-soundstream", "en", 1)
    assert sorted(p.name for p in folder.glob("results*")) == ["results.part-cpu.jsonl", "results.part-gpu.jsonl"]
    joined = {(r["clip"], k): v for r in read_results(folder) for k, v in r["metrics"].items()}
    alone = {(r["clip"], k): v for r in read_results(layouts["whole"].eval_setting_dir("english-soundstream", "en", 1))
             for k, v in r["metrics"].items()}
    # one or two torch threads may change a sum's last digit; the values are otherwise the same
    assert joined == pytest.approx(alone, rel=1e-9, abs=1e-12)
    assert {"mel_distance", "speech_bert", "speech_bert_f1", "si_snr"} <= {key for _, key in joined}
    for name in ("summary.csv", "paper_counts.csv"):
        assert table_cells(layouts["split"].table(name)) == table_cells(layouts["whole"].table(name)), name
    files = sorted(p.name for p in layouts["split"].job_stages_dir.iterdir())
    assert "evaluate_english-soundstream_en.part-gpu.jsonl" in files
