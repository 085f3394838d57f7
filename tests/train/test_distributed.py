"""The single-process context (where a trainer built without torchrun runs), and the collectives two gloo processes
share when their logged terms differ."""

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


def _mean_scalars_on_rank(rank: int, store: str, out: str) -> None:
    import json

    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    ctx = D.DistContext(rank=rank, world_size=2)
    # rank 0 used two codebooks in this interval, rank 1 one (quantizer dropout): different keys
    mine = {"loss": 1.0 + rank, "perplexity/q0": 4.0 * (rank + 1)}
    if rank == 0:
        mine["perplexity/q1"] = 3.0
    means = D.mean_scalars(ctx, mine)
    stop = D.any_true(ctx, rank == 1)  # the next collective still lines up
    dist.destroy_process_group()
    with open(f"{out}.{rank}", "w") as handle:
        json.dump({"means": means, "stop": stop}, handle)


def test_logged_terms_average_over_the_processes_that_have_them(tmp_path) -> None:
    import json

    import torch.multiprocessing as mp

    mp.spawn(_mean_scalars_on_rank, args=(str(tmp_path / "store"), str(tmp_path / "out")), nprocs=2, join=True)
    for rank in (0, 1):
        got = json.loads((tmp_path / f"out.{rank}").read_text())
        assert got["means"] == {"loss": 1.5, "perplexity/q0": 6.0, "perplexity/q1": 3.0}
        assert got["stop"] is True
