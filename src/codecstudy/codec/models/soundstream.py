"""SoundStream as trained by ESPnet-Codec (the study's reference model).

SEANet encoder/decoder with ELU, weight norm, a 2-layer LSTM at the bottleneck and EMA residual VQ with k-means
initialisation, dead-code replacement and bandwidth sampling. The original SoundStream paper is causal; ESPnet's
recipe (``train_soundstream4_large_v1.1``), which the paper preset reproduces, is not, so causality is a config
choice (``seanet.causal``).
"""

from __future__ import annotations

from codecstudy.codec.models.base import CodecModel


class SoundStream(CodecModel):
    """SEANet + EMA RVQ; everything architectural comes from the config (see ``configs/codecs/soundstream-*``)."""

    architecture = "soundstream"
