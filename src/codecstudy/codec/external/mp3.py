"""MP3 at its lowest constant bitrates, through libsndfile's LAME encoder and mpg123 decoder (the soundfile wheel).

At 16 kHz LAME writes MPEG-2 layer III; libsndfile maps ``compression_level`` linearly onto LAME's 8-160 kbps range
in constant-bitrate mode, and each setting here is the level that lands on its rate. The bytes counted are the
whole MP3 file: frame headers and the LAME/Xing info frame included (about 3 % at 8 kbps for a 10 s clip). The
delay is LAME's encoder delay (576 samples) plus the decoder's (529): 1105 samples, which libsndfile does not
remove; a test measures it. The output is one MPEG frame longer than the input (padding, kept).
"""

from __future__ import annotations

import io

import numpy as np

from codecstudy.codec.external.base import ClassicCodec
from codecstudy.codec.interface import Latency, RoundTrip, Streaming, as_mono_float

RATE = 16000
BITRATES = (8000, 16000, 24000, 32000)
LAME_RANGE = (8000, 160000)  # MPEG-2 layer III, what compression_level spans at 16 kHz
DELAY = 576 + 529


class MP3(ClassicCodec):
    kind = "mp3"
    bitrate_counts = "the whole MP3 file (frame headers and the LAME/Xing info frame included)"
    rate, bitrates = RATE, BITRATES
    library = ("soundfile", "soundfile (a core dependency)")

    def weights(self) -> str:
        sf = self._lib()
        return f"none: LAME/mpg123 in {sf.__libsndfile_version__ and 'libsndfile ' + sf.__libsndfile_version__}"

    def delay_samples(self, setting: str) -> int:
        self.setting(setting)
        return DELAY

    def declared_latency(self, setting: str) -> Latency:
        return Latency(576, self.delay_samples(setting), "MPEG-2 layer III: 576-sample frames at 16 kHz; LAME's "
                       "encoder delay 576 + mpg123's decoder delay 529 (measured, docs/codecs.md)")

    def streaming(self) -> Streaming:
        return Streaming(True, True, "LAME and mpg123 code MPEG frames as they come (the adapter passes whole files "
                         "through libsndfile)")

    def roundtrip(self, wave: np.ndarray, setting: str) -> RoundTrip:
        sf = self._lib()
        rate = self.setting(setting).nominal_bps or 0
        low, high = LAME_RANGE
        level = min(0.99, (high - rate) / (high - low))  # 1.0 is rejected by libsndfile
        wave = np.clip(as_mono_float(wave), -1.0, 1.0)
        wave = np.concatenate([wave, np.zeros(DELAY, dtype=np.float32)])
        buf = io.BytesIO()
        try:
            sf.write(buf, wave, RATE, format="MP3", subtype="MPEG_LAYER_III", compression_level=level,
                     bitrate_mode="CONSTANT")
        except (TypeError, sf.LibsndfileError) as exc:  # old soundfile/libsndfile without MP3 writing
            raise RuntimeError(f"MP3 encoding failed in libsndfile: {exc}") from None
        n_bytes = buf.tell()
        buf.seek(0)
        decoded, _ = sf.read(buf, dtype="float32")
        return RoundTrip(np.asarray(decoded, dtype=np.float32).reshape(-1), n_bytes)
