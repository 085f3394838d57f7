"""The loss configs (the schema of a codec config's ``loss:`` section) and each architecture's reference setting.

Plain pydantic models, no tensors: validating a config builds nothing.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

AdversarialKind = Literal["mse", "hinge", "hinge_linear"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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
