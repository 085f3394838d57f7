"""AMR-WB (3GPP wide-band speech) through Debian's libraries, bound with ctypes: the VisualOn encoder
(``libvo-amrwbenc0``: ``E_IF_init/E_IF_encode/E_IF_exit``) and the opencore decoder (``libopencore-amrwb0``:
``D_IF_init/D_IF_decode/D_IF_exit``). No Python package binds them; ``apt-get install libvo-amrwbenc0
libopencore-amrwb0`` provides them.

Frames are 20 ms (320 samples at 16 kHz) in the RFC 4867 storage format: one header byte, then the mode's bits
rounded up to bytes. The measured bitrate counts the frames without that header byte (6.8 kbps for 6.6 kbps
mode 0: the byte rounding). The library states no delay, so :meth:`delay_samples` is None (it measures 95 samples
on speech; see docs/codecs.md).
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import lru_cache

import numpy as np

from codecstudy.codec.external.base import ClassicCodec
from codecstudy.codec.interface import (
    Latency,
    MissingPackageError,
    RoundTrip,
    as_mono_float,
    from_int16,
    to_int16,
)

RATE = 16000
FRAME = 320
MODES = (6600, 8850, 12650, 14250, 15850, 18250, 19850, 23050, 23850)
INSTALL = "the Debian packages libvo-amrwbenc0 and libopencore-amrwb0 (apt-get install)"
FLUSH_FRAMES = 1


@lru_cache(maxsize=1)
def _libraries() -> tuple[ctypes.CDLL, ctypes.CDLL]:
    found = []
    for name in ("vo-amrwbenc", "opencore-amrwb"):
        path = ctypes.util.find_library(name)
        if path is None:
            raise MissingPackageError(f"codec amrwb needs lib{name}.so; install {INSTALL}")
        found.append(ctypes.CDLL(path))
    enc, dec = found
    enc.E_IF_init.restype = ctypes.c_void_p
    enc.E_IF_encode.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
    enc.E_IF_encode.restype = ctypes.c_int
    enc.E_IF_exit.argtypes = [ctypes.c_void_p]
    dec.D_IF_init.restype = ctypes.c_void_p
    dec.D_IF_decode.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
    dec.D_IF_exit.argtypes = [ctypes.c_void_p]
    return enc, dec


class AMRWB(ClassicCodec):
    kind = "amrwb"
    bitrate_counts = "AMR-WB frames without the 1-byte storage-format header (no container)"
    rate, frame, bitrates = RATE, FRAME, MODES

    def load(self) -> None:
        _libraries()

    def weights(self) -> str:
        _libraries()
        return "none: Debian's libvo-amrwbenc (encoder) and libopencore-amrwb (decoder)"

    def declared_latency(self, setting: str) -> Latency:
        self.setting(setting)
        return Latency(FRAME, 95, "3GPP TS 26.190: 20 ms frames, 5 ms look-ahead plus 0.9375 ms of resampling "
                       "filters (95 samples; measured, docs/codecs.md)")

    def roundtrip(self, wave: np.ndarray, setting: str) -> RoundTrip:
        enc_lib, dec_lib = _libraries()
        mode = MODES.index(int(self.setting(setting).nominal_bps or 0))
        pcm = to_int16(as_mono_float(wave))
        total = (-(-pcm.size // FRAME) + FLUSH_FRAMES) * FRAME
        pcm = np.ascontiguousarray(np.concatenate([pcm, np.zeros(total - pcm.size, dtype=np.int16)]))
        enc, dec = enc_lib.E_IF_init(), dec_lib.D_IF_init()
        packet = (ctypes.c_ubyte * 64)()
        frame_out = np.zeros(FRAME, dtype=np.int16)
        out, n_bytes = [], 0
        try:
            for start in range(0, total, FRAME):
                chunk = pcm[start : start + FRAME]
                size = enc_lib.E_IF_encode(enc, mode, chunk.ctypes.data, packet, 0)
                if size <= 0:
                    raise RuntimeError(f"AMR-WB encoder returned {size}")
                n_bytes += size - 1
                dec_lib.D_IF_decode(dec, packet, frame_out.ctypes.data, 0)
                out.append(from_int16(frame_out.copy()))
        finally:
            enc_lib.E_IF_exit(enc)
            dec_lib.D_IF_exit(dec)
        return RoundTrip(np.concatenate(out), n_bytes)
