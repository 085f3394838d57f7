"""EnCodec's multi-scale STFT discriminator (AudioCraft ``msstftd``): 2-D convs dilated in time, several FFT sizes."""

from __future__ import annotations

from torch import Tensor, nn

from codecstudy.codec.discriminators.configs import MultiScaleSTFTDiscriminatorConfig
from codecstudy.codec.discriminators.layers import (
    DiscriminatorOutput,
    check_wave,
    normed_conv2d,
    same_padding,
    spectrogram_channels,
)


class _STFTScaleDiscriminator(nn.Module):
    """One scale of :class:`MultiScaleSTFTDiscriminator`."""

    def __init__(self, cfg: MultiScaleSTFTDiscriminatorConfig, n_fft: int, hop: int, win: int) -> None:
        super().__init__()
        self.n_fft, self.hop, self.win, self.normalized = n_fft, hop, win, cfg.normalized
        kt, kf = cfg.kernel_size
        self.act = nn.LeakyReLU(cfg.negative_slope)
        layers: list[nn.Module] = [
            normed_conv2d(cfg.norm, 2, cfg.filters, (kt, kf), padding=(same_padding(kt), same_padding(kf)))
        ]
        # AudioCraft sizes this input as filters_scale * filters, which only matches the first conv when
        # filters_scale is 1; the actual width is used here so that other scales work too.
        in_ch = cfg.filters
        for i, dilation in enumerate(cfg.dilations):
            out_ch = min(cfg.filters_scale ** (i + 1) * cfg.filters, cfg.max_filters)
            layers.append(
                normed_conv2d(
                    cfg.norm,
                    in_ch,
                    out_ch,
                    (kt, kf),
                    stride=cfg.stride,
                    dilation=(dilation, 1),
                    padding=(same_padding(kt, dilation), same_padding(kf)),
                )
            )
            in_ch = out_ch
        out_ch = min(cfg.filters_scale ** (len(cfg.dilations) + 1) * cfg.filters, cfg.max_filters)
        layers.append(normed_conv2d(cfg.norm, in_ch, out_ch, (kt, kt), padding=(same_padding(kt), same_padding(kt))))
        self.layers = nn.ModuleList(layers)
        self.post = normed_conv2d(cfg.norm, out_ch, 1, (kt, kt), padding=(same_padding(kt), same_padding(kt)))

    def forward(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        z = spectrogram_channels(x, self.n_fft, self.hop, self.win, center=False, normalized=self.normalized)
        fmaps: list[Tensor] = []
        for layer in self.layers:
            z = self.act(layer(z))
            fmaps.append(z)
        return self.post(z), fmaps


class MultiScaleSTFTDiscriminator(nn.Module):
    """EnCodec's MS-STFT discriminator: the same 2-D conv stack on complex STFTs of several sizes.

    Different FFT sizes trade time for frequency resolution, so together they catch both smeared transients and
    wrong harmonics; dilation along time widens the receptive field without more layers.
    """

    def __init__(self, cfg: MultiScaleSTFTDiscriminatorConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg or MultiScaleSTFTDiscriminatorConfig()
        self.discriminators = nn.ModuleList(
            _STFTScaleDiscriminator(self.cfg, n, h, w) for n, h, w in self.cfg.resolutions()
        )

    def sub_names(self) -> list[str]:
        return [f"mstft.{n}" for n in self.cfg.n_ffts]

    def forward(self, x: Tensor) -> DiscriminatorOutput:
        check_wave(x)
        return [disc(x) for disc in self.discriminators]
