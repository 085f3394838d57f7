"""The SEANet encoder and decoder: stacks of the layers in ``conv`` and ``units``, tracking lengths through strides."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from codecstudy.codec.config import SEANetConfig
from codecstudy.codec.seanet.conv import SConv1d, SConvTranspose1d, StreamState
from codecstudy.codec.seanet.kernels import fast_kernels_active
from codecstudy.codec.seanet.units import Activation, BottleneckLSTM, ResidualUnit


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
        fast = fast_kernels_active()
        owned = False  # x was produced inside this stack, so no one else reads it
        for layer, (kind, factor) in zip(self.layers, self.scales):
            if fast and owned and isinstance(layer, Activation):
                y = layer.inplace(x)  # saves a full-size allocation per activation
            else:
                y = layer(x, lengths)
            # No layer returns a view of its input, so a result other than x itself is ours.
            owned = owned or y is not x
            x = y
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
