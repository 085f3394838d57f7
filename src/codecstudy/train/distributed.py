"""Multi-process training: process group set-up from ``torchrun``'s environment, and the collective operations
the trainer needs beyond DDP's gradient averaging.

One process per device. Started by ``torchrun --nproc_per_node N -m codecstudy train ...`` the trainer finds
``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` in its environment and joins a process group: NCCL when CUDA is available,
gloo on CPU. Started plainly it runs alone and every helper here is a no-op, so the single-process path has no
distributed code in it.

Why a codebook sync: EMA codebooks are buffers updated inside the forward pass from each process's own batch, so
DDP's gradient all-reduce does not touch them and the processes' codebooks would drift apart. Averaging the EMA
statistics after every step (:func:`sync_codebooks`) gives every process the codebook that the union of the
batches would have produced (exactly for codes not replaced as dead in that step), instead of DDP's default of
overwriting everything with rank 0's buffers, which would throw the other processes' statistics away.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from codecstudy.codec.quantize import EMACodebook
from codecstudy.errors import ConfigError


@dataclass(frozen=True)
class DistContext:
    """Where this process sits: rank, number of processes and its device."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0 alone writes checkpoints, logs and the audio cache."""
        return self.rank == 0


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def local_context() -> DistContext:
    """One process on this machine's first GPU, or on the CPU where none is visible."""
    return DistContext(device=torch.device("cuda", 0) if torch.cuda.is_available() else torch.device("cpu"))


def init_distributed(timeout_minutes: float = 30.0) -> DistContext:
    """Join the process group described by torchrun's environment variables, or return a single-process context."""
    cuda = torch.cuda.is_available()
    if not launched_by_torchrun():
        return local_context()
    rank = int(os.environ["RANK"])
    world = int(os.environ["WORLD_SIZE"])
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if cuda:
        device = torch.device("cuda", local % torch.cuda.device_count())
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    if not dist.is_initialized():
        dist.init_process_group(
            backend="nccl" if cuda else "gloo",
            timeout=datetime.timedelta(minutes=timeout_minutes),
        )
    return DistContext(rank=rank, world_size=world, local_rank=local, device=device)


def shutdown(ctx: DistContext) -> None:
    """Leave the process group together: a rank that tore its group down while another still held gloo's
    connections to it made that one abort at exit ("terminate called without an active exception")."""
    if ctx.enabled and dist.is_initialized():
        barrier(ctx)
        dist.destroy_process_group()


def barrier(ctx: DistContext) -> None:
    if ctx.enabled:
        if ctx.device.type == "cuda":
            dist.barrier(device_ids=[ctx.device.index])
        else:
            dist.barrier()


def any_true(ctx: DistContext, flag: bool) -> bool:
    """True on every process when it is True on at least one (e.g. one process saw a NaN loss)."""
    if not ctx.enabled:
        return flag
    value = torch.tensor([1.0 if flag else 0.0], device=ctx.device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item() > 0)


def broadcast_object(ctx: DistContext, obj: Any, src: int = 0) -> Any:
    """Rank ``src``'s Python object on every process (error messages, resume decisions)."""
    if not ctx.enabled:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def gather_objects(ctx: DistContext, obj: Any) -> list[Any]:
    """Every process's object, in rank order, on every process (RNG states for the checkpoint)."""
    if not ctx.enabled:
        return [obj]
    out: list[Any] = [None] * ctx.world_size
    dist.all_gather_object(out, obj)
    return out


def mean_scalars(ctx: DistContext, values: dict[str, float]) -> dict[str, float]:
    """Average logged terms over the processes that logged them.

    The processes need not pass the same keys: with quantizer dropout each process's slice of the batch uses its
    own number of codebooks, so its usage has one perplexity per codebook it used. The keys are gathered first and
    each one is averaged over the processes that have it (one all-reduce of values and counts)."""
    if not ctx.enabled:
        return values
    keys = sorted(set().union(*gather_objects(ctx, sorted(values))))
    if not keys:
        return values
    rows = [[values.get(key, 0.0), 1.0 if key in values else 0.0] for key in keys]
    tensor = torch.tensor(rows, dtype=torch.float64, device=ctx.device)
    dist.all_reduce(tensor)
    return {key: total / count for key, (total, count) in zip(keys, tensor.tolist()) if count > 0}


def _ema_codebooks(model: nn.Module) -> Iterator[EMACodebook]:
    for module in model.modules():
        if isinstance(module, EMACodebook):
            yield module


def codebooks_initialized(model: nn.Module) -> bool:
    return all(bool(book.initialized) for book in _ema_codebooks(model))


@torch.no_grad()
def sync_codebooks(ctx: DistContext, model: nn.Module, broadcast: bool = False) -> None:
    """Make every process's EMA codebooks equal after a step (see the module docstring).

    ``broadcast`` copies rank 0's codebooks instead of averaging: needed right after the k-means initialisation,
    where each process clustered its own batch and the codes of two processes do not correspond.
    """
    if not ctx.enabled:
        return
    for book in _ema_codebooks(model):
        if broadcast:
            for buffer in (book.embed, book.embed_avg, book.cluster_size, book.initialized):
                dist.broadcast(buffer, src=0)
            continue
        stats = torch.cat((book.cluster_size[:, None], book.embed_avg), dim=1)
        dist.all_reduce(stats)
        stats /= ctx.world_size
        book.cluster_size.copy_(stats[:, 0])
        book.embed_avg.copy_(stats[:, 1:])
        # the same Laplace-smoothed normalisation as EMACodebook.ema_update
        total = book.cluster_size.sum()
        smoothed = (book.cluster_size + book.epsilon) / (total + book.size * book.epsilon) * total
        book.embed.copy_(book.embed_avg / smoothed[:, None])


def shard_size(batch_size: int, ctx: DistContext) -> int:
    """Crops per process for a global batch; the batch must split evenly so that N x B/N == one process x B."""
    if batch_size % ctx.world_size:
        raise ConfigError(
            f"train.batch_size ({batch_size}) must be divisible by the number of processes ({ctx.world_size})"
        )
    return batch_size // ctx.world_size
