"""The single-process context: where a trainer built without torchrun (benchmarks, the study's calibration) runs."""

from __future__ import annotations

import pytest
import torch

from codecstudy.train import distributed as D


def test_a_trainer_without_a_context_uses_the_gpu_where_there_is_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert D.local_context().device == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    context = D.local_context()
    assert context.device == torch.device("cuda", 0) and context.world_size == 1 and context.is_main
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert D.init_distributed().device == torch.device("cuda", 0)  # `codecstudy train` without torchrun: the same
