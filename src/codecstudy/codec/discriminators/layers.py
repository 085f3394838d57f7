"""What every discriminator here shares: the output shape, normalised convs, the input check, STFT channels."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrizations

from codecstudy.codec.discriminators.configs import NormKind
from codecstudy.codec.spectral import stft

DiscriminatorOutput = list[tuple[Tensor, list[Tensor]]]
"""One ``(logits, feature_maps)`` pair per sub-discriminator."""


def _normed(module: nn.Module, norm: NormKind) -> nn.Module:
    """Wrap a conv in weight or spectral normalisation (parametrizations, so ``state_dict`` is stable)."""
    if norm == "weight_norm":
        return parametrizations.weight_norm(module)
    if norm == "spectral_norm":
        return parametrizations.spectral_norm(module)
    return module


def normed_conv1d(norm: NormKind, *args: Any, **kwargs: Any) -> nn.Module:
    return _normed(nn.Conv1d(*args, **kwargs), norm)


def normed_conv2d(norm: NormKind, *args: Any, **kwargs: Any) -> nn.Module:
    return _normed(nn.Conv2d(*args, **kwargs), norm)


def check_wave(x: Tensor) -> None:
    if x.dim() != 3 or x.shape[1] != 1:
        raise ValueError(f"discriminators take a mono waveform [B, 1, T], got shape {tuple(x.shape)}")


def spectrogram_channels(x: Tensor, n_fft: int, hop: int, win: int, *, center: bool, normalized: bool) -> Tensor:
    """``[B, 1, T]`` -> ``[B, 2, frames, freq]``: real and imaginary STFT parts as channels, time before frequency."""
    spec = stft(x[:, 0], n_fft, hop, win, center=center, normalized=normalized)  # [B, F, N]
    return torch.stack((spec.real, spec.imag), dim=1).transpose(2, 3).contiguous()


def same_padding(kernel: int, dilation: int = 1) -> int:
    return (kernel - 1) * dilation // 2
