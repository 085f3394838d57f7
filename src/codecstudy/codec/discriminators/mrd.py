"""DAC's multi-resolution band discriminator: per-band 2-D conv stacks over complex STFTs of several sizes."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from codecstudy.codec.discriminators.configs import MultiBandDiscriminatorConfig
from codecstudy.codec.discriminators.layers import DiscriminatorOutput, check_wave, normed_conv2d, spectrogram_channels


class _BandDiscriminator(nn.Module):
    """One resolution of :class:`MultiBandDiscriminator`: a conv stack per frequency band, a shared output conv."""

    def __init__(self, cfg: MultiBandDiscriminatorConfig, n_fft: int) -> None:
        super().__init__()
        self.n_fft = n_fft
        self.hop = max(1, int(n_fft * cfg.hop_factor))
        n_bins = n_fft // 2 + 1
        self.bands = [(int(lo * n_bins), int(hi * n_bins)) for lo, hi in cfg.bands]
        self.act = nn.LeakyReLU(cfg.negative_slope)
        ch = cfg.channels

        def stack() -> nn.ModuleList:
            return nn.ModuleList(
                [
                    normed_conv2d(cfg.norm, 2, ch, (3, 9), padding=(1, 4)),
                    normed_conv2d(cfg.norm, ch, ch, (3, 9), stride=(1, 2), padding=(1, 4)),
                    normed_conv2d(cfg.norm, ch, ch, (3, 9), stride=(1, 2), padding=(1, 4)),
                    normed_conv2d(cfg.norm, ch, ch, (3, 9), stride=(1, 2), padding=(1, 4)),
                    normed_conv2d(cfg.norm, ch, ch, (3, 3), padding=(1, 1)),
                ]
            )

        self.band_stacks = nn.ModuleList(stack() for _ in self.bands)
        self.post = normed_conv2d(cfg.norm, ch, 1, (3, 3), padding=(1, 1))

    def forward(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        spec = spectrogram_channels(x, self.n_fft, self.hop, self.n_fft, center=True, normalized=False)
        fmaps: list[Tensor] = []
        outs: list[Tensor] = []
        for (lo, hi), layers in zip(self.bands, self.band_stacks):
            z = spec[..., lo:hi]
            for layer in layers:
                z = self.act(layer(z))
                fmaps.append(z)
            outs.append(z)
        return self.post(torch.cat(outs, dim=-1)), fmaps


class MultiBandDiscriminator(nn.Module):
    """DAC's multi-resolution band discriminator: per-band conv stacks over complex STFTs of several sizes.

    Splitting the spectrum into bands gives each band its own weights, so the low band (where speech energy
    is) cannot drown out high-band artefacts; the complex input lets it judge phase too.
    """

    def __init__(self, cfg: MultiBandDiscriminatorConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg or MultiBandDiscriminatorConfig()
        self.discriminators = nn.ModuleList(_BandDiscriminator(self.cfg, n) for n in self.cfg.fft_sizes)

    def sub_names(self) -> list[str]:
        return [f"mrd.{n}" for n in self.cfg.fft_sizes]

    def forward(self, x: Tensor) -> DiscriminatorOutput:
        check_wave(x)
        return [disc(x) for disc in self.discriminators]
