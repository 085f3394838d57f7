"""G.722 (ITU-T wide-band ADPCM) through the ``G722`` package, already a core dependency (the corpus decodes
Asterisk's .g722 prompts with it).

The package accepts 48 and 56 kbps modes but always emits 8 bits per two samples (the lower modes only drop bits
at the decoder), so only 64 kbps is offered: that is what the bitstream costs. The delay of 22 samples is the
two quadrature-mirror filter banks (analysis + synthesis, 24 taps each); a test measures it on speech.
"""

from __future__ import annotations

import numpy as np

from codecstudy.codec.external.base import ExternalCodec
from codecstudy.codec.interface import RoundTrip, Setting, as_mono_float, from_int16, require, to_int16

RATE = 16000
DELAY = 22


class G722(ExternalCodec):
    kind = "g722"

    def load(self) -> None:
        require("G722", "the G722 package (pip install G722)", self.source)

    @property
    def sample_rate(self) -> int:
        return RATE

    def settings(self) -> list[Setting]:
        return [Setting("64kbps", 64000.0)]

    def weights(self) -> str:
        return "none: the G722 package"

    def delay_samples(self, setting: str) -> int:
        self.setting(setting)
        return DELAY

    def roundtrip(self, wave: np.ndarray, setting: str) -> RoundTrip:
        lib = require("G722", "the G722 package (pip install G722)", self.source)
        codec = lib.G722(RATE, int(self.setting(setting).nominal_bps or 0))
        pcm = to_int16(as_mono_float(wave))
        pcm = np.concatenate([pcm, np.zeros(DELAY + (pcm.size + DELAY) % 2, dtype=np.int16)])
        data = codec.encode(pcm)
        return RoundTrip(from_int16(np.asarray(codec.decode(data))), len(data))
