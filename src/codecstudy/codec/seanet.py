"""SEANet encoder and decoder (SoundStream, EnCodec, and with Snake + wide decoder, DAC).

Three properties shape this module:

* **Batches with lengths give the same result as clips alone.** Every conv pads itself, and when a batch carries
  per-item lengths the right-hand padding of each item is rebuilt at that item's own end (zeros, or a reflection of
  its own samples) instead of reading the next item's padding. Transposed convs see zeros past an item's end, as a
  clip alone would see no frames there. LSTMs are unidirectional, so padding after an item cannot reach it.
* **Causal decoders stream exactly.** Each layer has a ``stream(x, state)`` method that keeps what the next chunk
  needs (conv input history, transposed-conv overlap, LSTM hidden state) in a caller-owned dict, so chunked decoding
  equals offline decoding to float rounding.
* **Inference is cheap.** Weight norm is a parametrization that :func:`fold_weight_norm` removes, after which every
  layer is a plain conv; padding uses ``F.pad`` unless lengths differ across the batch.

Strided layers assume their input length is a multiple of the stride; the models pad waveforms to a multiple of
the hop length before encoding, which guarantees it and makes ``frames = ceil(samples / hop)``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import weight_norm

from codecstudy.codec.config import SEANetConfig

StreamState = dict[Any, Any]
"""Per-layer streaming state, keyed by module; owned by the caller so one model can serve several streams."""


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


def _maybe_weight_norm(module: nn.Module, norm: str) -> nn.Module:
    return weight_norm(module) if norm == "weight_norm" else module


class SConv1d(nn.Module):
    """Conv1d that pads itself: all on the left when causal, centred otherwise (extra sample on the left)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        dilation: int = 1,
        *,
        causal: bool = False,
        pad_mode: str = "reflect",
        norm: str = "weight_norm",
    ) -> None:
        super().__init__()
        effective = (kernel_size - 1) * dilation + 1
        total = effective - stride
        if total < 0:
            raise ValueError(f"kernel {kernel_size} (dilation {dilation}) shorter than stride {stride}")
        self.conv = _maybe_weight_norm(
            nn.Conv1d(in_channels, out_channels, kernel_size, stride=stride, dilation=dilation), norm
        )
        self.stride = stride
        self.causal = causal
        self.pad_mode = pad_mode
        self.pad_left, self.pad_right = (total, 0) if causal else (total - total // 2, total // 2)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        return self.conv(pad1d(x, self.pad_left, self.pad_right, self.pad_mode, lengths))

    def stream(self, x: Tensor, state: StreamState) -> Tensor:
        if not self.causal or self.stride != 1:
            raise RuntimeError("streaming needs causal, stride-1 convolutions")
        history = state.get(self)
        if history is None:
            if self.pad_mode == "reflect" and x.shape[-1] <= self.pad_left:
                raise ValueError(
                    f"reflect padding needs a first chunk longer than {self.pad_left} steps at this layer; "
                    "send a longer first chunk or use pad_mode: constant"
                )
            padded = pad1d(x, self.pad_left, 0, self.pad_mode)
        else:
            padded = torch.cat([history, x], dim=-1)
        if self.pad_left:
            state[self] = padded[..., padded.shape[-1] - self.pad_left :]
        return self.conv(padded)


class SConvTranspose1d(nn.Module):
    """Transposed conv trimmed to exactly ``stride`` outputs per input step (causal: trim on the right only)."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, stride: int, *, causal: bool, norm: str
    ) -> None:
        super().__init__()
        if kernel_size < stride:
            raise ValueError(f"kernel {kernel_size} shorter than stride {stride}")
        self.convtr = _maybe_weight_norm(nn.ConvTranspose1d(in_channels, out_channels, kernel_size, stride), norm)
        self.stride = stride
        self.causal = causal
        total = kernel_size - stride
        self.trim_left, self.trim_right = (0, total) if causal else (total - total // 2, total // 2)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        if lengths is not None and not self.causal:
            # Frames past an item's end would leak into its last outputs; alone, that item has no such frames.
            x = x * time_mask(lengths, x.shape[-1]).to(x.dtype)
        y = self.convtr(x)
        return y[..., self.trim_left : y.shape[-1] - self.trim_right]

    def stream(self, x: Tensor, state: StreamState) -> Tensor:
        if not self.causal:
            raise RuntimeError("streaming needs a causal decoder")
        conv = self.convtr
        # Bias is added once per output below; the overlap carried to the next chunk must not include it.
        y = F.conv_transpose1d(x, conv.weight, None, self.stride)
        tail = state.get(self)
        if tail is not None:
            y = torch.cat([y[..., : tail.shape[-1]] + tail, y[..., tail.shape[-1] :]], dim=-1)
        n_out = x.shape[-1] * self.stride
        state[self] = y[..., n_out:]
        out = y[..., :n_out]
        if conv.bias is not None:
            out = out + conv.bias[None, :, None]
        return out


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
        y = self.conv2(self.act2(self.conv1(self.act1(x), lengths)))
        return (x if self.shortcut is None else self.shortcut(x)) + y

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


class _Stack(nn.Module):
    """Layers applied in order; ``scales[i]`` is how layer i changes the time resolution (for lengths)."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.ModuleList()
        self.scales: list[tuple[str, int]] = []

    def add(self, layer: nn.Module, scale: tuple[str, int] = ("same", 1)) -> None:
        self.layers.append(layer)
        self.scales.append(scale)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        for layer, (kind, factor) in zip(self.layers, self.scales):
            x = layer(x, lengths)
            if lengths is not None and kind == "down":
                lengths = torch.div(lengths, factor, rounding_mode="floor")
            elif lengths is not None and kind == "up":
                lengths = lengths * factor
        return x

    def stream(self, x: Tensor, state: StreamState) -> Tensor:
        for layer in self.layers:
            x = layer.stream(x, state)
        return x


class SEANetEncoder(_Stack):
    """Waveform ``[B, 1, T]`` -> latent ``[B, dimension, T / hop]``."""

    def __init__(self, cfg: SEANetConfig) -> None:
        super().__init__()
        conv = {"causal": cfg.causal, "pad_mode": cfg.pad_mode, "norm": cfg.norm}
        width = cfg.channels
        self.add(SConv1d(1, width, cfg.kernel_size, **conv))
        for ratio in reversed(cfg.ratios):
            for j in range(cfg.n_residual_layers):
                self.add(ResidualUnit(width, cfg.dilation_base**j, cfg))
            self.add(Activation(cfg.activation, width))
            self.add(SConv1d(width, 2 * width, 2 * ratio, stride=ratio, **conv), ("down", ratio))
            width *= 2
        if cfg.lstm_layers:
            self.add(BottleneckLSTM(width, cfg.lstm_layers))
        self.add(Activation(cfg.activation, width))
        self.add(SConv1d(width, cfg.dimension, cfg.last_kernel_size, **conv))


class SEANetDecoder(_Stack):
    """Latent ``[B, dimension, F]`` -> waveform ``[B, 1, F * hop]``."""

    def __init__(self, cfg: SEANetConfig) -> None:
        super().__init__()
        conv = {"causal": cfg.causal, "pad_mode": cfg.pad_mode, "norm": cfg.norm}
        base = cfg.decoder_channels or cfg.channels
        width = base * 2 ** len(cfg.ratios)
        self.add(SConv1d(cfg.dimension, width, cfg.kernel_size, **conv))
        if cfg.lstm_layers:
            self.add(BottleneckLSTM(width, cfg.lstm_layers))
        for ratio in cfg.ratios:
            self.add(Activation(cfg.activation, width))
            self.add(
                SConvTranspose1d(width, width // 2, 2 * ratio, ratio, causal=cfg.causal, norm=cfg.norm), ("up", ratio)
            )
            width //= 2
            for j in range(cfg.n_residual_layers):
                self.add(ResidualUnit(width, cfg.dilation_base**j, cfg))
        self.add(Activation(cfg.activation, width))
        self.add(SConv1d(width, 1, cfg.last_kernel_size, **conv))
        self.add(Activation(cfg.final_activation, 1))


def fold_weight_norm(module: nn.Module) -> int:
    """Replace every weight-norm parametrization by the plain weight it computes; returns how many were folded.

    Weight norm recomputes ``g * v / |v|`` on every call, which costs time at inference and breaks tracing tools;
    the folded module computes the same function.
    """
    folded = 0
    for sub in module.modules():
        if parametrize.is_parametrized(sub, "weight"):
            parametrize.remove_parametrizations(sub, "weight", leave_parametrized=True)
            folded += 1
    return folded


def has_weight_norm(module: nn.Module) -> bool:
    return any(parametrize.is_parametrized(sub, "weight") for sub in module.modules())
