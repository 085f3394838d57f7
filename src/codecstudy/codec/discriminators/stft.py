"""SoundStream's STFT discriminator on one complex spectrogram, with complex convs and modReLU (ESPnet/FunCodec)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from codecstudy.codec.discriminators.configs import NormKind, STFTDiscriminatorConfig
from codecstudy.codec.discriminators.layers import (
    DiscriminatorOutput,
    check_wave,
    normed_conv2d,
    spectrogram_channels,
)


class _ComplexConv2d(nn.Module):
    """Complex-valued 2-D conv on ``[B, 2C, H, W]`` tensors holding real parts then imaginary parts.

    ``(Wr + iWi)(xr + ixi) = (Wr xr - Wi xi) + i(Wr xi + Wi xr)``, computed as one real conv with the block weight
    ``[[Wr, -Wi], [Wi, Wr]]`` so the cost is one convolution of doubled width. Storing the pair as real channels
    keeps weight norm, autograd and feature matching on ordinary real tensors.
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        norm: NormKind = "weight_norm",
    ) -> None:
        super().__init__()
        self.real = normed_conv2d(norm, in_ch, out_ch, kernel, bias=False)
        self.imag = normed_conv2d(norm, in_ch, out_ch, kernel, bias=False)
        self.bias = nn.Parameter(torch.zeros(2 * out_ch))
        self.stride = stride
        self.padding = padding

    def forward(self, x: Tensor) -> Tensor:
        wr, wi = self.real.weight, self.imag.weight
        weight = torch.cat((torch.cat((wr, -wi), dim=1), torch.cat((wi, wr), dim=1)), dim=0)
        return F.conv2d(x, weight, self.bias, stride=self.stride, padding=self.padding)


class _ModReLU(nn.Module):
    """modReLU: ``relu(|z| + b) * z / |z|``, a phase-preserving activation for complex features."""

    def __init__(self) -> None:
        super().__init__()
        self.b = nn.Parameter(torch.zeros(()))

    def forward(self, x: Tensor) -> Tensor:
        re, im = x.chunk(2, dim=1)
        mag = torch.sqrt(re.square() + im.square() + 1e-8)
        scale = F.relu(mag + self.b) / mag
        return torch.cat((re * scale, im * scale), dim=1)


def _complex_abs(x: Tensor) -> Tensor:
    re, im = x.chunk(2, dim=1)
    return torch.sqrt(re.square() + im.square() + 1e-8)


def _conv_out(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


class STFTDiscriminator(nn.Module):
    """SoundStream's STFT discriminator on one complex spectrogram (see :class:`STFTDiscriminatorConfig`)."""

    def __init__(self, cfg: STFTDiscriminatorConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg = cfg or STFTDiscriminatorConfig()
        self.win_length = cfg.win_length or cfg.n_fft
        complex_ = cfg.complex_convs

        def conv(in_ch: int, out_ch: int, kernel: Any, stride: Any = 1, padding: Any = 0) -> nn.Module:
            if complex_:
                return _ComplexConv2d(in_ch, out_ch, kernel, stride, padding, cfg.norm)
            # Real variant: real/imag are two channels at the input; the widths count real channels.
            return normed_conv2d(cfg.norm, in_ch, out_ch, kernel, stride=stride, padding=padding)

        in_ch = 1 if complex_ else 2
        self.init_conv = conv(in_ch, cfg.channels, 7, padding=3)
        self.units = nn.ModuleList()
        self.acts = nn.ModuleList()
        n_freq = cfg.n_fft // 2 + 1
        ch = cfg.channels
        for mult, (st, sf) in zip(cfg.channel_mults, cfg.strides):
            out_ch = cfg.channels * mult
            kernel = (st + 2, sf + 2)
            padding = (kernel[0] // 2, kernel[1] // 2)
            self.units.append(
                nn.ModuleList([conv(ch, ch, 3, padding=1), conv(ch, out_ch, kernel, stride=(st, sf), padding=padding)])
            )
            self.acts.append(nn.ModuleList([self._activation(), self._activation()]))
            n_freq = _conv_out(n_freq, kernel[1], sf, padding[1])
            ch = out_ch
        self.init_act = self._activation()
        # Collapse what is left of the frequency axis into one logit per frame (SoundStream paper's last layer).
        self.post = conv(ch, 1, (1, n_freq))

    def _activation(self) -> nn.Module:
        return _ModReLU() if self.cfg.complex_convs else nn.LeakyReLU(self.cfg.negative_slope)

    def sub_names(self) -> list[str]:
        return [f"stft.{self.cfg.n_fft}"]

    def forward(self, x: Tensor) -> DiscriminatorOutput:
        check_wave(x)
        cfg = self.cfg
        z = spectrogram_channels(x, cfg.n_fft, cfg.hop_length, self.win_length, center=True, normalized=cfg.normalized)
        fmaps: list[Tensor] = []
        z = self.init_act(self.init_conv(z))
        fmaps.append(z)
        for (conv_a, conv_b), (act_a, act_b) in zip(self.units, self.acts):
            z = act_a(conv_a(z))
            z = act_b(conv_b(z))
            fmaps.append(z)
        logits = self.post(z)
        logits = _complex_abs(logits) if cfg.complex_convs else logits
        return [(logits.squeeze(-1), fmaps)]
