"""The weighted generator and discriminator totals the trainer optimises, with every term reported as a float."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from codecstudy.codec.losses.adversarial import (
    DiscriminatorOutput,
    discriminator_adversarial_loss,
    feature_matching_loss,
    generator_adversarial_loss,
)
from codecstudy.codec.losses.configs import DiscriminatorLossConfig, GeneratorLossConfig
from codecstudy.codec.losses.reconstruction import MultiResolutionSTFTLoss, MultiScaleMelLoss, waveform_l1


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
