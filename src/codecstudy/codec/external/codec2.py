"""Codec2 through ``pycodec2`` (its wheel bundles libcodec2): a low-rate speech vocoder at 8 kHz.

The scorer resamples the input to 8 kHz and the output back, so Codec2's output has an empty band above 4 kHz
(mel-cepstral distortion punishes that heavily; see docs/codecs.md). Its frames are 20 ms (3200/2400 bps) or 40 ms
(1600 and below). The bytes counted are the library's frames as it packs them: 700C's 28-bit frames take 4 bytes,
so 700 bps measures 800 bps. Codec2 is a sinusoidal vocoder that does not keep the waveform's phase, and its
delay is not stated by the library: :meth:`delay_samples` is None, so the scorer calibrates it.

libcodec2 draws random phases from process-wide generators (its own ``codec2_rand`` state and libc's ``rand``),
so in one process a clip decodes differently depending on what was decoded before it: the same clip scored twice,
or in another order by parallel workers, gave waveforms up to 0.3 apart. Each round trip therefore runs in a
forked child that starts from the parent's untouched generator state (and ``srand(1)``), which makes it a function
of its input alone; where ``fork`` is missing it runs in process, and says so in :meth:`weights`.
"""

from __future__ import annotations

import ctypes
import os
import pickle
from collections.abc import Callable
from typing import Any

import numpy as np

from codecstudy.codec.external.base import ClassicCodec
from codecstudy.codec.interface import Latency, RoundTrip, Setting, as_mono_float, from_int16, to_int16

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
        isolation = "" if hasattr(os, "fork") else " (no fork here: outputs depend on the order of clips)"
        return "none: libcodec2 bundled with pycodec2" + isolation

    def declared_latency(self, setting: str) -> Latency:
        frame = int(self._lib().Codec2(int(self.setting(setting).nominal_bps or 0)).samples_per_frame())
        return Latency(frame, None, "libcodec2: samples_per_frame of the mode; its look-ahead is not stated")

    def roundtrip(self, wave: np.ndarray, setting: str) -> RoundTrip:
        if not hasattr(os, "fork"):
            return self._roundtrip(wave, setting)
        audio, n_bytes = in_fresh_child(lambda: self._pair(wave, setting))
        return RoundTrip(audio, n_bytes)

    def _pair(self, wave: np.ndarray, setting: str) -> tuple[np.ndarray, int]:
        trip = self._roundtrip(wave, setting)
        return trip.audio, trip.n_bytes

    def _roundtrip(self, wave: np.ndarray, setting: str) -> RoundTrip:
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


def in_fresh_child(work: Callable[[], Any]) -> Any:
    """``work()`` in a forked child (libc's ``rand`` reseeded with 1); its result comes back pickled through a
    pipe, and its exception as a RuntimeError naming it."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into the caller's code
        status = 0
        try:
            os.close(read_end)
            ctypes.CDLL(None).srand(1)
            try:
                payload = pickle.dumps((True, work()))
            except Exception as exc:  # noqa: BLE001 - reported to the parent
                payload = pickle.dumps((False, f"{type(exc).__name__}: {exc}"))
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(payload)
        except BaseException:  # noqa: BLE001 - whatever happens, the child must not run the parent's code
            status = 1
        finally:
            os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        payload = pipe.read()
    _, wait_status = os.waitpid(pid, 0)
    if not payload:
        raise RuntimeError(f"Codec2 child process failed (wait status {wait_status})")
    ok, value = pickle.loads(payload)
    if not ok:
        raise RuntimeError(f"Codec2 failed: {value}")
    return value
