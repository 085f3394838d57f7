"""``codecstudy study run-item``: what one cluster job runs. The item's lock is taken, its state re-read from the
files, and it is skipped, resumed or run, exactly as the local runner would; its records go to a file of its own
(``stages/<item>.jsonl``) because several nodes write the run folder at once."""

from __future__ import annotations

import signal
from dataclasses import replace
from pathlib import Path

from codecstudy.errors import ConfigError
from codecstudy.study.checks import check_study
from codecstudy.study.executors.jobs import CORPUS_ITEM, REPORT_ITEM, item_id
from codecstudy.study.layout import RunLayout, default_run_dir
from codecstudy.study.parallel import threaded
from codecstudy.study.runner import StageRecord, StudyRunner
from codecstudy.study.schedule import study_items
from codecstudy.study.spec import StudySpec
from codecstudy.study.stages import train_stage
from codecstudy.train.interrupt import stop_on_signal


def run_job_item(spec: StudySpec, out: Path | None, item: str, shard: tuple[int, int] | None = None,
                 progress: bool = False, launch: str | None = None) -> list[StageRecord]:
    """Run one job item (``corpus``, ``train:CODEC``, ``evaluate:CODEC/SET`` with a ``shard``, ``report``...);
    a training with ``launch`` runs as that launcher's processes (``torchrun`` on the job's GPUs)."""
    shard_part = f".shard-{shard[0]}-of-{shard[1]}" if shard and shard[1] > 1 else ""
    layout = RunLayout(Path(out) if out else default_run_dir(spec.name))
    runner = StudyRunner(spec, layout.root, progress=progress, stages_log=layout.job_stages_log(item + shard_part))
    if item == CORPUS_ITEM:
        check_study(spec, None, runner.layout)
        return runner.prepare()
    runs = spec.codec_runs()
    if item == REPORT_ITEM:
        if spec.tts.enabled:
            runner.tts(runs)
        return runner.conclude()
    items = {item_id(i.stage, i.item): i for i in study_items(spec, runner.layout, runs, progress, baselines=True)}
    if item not in items:
        known = ", ".join([CORPUS_ITEM, *items, REPORT_ITEM])
        raise ConfigError(f"study {spec.name}: no item {item!r} (items: {known})")
    chosen = items[item]
    if chosen.stage == "train":
        stop_on_signal(signal.SIGUSR2)  # Slurm's warning before the time limit or preemption (--signal=B:USR2@N)
        if launch and chosen.run is not None:
            chosen = replace(chosen, work=threaded(train_stage, chosen.run, spec, runner.layout, False, launch=launch))
    elif launch:
        raise ConfigError(f"study {spec.name}: --launch is for a training item, not {item!r}")
    runner.run_one(chosen, shard)
    return runner.records
