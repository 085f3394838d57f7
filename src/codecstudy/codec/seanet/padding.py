"""Time-axis padding that treats each item of a batch as if it ended at its own length."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def time_mask(lengths: Tensor, size: int) -> Tensor:
    """``[B, 1, size]`` boolean mask, True inside each item's length."""
    steps = torch.arange(size, device=lengths.device)
    return (steps[None, :] < lengths[:, None]).unsqueeze(1)


def reflect_index(positions: Tensor, lengths: Tensor) -> Tensor:
    """Source index of each position under reflect padding of a signal of length ``lengths[b]``.

    The reflection is extended periodically, so it is defined for any pad width and any length >= 1; wherever
    ``F.pad(mode="reflect")`` is defined the two agree.
    """
    length = lengths.clamp(min=1)[:, None]
    period = (2 * (length - 1)).clamp(min=1)
    r = torch.remainder(positions[None, :], period)
    return torch.where(r < length, r, period - r)


def pad1d(x: Tensor, left: int, right: int, mode: str, lengths: Tensor | None = None) -> Tensor:
    """Pad the time axis; with ``lengths``, each item is padded as if it ended at its own length."""
    if left == 0 and right == 0:
        return x
    if mode == "constant":
        if lengths is not None and right > 0:
            x = x * time_mask(lengths, x.shape[-1]).to(x.dtype)
        return F.pad(x, (left, right))
    size = x.shape[-1]
    if lengths is None:
        if size > max(left, right):
            return F.pad(x, (left, right), mode="reflect")
        lengths = torch.full((x.shape[0],), size, dtype=torch.long, device=x.device)
    positions = torch.arange(-left, size + right, device=x.device)
    index = reflect_index(positions, lengths.to(x.device))
    return x.gather(2, index[:, None, :].expand(x.shape[0], x.shape[1], index.shape[-1]))
