"""The local executor: the study runner's scheduler, items as processes on this machine (today's behaviour)."""

from __future__ import annotations

from codecstudy.study.runner import StageRecord, StudyRunner


def run_local(runner: StudyRunner, only: list[str] | None = None) -> list[StageRecord]:
    """Every stage that is not complete, in order, ``parallel`` items at a time (:class:`StudyRunner`)."""
    return runner.run(only)
