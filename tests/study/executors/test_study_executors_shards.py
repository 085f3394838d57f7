"""A resubmitted evaluation array asks only for the tasks whose clips are not all scored (the tiny study's finished
run with a shard's result lines taken out); an unscored evaluation gets every task."""

from __future__ import annotations

import json
import re
from pathlib import Path

from helpers.fakeslurm import install_fake_slurm

from codecstudy.study.executors import slurm
from codecstudy.study.executors.jobs import study_jobs
from codecstudy.study.executors.shards import incomplete_shards, shard_clips
from codecstudy.study.layout import RunLayout
from codecstudy.study.spec import load_study
from codecstudy.study.state import eval_clip_ids

CODEC, SET = "english-soundstream", "en"


def _drop_clips(folder: Path, clips: set[str]) -> int:
    """Take the lines of ``clips`` out of every results file below ``folder``; how many went."""
    removed = 0
    for path in folder.glob("*/results*.jsonl"):
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        kept = [line for line in lines if not line.strip() or json.loads(line)["clip"] not in clips]
        removed += len(lines) - len(kept)
        path.write_text("".join(kept), encoding="utf-8")
    return removed


def _job(spec, name: str):
    return next(job for job in study_jobs(spec) if job.name == name)


def test_shards_split_the_clips_as_the_scorer_does() -> None:
    clips = [f"c{i}" for i in range(7)]
    assert [shard_clips(clips, k, 3) for k in range(3)] == [["c0", "c3", "c6"], ["c1", "c4"], ["c2", "c5"]]


def test_only_the_shard_that_lost_clips_is_submitted_again(run_copy, tmp_path, monkeypatch) -> None:
    study, run = run_copy
    spec, layout = load_study(study, ["slurm.shards=3"]), RunLayout(run)
    job = _job(spec, f"evaluate-{CODEC}-{SET}")
    assert incomplete_shards(spec, layout, job) == []  # the finished run: nothing to score

    clips = eval_clip_ids(layout, SET)
    assert len(clips) >= 3
    assert _drop_clips(layout.eval_dir(CODEC, SET), set(shard_clips(clips, 1, 3))) > 0
    assert incomplete_shards(spec, layout, job) == [1]

    fake = install_fake_slurm(tmp_path / "slurm", monkeypatch)
    plan = slurm.submit(spec, layout, [], echo=lambda _: None)
    assert {name for name, action in plan.action.items() if action == "submit"} == {job.name, "report"}
    call = next(c for c in fake.calls("sbatch") if f"job-name=codecstudy.tiny.{job.name}\n" in c["script"])
    assert "--array=1" in call["argv"]  # on the command line; the script keeps every task for a run by hand
    assert re.search(r"#SBATCH --array=0-2\n", call["script"])
    recorded = {j["name"]: j for j in slurm.recorded_jobs(layout)}
    assert recorded[job.name]["tasks"] == [1] and "tasks" not in recorded["report"]


def test_an_unscored_evaluation_gets_every_task(run_copy) -> None:
    study, run = run_copy
    spec, layout = load_study(study, ["slurm.shards=2"]), RunLayout(run)
    job = _job(spec, f"evaluate-{CODEC}-{SET}")
    _drop_clips(layout.eval_dir(CODEC, SET), set(eval_clip_ids(layout, SET)))
    assert incomplete_shards(spec, layout, job) is None
