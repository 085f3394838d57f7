"""``study run-item``: the Slurm jobs' items, run one after another here in the job graph's order (evaluations as
two shards), make the same tables as the local runner, each job's records in a file of its own."""

from __future__ import annotations

import shutil

import pytest
from helpers.tables import table_cells

from codecstudy.study.executors.items import run_job_item
from codecstudy.study.executors.jobs import study_jobs
from codecstudy.study.layout import RunLayout
from codecstudy.study.runner import stage_records
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
