"""LC3 (Bluetooth LE Audio) through ``lc3py`` (its wheel bundles liblc3), 10 ms frames at 16 kHz.

Each setting is a fixed frame size, so the measured bitrate equals the nominal one. The delay is liblc3's own
``lc3_delay_samples`` (40 samples at 16 kHz for 10 ms frames); the input is followed by that many zeros, rounded up
to a whole frame, so the decoded stream holds the whole clip.
"""

from __future__ import annotations

import numpy as np

from codecstudy.codec.external.base import ClassicCodec
from codecstudy.codec.interface import Latency, RoundTrip, as_mono_float

RATE = 16000
FRAME_US = 10000
FRAME = RATE * FRAME_US // 1_000_000
BITRATES = (16000, 24000, 32000, 48000)


class LC3(ClassicCodec):
    kind = "lc3"
    rate, frame, bitrates = RATE, FRAME, BITRATES
    library = ("lc3", "the 'classic' extra (pip install lc3py)")

    def weights(self) -> str:
        return "none: liblc3 bundled with lc3py"

    def delay_samples(self, setting: str) -> int:
        return int(self._lib().Encoder(FRAME_US, RATE).get_delay_samples())

    def declared_latency(self, setting: str) -> Latency:
        return Latency(FRAME, self.delay_samples(setting), "liblc3: 10 ms frames and lc3_delay_samples")

    def roundtrip(self, wave: np.ndarray, setting: str) -> RoundTrip:
        lib = self._lib()
        enc, dec = lib.Encoder(FRAME_US, RATE), lib.Decoder(FRAME_US, RATE)
        size = enc.get_frame_bytes(int(self.setting(setting).nominal_bps or 0))
        wave = np.clip(as_mono_float(wave), -1.0, 1.0)
        total = -(-(wave.size + enc.get_delay_samples()) // FRAME) * FRAME
        wave = np.concatenate([wave, np.zeros(total - wave.size, dtype=np.float32)])
        out, n_bytes = [], 0
        for start in range(0, total, FRAME):
            frame = enc.encode(wave[start : start + FRAME].tolist(), size)
            n_bytes += len(frame)
            out.append(np.asarray(dec.decode(frame), dtype=np.float32))
        return RoundTrip(np.concatenate(out), n_bytes)
