"""Codec training losses: reconstruction (waveform, multi-scale mel, multi-resolution STFT), adversarial, feature
matching, and the weighted generator / discriminator totals the trainer optimises.

The individual losses are pure functions or small modules so that each can be checked on hand-computed inputs;
:class:`GeneratorLoss` and :class:`DiscriminatorLoss` only weight and add them, and report every term as a float
so that ``total == sum(weights[name] * terms[name])`` holds for the logs.

Definitions, and where the references differ:

* **Adversarial** (``kind``): ``mse`` is least squares (LSGAN; ESPnet, DAC, HiFi-GAN): generator
  ``mean((1 - D(G(x)))^2)``, discriminator ``mean((1 - D(x))^2) + mean(D(G(x))^2)``. ``hinge`` is EnCodec's
  paper definition: generator ``mean(relu(1 - D(G(x))))``, discriminator ``mean(relu(1 - D(x))) +
  mean(relu(1 + D(G(x))))``. ``hinge_linear`` keeps that discriminator but uses the unbounded generator loss
  ``-mean(D(G(x)))`` (AudioCraft's ``hinge``, ESPnet's ``hinge``); AudioCraft calls EnCodec's paper variant
  ``hinge2``. Per sub-discriminator values are summed (ESPnet/DAC) or averaged (AudioCraft), see
  ``average_over_discriminators``.
* **Feature matching**: L1 between fake and (detached) real feature maps. ``normalize="mean_abs_real"``
  divides each layer's L1 by the mean absolute real activation, as in the EnCodec paper (AudioCraft's code
  computes that scale but does not apply it); ``"none"`` is HiFi-GAN/ESPnet/DAC's plain L1. ESPnet sums over
  layers and discriminators and includes the logits (``include_logits``), EnCodec averages over both.
* **Multi-scale mel**: per FFT size, ``w_l1 * L1(log mel) + w_l2 * alpha * MSE(log mel) + w_lin * L1(mel)``.
  ESPnet's SoundStream uses FFT sizes 64..1024, 80 bins, power spectrum, natural log clamped at 1e-10,
  ``alpha = sqrt(n_fft - 1)`` and divides the sum by ``sum(1 + alpha)``; DAC uses 7 sizes 32..2048 with
  5..320 bins, magnitude spectrum, log10 clamped at 1e-5, L1 only, summed.
* **Multi-resolution STFT** (ParallelWaveGAN): spectral convergence ``||Y - X||_F / ||Y||_F`` plus
  ``L1(log |X|, log |Y|)``, averaged over resolutions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import Tensor, nn

from codecstudy.codec.spectral import mel_spectrogram, safe_log, stft_magnitude

__all__ = [
    "AdversarialKind",
    "DiscriminatorOutput",
    "MelLossConfig",
    "STFTLossConfig",
    "FeatureMatchingConfig",
    "LossWeights",
    "GeneratorLossConfig",
    "DiscriminatorLossConfig",
    "waveform_l1",
    "MultiScaleMelLoss",
    "MultiResolutionSTFTLoss",
    "generator_adversarial_loss",
    "discriminator_adversarial_loss",
    "feature_matching_loss",
    "GeneratorLoss",
    "DiscriminatorLoss",
    "default_loss_config",
]

AdversarialKind = Literal["mse", "hinge", "hinge_linear"]
DiscriminatorOutput = Sequence[tuple[Tensor, Sequence[Tensor]]]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ----------------------------------------------------------------------------------------------------------------
# Configs
# ----------------------------------------------------------------------------------------------------------------


class MelLossConfig(_Strict):
    """Multi-scale mel loss. Defaults: ESPnet SoundStream (``MultiScaleMelSpectrogramLoss``, range 6..11).

    ``l2_alpha`` scales the MSE term per FFT size: ``espnet`` = ``sqrt(n_fft - 1)``, ``soundstream`` =
    ``sqrt(n_fft / 2)`` (the SoundStream paper's alpha_s), ``constant`` = 1. ``reduction``: ``sum`` over scales,
    ``mean`` over scales, or ``weights`` = divide by the sum of all term weights (ESPnet's ``/ total``).
    """

    fft_sizes: list[int] = Field(default_factory=lambda: [64, 128, 256, 512, 1024], min_length=1)
    win_lengths: list[int] | None = None
    hop_factor: float = Field(0.25, gt=0.0, le=1.0)
    n_mels: int | list[int] = 80
    fmin: float = Field(0.0, ge=0.0)
    fmax: float | None = None
    power: float = Field(2.0, gt=0.0, description="1 = magnitude (DAC), 2 = power spectrum (ESPnet)")
    log_base: float | None = Field(None, description="None = natural log (ESPnet), 10 (DAC)")
    clamp_eps: float = Field(1e-10, gt=0.0)
    log_l1_weight: float = Field(1.0, ge=0.0)
    log_l2_weight: float = Field(1.0, ge=0.0)
    l2_alpha: Literal["espnet", "soundstream", "constant"] = "espnet"
    linear_l1_weight: float = Field(0.0, ge=0.0)
    reduction: Literal["sum", "mean", "weights"] = "weights"

    @model_validator(mode="after")
    def _check(self) -> MelLossConfig:
        n = len(self.fft_sizes)
        if isinstance(self.n_mels, list) and len(self.n_mels) != n:
            raise ValueError(f"n_mels needs one entry per fft size ({n}) or a single int")
        if self.win_lengths is not None and len(self.win_lengths) != n:
            raise ValueError(f"win_lengths needs one entry per fft size ({n})")
        if self.log_l1_weight == self.log_l2_weight == self.linear_l1_weight == 0.0:
            raise ValueError("at least one of log_l1_weight, log_l2_weight, linear_l1_weight must be > 0")
        return self

    @classmethod
    def espnet(cls) -> MelLossConfig:
        """ESPnet SoundStream/EnCodec recipes (``train_soundstream4_large_v1.1``)."""
        return cls()

    @classmethod
    def dac(cls) -> MelLossConfig:
        """DAC ``conf/base.yml``: 7 scales, magnitude mel, log10, L1, summed."""
        return cls(
            fft_sizes=[32, 64, 128, 256, 512, 1024, 2048],
            n_mels=[5, 10, 20, 40, 80, 160, 320],
            power=1.0,
            log_base=10.0,
            clamp_eps=1e-5,
            log_l2_weight=0.0,
            reduction="sum",
        )


class STFTLossConfig(_Strict):
    """Multi-resolution STFT loss. Defaults: ParallelWaveGAN's three resolutions."""

    fft_sizes: list[int] = Field(default_factory=lambda: [1024, 2048, 512], min_length=1)
    hop_sizes: list[int] = Field(default_factory=lambda: [120, 240, 50], min_length=1)
    win_lengths: list[int] = Field(default_factory=lambda: [600, 1200, 240], min_length=1)
    sc_weight: float = Field(1.0, ge=0.0)
    log_mag_weight: float = Field(1.0, ge=0.0)
    eps: float = Field(1e-7, gt=0.0, description="floor of the squared magnitude")

    @model_validator(mode="after")
    def _check(self) -> STFTLossConfig:
        if not len(self.fft_sizes) == len(self.hop_sizes) == len(self.win_lengths):
            raise ValueError("fft_sizes, hop_sizes and win_lengths need the same length")
        if any(w > n for w, n in zip(self.win_lengths, self.fft_sizes)):
            raise ValueError("win_lengths must not exceed fft_sizes")
        return self


class FeatureMatchingConfig(_Strict):
    """Feature matching. Defaults: ESPnet SoundStream (plain L1, logits included, summed)."""

    normalize: Literal["none", "mean_abs_real"] = "none"
    include_logits: bool = True
    average_over_layers: bool = False
    average_over_discriminators: bool = False


class LossWeights(_Strict):
    """Weights of the generator terms; a term with weight 0 is not computed. Defaults: ESPnet SoundStream.

    ``quantization`` is ESPnet's ``lambda_quantization`` (L1 + L2 between the latent and the stop-gradient
    quantized latent), ``codebook`` DAC's codebook loss; both arrive precomputed from the quantizer, like
    ``commitment``. ``mel_unquantized`` weights the mel loss of the dual decoder's unquantized reconstruction
    (ESPnet ``use_dual_decoder``); None means the same as ``mel``.
    """

    waveform: float = Field(1.0, ge=0.0)
    mel: float = Field(45.0, ge=0.0)
    mel_unquantized: float | None = Field(None, ge=0.0)
    stft: float = Field(0.0, ge=0.0)
    adversarial: float = Field(1.0, ge=0.0)
    feature_matching: float = Field(2.0, ge=0.0)
    commitment: float = Field(1.0, ge=0.0)
    codebook: float = Field(1.0, ge=0.0)
    quantization: float = Field(1.0, ge=0.0)

    def as_dict(self) -> dict[str, float]:
        """Term name -> weight, with ``mel_unquantized`` resolved."""
        weights = self.model_dump()
        if weights["mel_unquantized"] is None:
            weights["mel_unquantized"] = self.mel
        return weights


class GeneratorLossConfig(_Strict):
    """Everything :class:`GeneratorLoss` needs besides the sample rate."""

    weights: LossWeights = Field(default_factory=LossWeights)
    adversarial: AdversarialKind = "mse"
    average_over_discriminators: bool = False
    feature_matching: FeatureMatchingConfig = Field(default_factory=FeatureMatchingConfig)
    mel: MelLossConfig = Field(default_factory=MelLossConfig)
    stft: STFTLossConfig = Field(default_factory=STFTLossConfig)


class DiscriminatorLossConfig(_Strict):
    """Everything :class:`DiscriminatorLoss` needs; ``mse`` and both hinge kinds as for the generator."""

    adversarial: AdversarialKind = "mse"
    average_over_discriminators: bool = False


def default_loss_config(architecture: str) -> tuple[GeneratorLossConfig, DiscriminatorLossConfig]:
    """Reference loss settings: ESPnet's recipe for ``soundstream`` and ``encodec`` (ESPnet trains its EnCodec
    with the SoundStream losses and only swaps the discriminator), DAC's ``conf/base.yml`` for ``dac``.

    EnCodec's own recipe (hinge loss, normalised feature matching, AudioCraft's gradient balancer) is not the
    default: without the balancer its weights are not comparable. It can be configured with ``adversarial:
    hinge`` and ``feature_matching.normalize: mean_abs_real``.
    """
    if architecture in ("soundstream", "encodec"):
        return GeneratorLossConfig(), DiscriminatorLossConfig()
    if architecture == "dac":
        gen = GeneratorLossConfig(
            weights=LossWeights(
                waveform=0.0, mel=15.0, mel_unquantized=0.0, adversarial=1.0, feature_matching=2.0,
                commitment=0.25, codebook=1.0, quantization=0.0,
            ),
            feature_matching=FeatureMatchingConfig(include_logits=False),
            mel=MelLossConfig.dac(),
        )
        return gen, DiscriminatorLossConfig()
    raise ValueError(f"unknown architecture {architecture!r}; expected soundstream, encodec or dac")


# ----------------------------------------------------------------------------------------------------------------
# Reconstruction losses
# ----------------------------------------------------------------------------------------------------------------


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


# ----------------------------------------------------------------------------------------------------------------
# Adversarial and feature-matching losses
# ----------------------------------------------------------------------------------------------------------------


def _logits(outputs: DiscriminatorOutput | Sequence[Tensor]) -> list[Tensor]:
    """Accept a discriminator's ``[(logits, fmaps), ...]`` or a plain list of logits."""
    return [o[0] if isinstance(o, (tuple, list)) else o for o in outputs]


def _reduce(values: list[Tensor], average: bool) -> Tensor:
    if not values:
        raise ValueError("no discriminator outputs")
    total = torch.stack(values).sum()
    return total / len(values) if average else total


def generator_adversarial_loss(
    fake_outputs: DiscriminatorOutput | Sequence[Tensor], kind: AdversarialKind = "mse", average: bool = False
) -> Tensor:
    """Generator's adversarial loss on the discriminator outputs for generated audio (see module docstring)."""
    values = []
    for logits in _logits(fake_outputs):
        if kind == "mse":
            values.append((1.0 - logits).square().mean())
        elif kind == "hinge":
            values.append(F.relu(1.0 - logits).mean())
        elif kind == "hinge_linear":
            values.append(-logits.mean())
        else:
            raise ValueError(f"unknown adversarial loss {kind!r}; expected mse, hinge or hinge_linear")
    return _reduce(values, average)


def discriminator_adversarial_loss(
    fake_outputs: DiscriminatorOutput | Sequence[Tensor],
    real_outputs: DiscriminatorOutput | Sequence[Tensor],
    kind: AdversarialKind = "mse",
    average: bool = False,
) -> tuple[Tensor, Tensor]:
    """Discriminator's ``(real_loss, fake_loss)``; the training loss is their sum.

    ``fake_outputs`` must come from detached generator audio, or the generator receives gradient from it.
    """
    fake_logits, real_logits = _logits(fake_outputs), _logits(real_outputs)
    if len(fake_logits) != len(real_logits):
        raise ValueError(f"{len(fake_logits)} fake vs {len(real_logits)} real discriminator outputs")
    real_values, fake_values = [], []
    for fake, real in zip(fake_logits, real_logits):
        if kind == "mse":
            real_values.append((1.0 - real).square().mean())
            fake_values.append(fake.square().mean())
        elif kind in ("hinge", "hinge_linear"):
            real_values.append(F.relu(1.0 - real).mean())
            fake_values.append(F.relu(1.0 + fake).mean())
        else:
            raise ValueError(f"unknown adversarial loss {kind!r}; expected mse, hinge or hinge_linear")
    return _reduce(real_values, average), _reduce(fake_values, average)


def feature_matching_loss(
    fake_outputs: DiscriminatorOutput,
    real_outputs: DiscriminatorOutput,
    config: FeatureMatchingConfig | None = None,
    eps: float = 1e-8,
) -> Tensor:
    """L1 between the discriminator's feature maps on fake and real audio (real detached).

    Matching intermediate features gives the generator a dense, stable signal that the single logit does not;
    the EnCodec normalisation keeps layers with large activations from dominating the sum.
    """
    cfg = config or FeatureMatchingConfig()
    if len(fake_outputs) != len(real_outputs):
        raise ValueError(f"{len(fake_outputs)} fake vs {len(real_outputs)} real discriminator outputs")
    per_disc: list[Tensor] = []
    for (fake_logits, fake_maps), (real_logits, real_maps) in zip(fake_outputs, real_outputs):
        fakes, reals = list(fake_maps), list(real_maps)
        if cfg.include_logits:
            fakes.append(fake_logits)
            reals.append(real_logits)
        if len(fakes) != len(reals):
            raise ValueError("fake and real outputs have different numbers of feature maps")
        layers: list[Tensor] = []
        for fake, real in zip(fakes, reals):
            real = real.detach()
            term = F.l1_loss(fake, real)
            if cfg.normalize == "mean_abs_real":
                term = term / real.abs().mean().clamp_min(eps)
            layers.append(term)
        if layers:
            per_disc.append(_reduce(layers, cfg.average_over_layers))
    if not per_disc:
        raise ValueError("no feature maps to match")
    return _reduce(per_disc, cfg.average_over_discriminators)


# ----------------------------------------------------------------------------------------------------------------
# Weighted totals
# ----------------------------------------------------------------------------------------------------------------


def _floats(terms: Mapping[str, Tensor]) -> dict[str, float]:
    """All terms to floats with one device sync instead of one ``.item()`` per term."""
    if not terms:
        return {}
    values = torch.stack([t.detach().float().reshape(()) for t in terms.values()]).tolist()
    return dict(zip(terms.keys(), values))


class GeneratorLoss(nn.Module):
    """The generator's training loss: a weighted sum of reconstruction, adversarial and quantizer terms.

    Returns ``(total, terms)`` with ``terms`` the unweighted value of every computed term plus ``total``, so a
    log shows which term moves and ``total == sum(weights.as_dict()[k] * terms[k])`` (checked by the tests).
    A term is computed only when its weight is positive and its inputs were given: no discriminator outputs (a
    warm-up without GAN) simply drop the adversarial and feature-matching terms.
    """

    def __init__(self, config: GeneratorLossConfig | None = None, sample_rate: int = 16000) -> None:
        super().__init__()
        self.config = cfg = config or GeneratorLossConfig()
        self.weights = cfg.weights.as_dict()
        self.mel = MultiScaleMelLoss(cfg.mel, sample_rate)
        self.stft = MultiResolutionSTFTLoss(cfg.stft)

    def forward(
        self,
        fake: Tensor,
        real: Tensor,
        disc_fake: DiscriminatorOutput | None = None,
        disc_real: DiscriminatorOutput | None = None,
        *,
        commitment: Tensor | None = None,
        codebook: Tensor | None = None,
        quantization: Tensor | None = None,
        fake_unquantized: Tensor | None = None,
    ) -> tuple[Tensor, dict[str, float]]:
        """Weighted generator loss and its terms.

        ``fake``/``real``: ``[B, 1, T]``, estimate first as in every loss here. ``disc_fake``: ``D(fake)`` with
        gradient; ``disc_real``: ``D(real)``, which may be computed under ``no_grad``. Quantizer losses arrive
        unweighted, as the quantizer reports them. ``fake_unquantized``: the dual decoder's reconstruction of the
        unquantized latent (ESPnet), scored with the same mel loss.
        """
        w = self.weights
        cfg = self.config
        terms: dict[str, Tensor] = {}
        if w["waveform"] > 0:
            terms["waveform"] = waveform_l1(fake, real)
        if w["mel"] > 0:
            terms["mel"] = self.mel(fake, real)
        if w["mel_unquantized"] > 0 and fake_unquantized is not None:
            terms["mel_unquantized"] = self.mel(fake_unquantized, real)
        if w["stft"] > 0:
            terms["stft"] = self.stft(fake, real)
        if disc_fake is not None and w["adversarial"] > 0:
            terms["adversarial"] = generator_adversarial_loss(
                disc_fake, cfg.adversarial, cfg.average_over_discriminators
            )
        if disc_fake is not None and disc_real is not None and w["feature_matching"] > 0:
            terms["feature_matching"] = feature_matching_loss(disc_fake, disc_real, cfg.feature_matching)
        for name, value in (("commitment", commitment), ("codebook", codebook), ("quantization", quantization)):
            if value is not None and w[name] > 0:
                terms[name] = value.reshape(())
        if not terms:
            raise ValueError("no generator loss term is enabled and given")
        total = torch.stack([w[name] * value for name, value in terms.items()]).sum()
        logged = _floats({**terms, "total": total})
        return total, logged


class DiscriminatorLoss(nn.Module):
    """The discriminator's training loss: real + fake adversarial terms over all sub-discriminators.

    Returns ``(total, {"real": ..., "fake": ..., "total": ...})``.
    """

    def __init__(self, config: DiscriminatorLossConfig | None = None) -> None:
        super().__init__()
        self.config = config or DiscriminatorLossConfig()

    def forward(
        self, disc_fake: DiscriminatorOutput, disc_real: DiscriminatorOutput
    ) -> tuple[Tensor, dict[str, float]]:
        """``disc_fake`` must be computed on ``fake.detach()``."""
        real, fake = discriminator_adversarial_loss(
            disc_fake, disc_real, self.config.adversarial, self.config.average_over_discriminators
        )
        total = real + fake
        return total, _floats({"real": real, "fake": fake, "total": total})
