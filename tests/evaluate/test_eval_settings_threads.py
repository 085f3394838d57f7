"""The scorer's threads come from the cores this process was given (a Slurm job's allocation), not the node's."""

from __future__ import annotations

from codecstudy.evaluate.settings import EvalSettings


def test_torch_threads_follow_the_slurm_allocation_not_the_node(monkeypatch) -> None:
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "1")
    assert EvalSettings(workers=1).torch_threads() == 1
    assert EvalSettings(workers=1, threads=3).torch_threads() == 3  # an explicit count is kept
