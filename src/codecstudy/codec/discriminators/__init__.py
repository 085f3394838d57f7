"""GAN discriminators for codec training: waveform, STFT and band discriminators of SoundStream, EnCodec and DAC.

Every discriminator here maps a waveform ``[B, 1, T]`` to a list with one entry per sub-discriminator, each a
``(logits, feature_maps)`` pair. ``logits`` is the last layer (the adversarial losses read it) and
``feature_maps`` are the activations before it (the feature-matching loss reads them); keeping the logits out of
the feature list lets the losses decide whether to include them (ESPnet does, EnCodec and DAC do not). Because all
share that shape, :class:`CombinedDiscriminator` simply concatenates the lists of several.

Sizes come from small pydantic configs, one per kind, discriminated by ``type``:

=========  ===========================================================  =========================================
type       what                                                         reference
=========  ===========================================================  =========================================
``msd``    multi-scale waveform discriminator: raw, 2x, 4x average-      MelGAN / HiFi-GAN MSD; ESPnet SoundStream
           pooled input, grouped strided 1-D convs
``stft``   single complex-STFT discriminator (real/imag channels, or    SoundStream paper; ESPnet/FunCodec
           complex-valued convs with modReLU)
``mstft``  multi-scale STFT discriminator: several FFT sizes, 2-D convs  EnCodec / AudioCraft ``msstftd``
           dilated in time
``mpd``    multi-period discriminator: waveform folded by period 2..11   HiFi-GAN; DAC
``mrd``    multi-resolution band discriminator: complex STFT split into  DAC ``MRD``
           frequency bands, one 2-D conv stack per band
=========  ===========================================================  =========================================

:func:`default_discriminator_config` gives the per-architecture choice (soundstream = ``msd`` + ``stft``,
encodec = ``mstft``, dac = ``mpd`` + ``mrd`` (+ optional ``msd``)) in three sizes: ``paper`` (the reference
recipes), ``small`` and ``tiny`` (a few thousand parameters, for tests and the CPU demo).
:func:`build_discriminator` accepts a preset name, a config, a mapping or a list of mappings.

One module per discriminator (``msd``, ``stft``, ``mstft``, ``mpd``, ``mrd``), their configs in ``configs``, the
shared layers in ``layers``, the per-architecture sets in ``presets`` and the combination in ``combined``; this
package re-exports the public names.
"""

from __future__ import annotations

from codecstudy.codec.discriminators.combined import CombinedDiscriminator, build_discriminator, count_parameters
from codecstudy.codec.discriminators.configs import (
    CombinedDiscriminatorConfig,
    MultiBandDiscriminatorConfig,
    MultiPeriodDiscriminatorConfig,
    MultiScaleSTFTDiscriminatorConfig,
    NormKind,
    STFTDiscriminatorConfig,
    SubDiscriminatorConfig,
    WaveformDiscriminatorConfig,
)
from codecstudy.codec.discriminators.layers import DiscriminatorOutput
from codecstudy.codec.discriminators.mpd import MultiPeriodDiscriminator
from codecstudy.codec.discriminators.mrd import MultiBandDiscriminator
from codecstudy.codec.discriminators.msd import MultiScaleWaveformDiscriminator
from codecstudy.codec.discriminators.mstft import MultiScaleSTFTDiscriminator
from codecstudy.codec.discriminators.presets import (
    DISCRIMINATOR_SIZES,
    default_discriminator_config,
    parse_discriminator_config,
)
from codecstudy.codec.discriminators.stft import STFTDiscriminator

__all__ = [
    "DiscriminatorOutput",
    "NormKind",
    "WaveformDiscriminatorConfig",
    "STFTDiscriminatorConfig",
    "MultiScaleSTFTDiscriminatorConfig",
    "MultiPeriodDiscriminatorConfig",
    "MultiBandDiscriminatorConfig",
    "SubDiscriminatorConfig",
    "CombinedDiscriminatorConfig",
    "MultiScaleWaveformDiscriminator",
    "STFTDiscriminator",
    "MultiScaleSTFTDiscriminator",
    "MultiPeriodDiscriminator",
    "MultiBandDiscriminator",
    "CombinedDiscriminator",
    "DISCRIMINATOR_SIZES",
    "default_discriminator_config",
    "parse_discriminator_config",
    "build_discriminator",
    "count_parameters",
]
