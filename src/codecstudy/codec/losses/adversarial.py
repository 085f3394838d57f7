"""Adversarial (least squares, hinge) and feature-matching losses on a discriminator's ``(logits, features)``."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from codecstudy.codec.losses.configs import AdversarialKind, FeatureMatchingConfig

DiscriminatorOutput = Sequence[tuple[Tensor, Sequence[Tensor]]]
"""What the losses accept from a discriminator: one ``(logits, feature_maps)`` pair per sub-discriminator."""


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
    """Generator's adversarial loss on the discriminator outputs for generated audio (see the package docstring)."""
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
