"""Multi-scale waveform discriminator (MelGAN / HiFi-GAN MSD; ESPnet SoundStream's): grouped strided 1-D convs."""

from __future__ import annotations

import math

from torch import Tensor, nn

from codecstudy.codec.discriminators.configs import WaveformDiscriminatorConfig
from codecstudy.codec.discriminators.layers import DiscriminatorOutput, check_wave, normed_conv1d, same_padding


class _WaveformScaleDiscriminator(nn.Module):
    """One scale of :class:`MultiScaleWaveformDiscriminator`: grouped strided 1-D convs over the waveform."""

    def __init__(self, cfg: WaveformDiscriminatorConfig) -> None:
        super().__init__()
        k0, k1, k2, k3 = cfg.kernel_sizes
        self.act = nn.LeakyReLU(cfg.negative_slope)
        layers: list[nn.Module] = [normed_conv1d(cfg.norm, 1, cfg.channels, k0, padding=same_padding(k0))]
        in_ch = out_ch = cfg.channels
        groups = cfg.groups
        for scale in cfg.downsample_scales:
            # Groups must divide both widths; gcd keeps odd tiny configs valid instead of failing at build time.
            g = math.gcd(math.gcd(groups, in_ch), out_ch)
            layers.append(normed_conv1d(cfg.norm, in_ch, out_ch, k1, stride=scale, padding=same_padding(k1), groups=g))
            in_ch = out_ch
            out_ch = min(in_ch * 2, cfg.max_channels)
            groups = min(groups * 4, cfg.max_groups)
        out_ch = min(in_ch * 2, cfg.max_channels)
        layers.append(normed_conv1d(cfg.norm, in_ch, out_ch, k2, padding=same_padding(k2)))
        self.layers = nn.ModuleList(layers)
        self.post = normed_conv1d(cfg.norm, out_ch, 1, k3, padding=same_padding(k3))

    def forward(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        fmaps: list[Tensor] = []
        for layer in self.layers:
            x = self.act(layer(x))
            fmaps.append(x)
        return self.post(x), fmaps


class MultiScaleWaveformDiscriminator(nn.Module):
    """MelGAN/HiFi-GAN multi-scale discriminator: the same stack on the raw, 2x and 4x average-pooled waveform.

    Lower scales see a smoothed signal, so they judge coarse structure while the raw scale judges fine detail.
    """

    def __init__(self, cfg: WaveformDiscriminatorConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg or WaveformDiscriminatorConfig()
        self.discriminators = nn.ModuleList(_WaveformScaleDiscriminator(self.cfg) for _ in range(self.cfg.scales))
        self.pool = nn.AvgPool1d(self.cfg.pool_kernel, self.cfg.pool_stride, padding=self.cfg.pool_padding)

    def sub_names(self) -> list[str]:
        return [f"msd.{i}" for i in range(len(self.discriminators))]

    def forward(self, x: Tensor) -> DiscriminatorOutput:
        check_wave(x)
        outputs: DiscriminatorOutput = []
        for i, disc in enumerate(self.discriminators):
            if i > 0:
                x = self.pool(x)
            outputs.append(disc(x))
        return outputs
