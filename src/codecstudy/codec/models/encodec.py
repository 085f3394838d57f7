"""EnCodec-style codec: the SoundStream network in EnCodec's configuration.

EnCodec's 24 kHz model differs from ESPnet's SoundStream in settings rather than structure: causal convolutions
(so it can stream), one residual unit per resolution with kernel 3, a 128-d latent.
Its loss balancer and entropy-coding LM are training/bitstream features outside this class.
"""

from __future__ import annotations

from codecstudy.codec.models.base import CodecModel


class EnCodec(CodecModel):
    """SEANet + EMA RVQ with EnCodec's defaults (``configs/codecs/encodec-*``); causal presets stream exactly."""

    architecture = "encodec"
