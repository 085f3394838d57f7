"""Codec2 through ``pycodec2`` (its wheel bundles libcodec2): a low-rate speech vocoder at 8 kHz.

The scorer resamples the input to 8 kHz and the output back, so Codec2's output has an empty band above 4 kHz
(mel-cepstral distortion punishes that heavily; see docs/codecs.md). Its frames are 20 ms (3200/2400 bps) or 40 ms
(1600 and below). The bytes counted are the library's frames as it packs them: 700C's 28-bit frames take 4 bytes,
so 700 bps measures 800 bps. Codec2 is a sinusoidal vocoder that does not keep the waveform's phase, and its
delay is not stated by the library: :meth:`delay_samples` is None, so the scorer calibrates it.
"""

from __future__ import annotations

import numpy as np

from codecstudy.codec.external.base import ClassicCodec
from codecstudy.codec.interface import RoundTrip, Setting, as_mono_float, from_int16, to_int16

RATE = 8000
MODES = (700, 1200, 1600, 2400, 3200)
FLUSH_FRAMES = 2  # zeros after the clip so the decoded stream still holds its end


class Codec2(ClassicCodec):
    kind = "codec2"
    bitrate_counts = "Codec2 frames as packed by libcodec2 (whole bytes per frame, no container)"
    rate, bitrates = RATE, MODES
    library = ("pycodec2", "the 'classic' extra (pip install pycodec2)")

    def settings(self) -> list[Setting]:
        return [Setting(str(mode), float(mode)) for mode in MODES]

    def weights(self) -> str:
        return "none: libcodec2 bundled with pycodec2"

    def roundtrip(self, wave: np.ndarray, setting: str) -> RoundTrip:
        codec = self._lib().Codec2(int(self.setting(setting).nominal_bps or 0))
        step = codec.samples_per_frame()
        pcm = to_int16(as_mono_float(wave))
        total = (-(-pcm.size // step) + FLUSH_FRAMES) * step
        pcm = np.concatenate([pcm, np.zeros(total - pcm.size, dtype=np.int16)])
        out, n_bytes = [], 0
        for start in range(0, total, step):
            frame = codec.encode(np.ascontiguousarray(pcm[start : start + step]))
            n_bytes += len(frame)
            out.append(from_int16(codec.decode(frame)))
        return RoundTrip(np.concatenate(out), n_bytes)
