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

Modules: ``configs`` (the ``loss:`` schema and the reference settings), ``reconstruction``, ``adversarial`` (with
feature matching) and ``weighted`` (the totals); this package re-exports the public names.
"""

from __future__ import annotations

from codecstudy.codec.losses.adversarial import (
    DiscriminatorOutput,
    discriminator_adversarial_loss,
    feature_matching_loss,
    generator_adversarial_loss,
)
from codecstudy.codec.losses.configs import (
    AdversarialKind,
    DiscriminatorLossConfig,
    FeatureMatchingConfig,
    GeneratorLossConfig,
    LossWeights,
    MelLossConfig,
    STFTLossConfig,
    default_loss_config,
)
from codecstudy.codec.losses.reconstruction import MultiResolutionSTFTLoss, MultiScaleMelLoss, waveform_l1
from codecstudy.codec.losses.weighted import DiscriminatorLoss, GeneratorLoss

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
