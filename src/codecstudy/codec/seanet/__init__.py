"""SEANet encoder and decoder (SoundStream, EnCodec, and with Snake + wide decoder, DAC).

Three properties shape this package:

* **Batches with lengths give the same result as clips alone.** Every conv pads itself, and when a batch carries
  per-item lengths the right-hand padding of each item is rebuilt at that item's own end (zeros, or a reflection of
  its own samples) instead of reading the next item's padding. Transposed convs see zeros past an item's end, as a
  clip alone would see no frames there. LSTMs are unidirectional, so padding after an item cannot reach it.
* **Causal decoders stream exactly.** Each layer has a ``stream(x, state)`` method that keeps what the next chunk
  needs (conv input history, transposed-conv overlap, LSTM hidden state) in a caller-owned dict, so chunked decoding
  equals offline decoding to float rounding.
* **Inference is cheap.** Weight norm is a parametrization that :func:`fold_weight_norm` removes, after which every
  layer is a plain conv; padding uses ``F.pad`` unless lengths differ across the batch. When no gradient is
  recorded (``encode``/``decode`` run under ``torch.inference_mode``), layers switch to equivalent kernels that
  move less memory on CPU (see :func:`fast_kernels_active`); training and export tracing use the plain layers.

Strided layers assume their input length is a multiple of the stride; the models pad waveforms to a multiple of
the hop length before encoding, which guarantees it and makes ``frames = ceil(samples / hop)``.

Modules: ``kernels`` (whether the inference kernels run), ``padding``, ``norm`` (weight norm and its folding),
``conv`` (self-padding convs), ``units`` (activations, residual units, LSTM) and ``encoder_decoder``; this package
re-exports the public names.
"""

from __future__ import annotations

from codecstudy.codec.seanet.conv import SConv1d, SConvTranspose1d, StreamState
from codecstudy.codec.seanet.encoder_decoder import SEANetDecoder, SEANetEncoder
from codecstudy.codec.seanet.kernels import fast_kernels_active
from codecstudy.codec.seanet.norm import fold_weight_norm, has_weight_norm, with_norm
from codecstudy.codec.seanet.padding import pad1d, reflect_index, time_mask
from codecstudy.codec.seanet.units import Activation, BottleneckLSTM, ResidualUnit, Snake1d

__all__ = [
    "StreamState",
    "fast_kernels_active",
    "time_mask",
    "reflect_index",
    "pad1d",
    "with_norm",
    "fold_weight_norm",
    "has_weight_norm",
    "SConv1d",
    "SConvTranspose1d",
    "Snake1d",
    "Activation",
    "ResidualUnit",
    "BottleneckLSTM",
    "SEANetEncoder",
    "SEANetDecoder",
]
