"""Opus through libopus (the ``opuslib-next-bundled`` wheel ships its own ``libopus.so``: no system package).

Constant bitrate, VoIP application, 20 ms frames at 16 kHz, so that the measured bitrate is the nominal one (VBR
Opus at "6 kbps" spends 4.9-6.8 kbps depending on the signal). The bytes counted are the raw Opus packets (no Ogg
container, which would add ~1 kB of headers per file). The delay is libopus' own ``OPUS_GET_LOOKAHEAD``; the input
is followed by that many zeros (rounded up to a whole frame) so the decoded stream holds the whole clip.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

import numpy as np

from codecstudy.codec.external.base import ClassicCodec
from codecstudy.codec.interface import Latency, RoundTrip, as_mono_float, from_int16, to_int16

RATE = 16000
FRAME = 320  # 20 ms
BITRATES = (6000, 8000, 10000, 12000, 16000, 24000)


class Opus(ClassicCodec):
    kind = "opus"
    bitrate_counts = "raw Opus packets (no Ogg container)"
    rate, frame, bitrates = RATE, FRAME, BITRATES
    library = ("opuslib_next", "the 'classic' extra (pip install opuslib-next-bundled)")

    def weights(self) -> str:
        self._lib()
        try:
            return f"none: libopus bundled with opuslib-next-bundled {version('opuslib-next-bundled')}"
        except PackageNotFoundError:
            return "none: libopus through opuslib_next"

    def _encoder(self, setting: str):  # noqa: ANN202 - an opuslib_next.Encoder
        lib = self._lib()
        enc = lib.Encoder(RATE, 1, "voip")
        enc.bitrate = int(self.setting(setting).nominal_bps or 0)
        enc.vbr = 0
        return enc

    def delay_samples(self, setting: str) -> int:
        return int(self._encoder(setting).lookahead)

    def declared_latency(self, setting: str) -> Latency:
        return Latency(FRAME, self.delay_samples(setting), "libopus: the adapter's 20 ms frames and "
                       "OPUS_GET_LOOKAHEAD (2.5 ms + 4 ms delay compensation in VoIP mode)")

    def roundtrip(self, wave: np.ndarray, setting: str) -> RoundTrip:
        lib = self._lib()
        wave = as_mono_float(wave)
        enc = self._encoder(setting)
        dec = lib.Decoder(RATE, 1)
        pcm = to_int16(wave)
        total = -(-(pcm.size + int(enc.lookahead)) // FRAME) * FRAME
        pcm = np.concatenate([pcm, np.zeros(total - pcm.size, dtype=np.int16)])
        out, n_bytes = [], 0
        for start in range(0, total, FRAME):
            packet = enc.encode(pcm[start : start + FRAME].tobytes(), FRAME)
            n_bytes += len(packet)
            out.append(from_int16(dec.decode(packet, FRAME)))
        return RoundTrip(np.concatenate(out), n_bytes)
