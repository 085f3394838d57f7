"""Reconstruction losses: waveform L1, multi-scale mel (ESPnet / DAC) and multi-resolution STFT (ParallelWaveGAN)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from codecstudy.codec.losses.configs import MelLossConfig, STFTLossConfig
from codecstudy.codec.spectral import mel_spectrogram, safe_log, stft_magnitude


def _same_shape(fake: Tensor, real: Tensor) -> None:
    if fake.shape != real.shape:
        raise ValueError(
            f"fake {tuple(fake.shape)} and real {tuple(real.shape)} differ in shape; crop the decoder output to the "
            "input length before computing losses"
        )


def _fake_and_real(transform: Callable[[Tensor], Tensor], fake: Tensor, real: Tensor) -> tuple[Tensor, Tensor]:
    """``transform`` of the estimate (with autograd) and of the reference.

    A reference that needs no gradient (the training target) is transformed under ``no_grad``: batching it with
    the estimate would make the backward pass run every spectral operation on the reference half as well, which
    was about half of the mel loss's cost in a training step (docs/benchmarks.md, training step profile). The
    values are the same either way, as the FFTs work row by row.
    """
    if real.requires_grad:
        return transform(torch.cat((fake, real), dim=0)).chunk(2, dim=0)
    with torch.no_grad():
        target = transform(real)
    return transform(fake), target


def waveform_l1(fake: Tensor, real: Tensor) -> Tensor:
    """Mean absolute sample difference (ESPnet ``lambda_reconstruct``, EnCodec's time-domain ``l_t``)."""
    _same_shape(fake, real)
    return F.l1_loss(fake, real)


class MultiScaleMelLoss(nn.Module):
    """Distance between log-mel spectrograms at several FFT sizes (see :class:`MelLossConfig`).

    Several window sizes because one STFT resolution cannot see both pre-echo on transients (short windows)
    and wrong harmonics (long windows); this term carries most of the reconstruction signal in every reference.
    """

    def __init__(self, config: MelLossConfig | None = None, sample_rate: int = 16000) -> None:
        super().__init__()
        self.config = cfg = config or MelLossConfig()
        self.sample_rate = int(sample_rate)
        n = len(cfg.fft_sizes)
        n_mels = cfg.n_mels if isinstance(cfg.n_mels, list) else [cfg.n_mels] * n
        wins = cfg.win_lengths or list(cfg.fft_sizes)
        self.scales: list[tuple[int, int, int, int, float]] = []
        total = 0.0
        for n_fft, win, mels in zip(cfg.fft_sizes, wins, n_mels):
            hop = max(1, int(n_fft * cfg.hop_factor))
            if cfg.l2_alpha == "espnet":
                alpha = math.sqrt(n_fft - 1)
            elif cfg.l2_alpha == "soundstream":
                alpha = math.sqrt(n_fft / 2)
            else:
                alpha = 1.0
            self.scales.append((n_fft, hop, win, mels, alpha))
            total += cfg.log_l1_weight + cfg.log_l2_weight * alpha + cfg.linear_l1_weight
        if cfg.reduction == "sum":
            self.norm = 1.0
        elif cfg.reduction == "mean":
            self.norm = 1.0 / n
        else:
            self.norm = 1.0 / total

    def _mel(self, wave: Tensor, n_fft: int, hop: int, win: int, mels: int) -> Tensor:
        cfg = self.config
        return mel_spectrogram(wave, self.sample_rate, n_fft, hop, win, mels, cfg.fmin, cfg.fmax, power=cfg.power)

    def forward(self, fake: Tensor, real: Tensor) -> Tensor:
        """``fake`` and ``real`` of equal shape ``[B, 1, T]`` (or ``[B, T]``) -> scalar loss."""
        _same_shape(fake, real)
        cfg = self.config
        loss = fake.new_zeros(())
        for n_fft, hop, win, mels, alpha in self.scales:
            mel_fake, mel_real = _fake_and_real(lambda x: self._mel(x, n_fft, hop, win, mels), fake, real)
            if cfg.log_l1_weight or cfg.log_l2_weight:
                log_fake = safe_log(mel_fake, cfg.clamp_eps, cfg.log_base)
                log_real = safe_log(mel_real, cfg.clamp_eps, cfg.log_base)
                if cfg.log_l1_weight:
                    loss = loss + cfg.log_l1_weight * F.l1_loss(log_fake, log_real)
                if cfg.log_l2_weight:
                    loss = loss + cfg.log_l2_weight * alpha * F.mse_loss(log_fake, log_real)
            if cfg.linear_l1_weight:
                loss = loss + cfg.linear_l1_weight * F.l1_loss(mel_fake, mel_real)
        return loss * self.norm


class MultiResolutionSTFTLoss(nn.Module):
    """ParallelWaveGAN's multi-resolution STFT loss: spectral convergence + log-magnitude L1, averaged."""

    def __init__(self, config: STFTLossConfig | None = None) -> None:
        super().__init__()
        self.config = config or STFTLossConfig()

    def terms(self, fake: Tensor, real: Tensor) -> tuple[Tensor, Tensor]:
        """``(spectral_convergence, log_magnitude)``, each averaged over resolutions."""
        _same_shape(fake, real)
        cfg = self.config
        sc = fake.new_zeros(())
        mag = fake.new_zeros(())
        for n_fft, hop, win in zip(cfg.fft_sizes, cfg.hop_sizes, cfg.win_lengths):
            x, y = _fake_and_real(lambda w: stft_magnitude(w, n_fft, hop, win, power=1.0, eps=cfg.eps), fake, real)
            sc = sc + torch.linalg.vector_norm(y - x) / torch.linalg.vector_norm(y).clamp_min(cfg.eps)
            mag = mag + F.l1_loss(torch.log(x), torch.log(y))
        n = len(cfg.fft_sizes)
        return sc / n, mag / n

    def forward(self, fake: Tensor, real: Tensor) -> Tensor:
        sc, mag = self.terms(fake, real)
        return self.config.sc_weight * sc + self.config.log_mag_weight * mag
