"""G.722 (ITU-T wide-band ADPCM) through the ``G722`` package, already a core dependency (the corpus decodes
Asterisk's .g722 prompts with it).

The package accepts 48 and 56 kbps modes but always emits 8 bits per two samples (the lower modes only drop bits
at the decoder), so only 64 kbps is offered: that is what the bitstream costs. The delay of 22 samples is the
two quadrature-mirror filter banks (analysis + synthesis, 24 taps each); a test measures it on speech.
"""

from __future__ import annotations

import numpy as np

from codecstudy.codec.external.base import ClassicCodec
from codecstudy.codec.interface import Latency, RoundTrip, Streaming, as_mono_float, from_int16, to_int16

RATE = 16000
DELAY = 22


class G722(ClassicCodec):
    kind = "g722"
    rate, bitrates = RATE, (64000,)
    library = ("G722", "the G722 package (pip install G722)")

    def weights(self) -> str:
        return "none: the G722 package"

    def delay_samples(self, setting: str) -> int:
        self.setting(setting)
        return DELAY

    def declared_latency(self, setting: str) -> Latency:
        return Latency(2, self.delay_samples(setting), "ITU-T G.722: one 8-bit code per sample pair; the QMF "
                       "analysis and synthesis banks delay 22 samples (measured, docs/codecs.md)")

    def streaming(self) -> Streaming:
        return Streaming(True, True, "ADPCM codes sample pair by sample pair (the adapter passes whole clips)")

    def roundtrip(self, wave: np.ndarray, setting: str) -> RoundTrip:
        codec = self._lib().G722(RATE, int(self.setting(setting).nominal_bps or 0))
        pcm = to_int16(as_mono_float(wave))
        pcm = np.concatenate([pcm, np.zeros(DELAY + (pcm.size + DELAY) % 2, dtype=np.int16)])
        data = codec.encode(pcm)
        return RoundTrip(from_int16(np.asarray(codec.decode(data))), len(data))
