"""The SEANet building blocks between the strided convs: activations (ELU, Snake), residual units, the LSTM."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from codecstudy.codec.config import SEANetConfig
from codecstudy.codec.seanet import kernels
from codecstudy.codec.seanet.conv import SConv1d, StreamState
from codecstudy.codec.seanet.kernels import fast_kernels_active
from codecstudy.codec.seanet.padding import pad1d


class Snake1d(nn.Module):
    """Snake activation ``x + sin^2(a x) / a`` with a learned frequency per channel (DAC); suits periodic audio."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(1, channels, 1))

    def forward(self, x: Tensor) -> Tensor:
        s = torch.sin(self.alpha * x)
        return x + (self.alpha + 1e-9).reciprocal() * (s * s)


class Activation(nn.Module):
    """Pointwise activation with the layer interface (``lengths`` ignored, stateless in streaming)."""

    def __init__(self, kind: str, channels: int) -> None:
        super().__init__()
        self.kind = kind
        if kind == "elu":
            self.fn: nn.Module = nn.ELU()
        elif kind == "snake":
            self.fn = Snake1d(channels)
        elif kind == "tanh":
            self.fn = nn.Tanh()
        elif kind == "none":
            self.fn = nn.Identity()
        else:
            raise ValueError(f"unknown activation {kind!r}")

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        return self.fn(x)

    def inplace(self, x: Tensor) -> Tensor:
        """The activation written over ``x`` where that is possible (ELU), saving a full-size allocation.

        Only for tensors the caller owns and will not read again, and only without autograd.
        """
        if self.kind == "elu":
            return F.elu_(x)
        return self.fn(x)

    def stream(self, x: Tensor, state: StreamState) -> Tensor:
        return self.fn(x)


class ResidualUnit(nn.Module):
    """act -> dilated conv -> act -> 1x1 conv, plus a shortcut (identity when ``true_skip``)."""

    def __init__(self, dim: int, dilation: int, cfg: SEANetConfig) -> None:
        super().__init__()
        hidden = max(1, dim // cfg.compress)
        conv = {"causal": cfg.causal, "pad_mode": cfg.pad_mode, "norm": cfg.norm}
        self.act1 = Activation(cfg.activation, dim)
        self.conv1 = SConv1d(dim, hidden, cfg.residual_kernel_size, dilation=dilation, **conv)
        self.act2 = Activation(cfg.activation, hidden)
        self.conv2 = SConv1d(hidden, dim, 1, **conv)
        self.shortcut = None if cfg.true_skip else SConv1d(dim, dim, 1, **conv)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        if fast_kernels_active() and self._pointwise_tail():
            if lengths is None:
                return self._forward_blocked(x)
            return self._tail(x, self.act2.inplace(self.conv1(self.act1(x), lengths)))
        y = self.conv2(self.act2(self.conv1(self.act1(x), lengths)))
        return (x if self.shortcut is None else self.shortcut(x)) + y

    def _pointwise_tail(self) -> bool:
        return (
            self.conv2.conv.kernel_size[0] == 1
            and self.conv1.stride == 1
            and (self.shortcut is None or self.shortcut.conv.kernel_size[0] == 1)
        )

    def _tail_params(self) -> tuple[Tensor, Tensor | None]:
        """Weight and bias of ``shortcut(x) + conv2(hidden)`` as one 1x1 conv over ``[x; hidden]``.

        One matrix product with a deeper reduction instead of two products and a sum: a single output tensor is
        written, and the wider input keeps the kernel efficient at 16-64 channels. With an identity shortcut the
        weight is conv2's alone and ``x`` is added afterwards.
        """
        conv2 = self.conv2.conv
        if self.shortcut is None:
            return conv2.weight, conv2.bias
        short = self.shortcut.conv
        bias = conv2.bias
        if short.bias is not None:
            bias = short.bias if bias is None else short.bias + bias
        return torch.cat([short.weight, conv2.weight], dim=1), bias

    def _tail(self, x: Tensor, hidden: Tensor, params: tuple[Tensor, Tensor | None] | None = None) -> Tensor:
        weight, bias = params or self._tail_params()
        # dilation=2 is a no-op for a 1x1 kernel; it makes PyTorch use oneDNN, which is faster on one thread than
        # the BLAS path it takes for plain 1x1 convs.
        if self.shortcut is None:
            return F.conv1d(hidden, weight, bias, dilation=2).add_(x)
        return F.conv1d(torch.cat([x, hidden], dim=1), weight, bias, dilation=2)

    def _forward_blocked(self, x: Tensor) -> Tensor:
        """The whole unit, :data:`kernels.RESIDUAL_BLOCK` time steps at a time (no lengths: every item has them all).

        Layer by layer, the outer units (16-64 channels at the full rate) stream several full-size intermediates
        through memory, and each is a fresh allocation, which glibc serves as new pages that fault on first touch.
        Block by block, the intermediates are small enough to stay in cache and to be reused by the allocator; only
        the output is full size. Each block reads the dilated conv's receptive field around it from ``x``, and the
        signal's own padding is applied to the first and last blocks, so the result equals the layer-wise one.
        """
        conv1 = self.conv1
        left, right, mode = conv1.pad_left, conv1.pad_right, conv1.pad_mode
        size, block = x.shape[-1], kernels.RESIDUAL_BLOCK
        # Two blocks or fewer: the intermediates are small anyway, and whole-tensor calls have less overhead.
        if size <= 2 * block or block <= max(left, right):
            return self._tail(x, self.act2.inplace(conv1(self.act1(x))))
        weight, bias, dilation = conv1.conv.weight, conv1.conv.bias, conv1.conv.dilation[0]
        params = self._tail_params()
        out = x.new_empty(x.shape)
        for start in range(0, size, block):
            stop = min(start + block, size)
            low, high = max(0, start - left), min(size, stop + right)
            act = self.act1(x[..., low:high])
            pad_left, pad_right = left - (start - low), right - (high - stop)
            if pad_left or pad_right:  # the signal's ends: pad as the plain conv pads the activated signal
                act = pad1d(act, pad_left, pad_right, mode)
            hidden = self.act2.inplace(F.conv1d(act, weight, bias, 1, 0, dilation))
            out[..., start:stop] = self._tail(x[..., start:stop], hidden, params)
        return out

    def stream(self, x: Tensor, state: StreamState) -> Tensor:
        y = self.conv2.stream(self.act2(self.conv1.stream(self.act1(x), state)), state)
        return (x if self.shortcut is None else self.shortcut.stream(x, state)) + y


class BottleneckLSTM(nn.Module):
    """Unidirectional LSTM with a skip connection; unidirectional so that it stays causal and streamable."""

    def __init__(self, dim: int, num_layers: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(dim, dim, num_layers, batch_first=True)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        y, _ = self.lstm(x.transpose(1, 2))
        return y.transpose(1, 2) + x

    def stream(self, x: Tensor, state: StreamState) -> Tensor:
        y, hidden = self.lstm(x.transpose(1, 2), state.get(self))
        state[self] = hidden
        return y.transpose(1, 2) + x
