"""The discriminators' configs, one per kind (discriminated by ``type``), and their combination.

These are the schema of a codec config's ``discriminator:`` section; they hold no tensors, so validating a config
builds nothing.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

NormKind = Literal["weight_norm", "spectral_norm", "none"]
DISCRIMINATOR_TYPES = ("msd", "stft", "mstft", "mpd", "mrd")
"""The ``type`` of every sub-discriminator config, in the order of the table in the package docstring."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WaveformDiscriminatorConfig(_Strict):
    """Multi-scale waveform discriminator (``type: msd``). Defaults: ESPnet SoundStream's HiFi-GAN MSD.

    Each scale sees the input average-pooled ``i`` times (``AvgPool1d(pool_kernel, pool_stride, pool_padding)``).
    Layers: a ``kernel_sizes[0]`` conv to ``channels``; one grouped conv of ``kernel_sizes[1]`` per entry of
    ``downsample_scales`` (stride = the entry; the first keeps ``channels``, later ones double up to
    ``max_channels``; groups start at ``groups`` and grow x4 up to ``max_groups``); a ``kernel_sizes[2]`` conv
    doubling channels; and a ``kernel_sizes[3]`` conv to one logit channel.
    """

    type: Literal["msd"] = "msd"
    scales: int = Field(3, ge=1)
    pool_kernel: int = Field(4, ge=1)
    pool_stride: int = Field(2, ge=1)
    pool_padding: int = Field(2, ge=0)
    channels: int = Field(128, ge=1)
    max_channels: int = Field(1024, ge=1)
    kernel_sizes: tuple[int, int, int, int] = (15, 41, 5, 3)
    downsample_scales: list[int] = Field(default_factory=lambda: [2, 2, 4, 4, 1])
    groups: int = Field(4, ge=1)
    max_groups: int = Field(16, ge=1)
    negative_slope: float = 0.1
    norm: NormKind = "weight_norm"

    @model_validator(mode="after")
    def _check(self) -> WaveformDiscriminatorConfig:
        if any(k % 2 == 0 or k < 1 for k in self.kernel_sizes):
            raise ValueError(f"kernel_sizes must be odd and positive, got {list(self.kernel_sizes)}")
        if any(s < 1 for s in self.downsample_scales):
            raise ValueError(f"downsample_scales must be >= 1, got {self.downsample_scales}")
        if self.pool_padding * 2 > self.pool_kernel:
            raise ValueError("pool_padding must be at most half of pool_kernel (an AvgPool1d rule)")
        return self


class STFTDiscriminatorConfig(_Strict):
    """Complex-STFT discriminator (``type: stft``). Defaults: ESPnet SoundStream's ``ComplexSTFTDiscriminator``.

    The STFT is laid out ``[B, C, time, freq]`` and ``strides`` are ``(time, freq)`` pairs, one per unit; unit
    ``i`` has ``channels * channel_mults[i]`` outputs. ESPnet applies its strides ``(1, 2), (2, 2), ...`` to a
    ``(freq, time)`` layout, so these defaults (``(2, 1), (2, 2), ...``) reproduce ESPnet's network: time is
    halved six times, frequency three. The SoundStream paper's order is the transpose (frequency halved six times).

    ``complex_convs`` keeps the STFT complex (complex-valued weights, modReLU activations), as ESPnet/FunCodec do;
    otherwise real and imaginary parts are two real channels with LeakyReLU, as the SoundStream paper describes.
    Unlike ESPnet (whose logits are the 256-channel magnitude of the last unit), a last conv collapses the
    remaining frequency axis to one logit per time step, as in the paper, so the logits are ``[B, 1, frames']``.
    ``norm`` defaults to none because ESPnet's complex convs are not normalised.
    """

    type: Literal["stft"] = "stft"
    n_fft: int = Field(1024, ge=8)
    hop_length: int = Field(256, ge=1)
    win_length: int | None = Field(None, ge=1)
    channels: int = Field(32, ge=1)
    channel_mults: list[int] = Field(default_factory=lambda: [1, 2, 4, 4, 8, 8], min_length=1)
    strides: list[tuple[int, int]] = Field(default_factory=lambda: [(2, 1), (2, 2)] * 3, min_length=1)
    complex_convs: bool = True
    normalized: bool = False
    negative_slope: float = 0.2
    norm: NormKind = "none"

    @model_validator(mode="after")
    def _check(self) -> STFTDiscriminatorConfig:
        if len(self.strides) != len(self.channel_mults):
            raise ValueError(
                f"strides ({len(self.strides)}) and channel_mults ({len(self.channel_mults)}) need one entry per unit"
            )
        if any(s < 1 for pair in self.strides for s in pair):
            raise ValueError(f"strides must be >= 1, got {self.strides}")
        if self.win_length is not None and self.win_length > self.n_fft:
            raise ValueError("win_length must not exceed n_fft")
        return self


class MultiScaleSTFTDiscriminatorConfig(_Strict):
    """Multi-scale STFT discriminator (``type: mstft``). Defaults: AudioCraft's EnCodec recipe (5 scales, 32 filters).

    Per scale: an un-normalised STFT with ``center=False`` and window-energy normalisation (``normalized``), real
    and imaginary parts as two channels laid out ``[B, 2, time, freq]``; a ``kernel_size`` conv to ``filters``;
    one conv per ``dilations`` entry with ``stride`` and that dilation along time; a square conv; a square conv to
    one logit channel. ``filters_scale > 1`` grows the width per layer up to ``max_filters``.
    ``hop_lengths``/``win_lengths`` default to ``n_fft // 4`` and ``n_fft``.
    """

    type: Literal["mstft"] = "mstft"
    n_ffts: list[int] = Field(default_factory=lambda: [1024, 2048, 512, 256, 128], min_length=1)
    hop_lengths: list[int] | None = None
    win_lengths: list[int] | None = None
    filters: int = Field(32, ge=1)
    max_filters: int = Field(1024, ge=1)
    filters_scale: int = Field(1, ge=1)
    kernel_size: tuple[int, int] = (3, 9)
    dilations: list[int] = Field(default_factory=lambda: [1, 2, 4])
    stride: tuple[int, int] = (1, 2)
    normalized: bool = True
    negative_slope: float = 0.2
    norm: NormKind = "weight_norm"

    @model_validator(mode="after")
    def _check(self) -> MultiScaleSTFTDiscriminatorConfig:
        for name in ("hop_lengths", "win_lengths"):
            values = getattr(self, name)
            if values is not None and len(values) != len(self.n_ffts):
                raise ValueError(f"{name} needs one entry per n_ffts entry ({len(self.n_ffts)})")
        if self.win_lengths is not None and any(w > n for w, n in zip(self.win_lengths, self.n_ffts)):
            raise ValueError("win_lengths must not exceed n_ffts")
        return self

    def resolutions(self) -> list[tuple[int, int, int]]:
        """``(n_fft, hop_length, win_length)`` per scale, with the defaults filled in."""
        hops = self.hop_lengths or [max(1, n // 4) for n in self.n_ffts]
        wins = self.win_lengths or list(self.n_ffts)
        return list(zip(self.n_ffts, hops, wins))


class MultiPeriodDiscriminatorConfig(_Strict):
    """Multi-period discriminator (``type: mpd``). Defaults: HiFi-GAN / DAC (periods 2, 3, 5, 7, 11).

    The waveform is right-padded (reflect) to a multiple of the period and folded to ``[B, 1, T/p, p]``; 2-D convs
    of ``(kernel_size, 1)`` with stride ``(stride, 1)`` (the last of ``channels`` with stride 1) and a
    ``(post_kernel_size, 1)`` conv to one logit channel.
    """

    type: Literal["mpd"] = "mpd"
    periods: list[int] = Field(default_factory=lambda: [2, 3, 5, 7, 11], min_length=1)
    channels: list[int] = Field(default_factory=lambda: [32, 128, 512, 1024, 1024], min_length=1)
    kernel_size: int = Field(5, ge=1)
    stride: int = Field(3, ge=1)
    post_kernel_size: int = Field(3, ge=1)
    negative_slope: float = 0.1
    norm: NormKind = "weight_norm"

    @model_validator(mode="after")
    def _check(self) -> MultiPeriodDiscriminatorConfig:
        if any(p < 1 for p in self.periods):
            raise ValueError(f"periods must be >= 1, got {self.periods}")
        if self.kernel_size % 2 == 0 or self.post_kernel_size % 2 == 0:
            raise ValueError("kernel_size and post_kernel_size must be odd (symmetric padding)")
        return self


class MultiBandDiscriminatorConfig(_Strict):
    """Multi-resolution band discriminator (``type: mrd``). Defaults: DAC (FFT 2048/1024/512, five bands).

    Per resolution: complex STFT (hop ``hop_factor * n_fft``) as ``[B, 2, time, freq]``; the frequency axis is
    cut into ``bands`` (fractions of the bins); each band runs its own stack (a ``(3, 9)`` conv, three
    ``(3, 9)`` convs with frequency stride 2, a ``(3, 3)`` conv, all ``channels`` wide); the band outputs are
    concatenated along frequency and a shared ``(3, 3)`` conv gives the logits.
    """

    type: Literal["mrd"] = "mrd"
    fft_sizes: list[int] = Field(default_factory=lambda: [2048, 1024, 512], min_length=1)
    hop_factor: float = Field(0.25, gt=0.0, le=1.0)
    bands: list[tuple[float, float]] = Field(
        default_factory=lambda: [(0.0, 0.1), (0.1, 0.25), (0.25, 0.5), (0.5, 0.75), (0.75, 1.0)], min_length=1
    )
    channels: int = Field(32, ge=1)
    negative_slope: float = 0.1
    norm: NormKind = "weight_norm"

    @model_validator(mode="after")
    def _check(self) -> MultiBandDiscriminatorConfig:
        for lo, hi in self.bands:
            if not 0.0 <= lo < hi <= 1.0:
                raise ValueError(f"each band needs 0 <= low < high <= 1, got {(lo, hi)}")
        for n_fft in self.fft_sizes:
            n_bins = n_fft // 2 + 1
            for lo, hi in self.bands:
                if int(hi * n_bins) - int(lo * n_bins) < 1:
                    raise ValueError(f"band {(lo, hi)} has no frequency bin at n_fft={n_fft}; use a larger FFT")
        return self


SubDiscriminatorConfig = Annotated[
    Union[
        WaveformDiscriminatorConfig,
        STFTDiscriminatorConfig,
        MultiScaleSTFTDiscriminatorConfig,
        MultiPeriodDiscriminatorConfig,
        MultiBandDiscriminatorConfig,
    ],
    Field(discriminator="type"),
]


class CombinedDiscriminatorConfig(_Strict):
    """Several discriminators whose outputs are concatenated (the codec trainer's single adversary).

    ``peak_normalize`` applies DAC's input preprocessing (remove the DC offset, scale the peak to 0.8) to real and
    fake audio alike before every sub-discriminator, so the adversary judges timbre rather than loudness.
    """

    discriminators: list[SubDiscriminatorConfig] = Field(min_length=1)
    peak_normalize: bool = False

