"""The codec trainer's single adversary: several discriminators on the same input, outputs concatenated."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from codecstudy.codec.discriminators.configs import CombinedDiscriminatorConfig
from codecstudy.codec.discriminators.layers import DiscriminatorOutput, check_wave
from codecstudy.codec.discriminators.mpd import MultiPeriodDiscriminator
from codecstudy.codec.discriminators.mrd import MultiBandDiscriminator
from codecstudy.codec.discriminators.msd import MultiScaleWaveformDiscriminator
from codecstudy.codec.discriminators.mstft import MultiScaleSTFTDiscriminator
from codecstudy.codec.discriminators.presets import parse_discriminator_config
from codecstudy.codec.discriminators.stft import STFTDiscriminator

BUILDERS: dict[str, type[nn.Module]] = {
    "msd": MultiScaleWaveformDiscriminator,
    "stft": STFTDiscriminator,
    "mstft": MultiScaleSTFTDiscriminator,
    "mpd": MultiPeriodDiscriminator,
    "mrd": MultiBandDiscriminator,
}


class CombinedDiscriminator(nn.Module):
    """Several discriminators run on the same input; their output lists are concatenated in config order."""

    def __init__(self, cfg: CombinedDiscriminatorConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.discriminators = nn.ModuleList(BUILDERS[sub.type](sub) for sub in cfg.discriminators)

    def sub_names(self) -> list[str]:
        """A stable name per output entry (``msd.0``, ``mpd.11``, ``mrd.2048`` ...), for per-discriminator logs."""
        names: list[str] = []
        for disc in self.discriminators:
            names.extend(disc.sub_names())  # type: ignore[operator]
        return names

    @staticmethod
    def peak_normalize(x: Tensor) -> Tensor:
        """DAC's preprocessing: remove the DC offset, then scale each item's peak to 0.8."""
        x = x - x.mean(dim=-1, keepdim=True)
        return 0.8 * x / (x.abs().amax(dim=-1, keepdim=True) + 1e-9)

    def forward(self, x: Tensor) -> DiscriminatorOutput:
        check_wave(x)
        if self.cfg.peak_normalize:
            x = self.peak_normalize(x)
        outputs: DiscriminatorOutput = []
        for disc in self.discriminators:
            outputs.extend(disc(x))
        return outputs


def build_discriminator(
    config: Any = None, *, architecture: str | None = None, size: str = "paper"
) -> CombinedDiscriminator:
    """Registry entry point: a :class:`CombinedDiscriminator` from any form :func:`parse_discriminator_config`
    accepts (``build_discriminator("encodec-tiny")``, ``build_discriminator([{"type": "mpd"}, {"type": "mrd"}])``)."""
    return CombinedDiscriminator(parse_discriminator_config(config, architecture=architecture, size=size))


def count_parameters(module: nn.Module) -> int:
    """Trainable parameters (weight-norm magnitude and direction both count)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
