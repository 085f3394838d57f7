"""WORLD analysis shared by MCD and the F0 metrics: F0 track, mel-cepstrum and frame power of one signal.

The recipe is VERSA's ``mcd_f0`` (itself from ESPnet and S3PRL-VC): scale to the 16-bit range, a 255-tap FIR
high-pass at 70 Hz, an F0 track, CheapTrick spectral envelope (FFT 1024), ``sp2mc`` (order 39, alpha 0.466 at
every rate) and the normalised frame power used to drop silent frames before DTW.

Two things are done differently, with identical results:

* ``sp2mc`` is linear after the log: ``mc = freqt(irfft(log sp) with c0 halved)``. ``freqt`` of a length-N
  cepstrum to order M is a fixed ``[N, M+1]`` matrix, built once per (fft size, order, alpha) by applying
  ``pysptk.freqt`` to the identity basis, so every later call is one matrix product (about 3.5x faster than
  ``pysptk.sp2mc``; max difference ~1e-14).
* VERSA also runs D4C (aperiodicity) and never uses it; it is skipped. Its frame power is a Python loop over
  FFT bins; here it is one vectorised sum.

The F0 method is ``harvest`` (VERSA parity; about 0.2 s per second of audio) or ``dio`` refined by
``stonemask`` (about 50x faster, slightly different tracks, so only for the fast mode). Results are the same
for the same input and settings, so the reference's analysis can be cached and reused for every codec.
"""

from __future__ import annotations

import functools
import threading
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy.signal import firwin, oaconvolve

from codecstudy.evaluate.base import MetricError, NotApplicable, require

F0_METHODS = ("harvest", "dio")
# VERSA's mcd_f0 defaults (egs/speech.yaml): the settings the paper's numbers were computed with.
VERSA_ALPHA = 0.466


@dataclass(frozen=True)
class WorldSettings:
    """Everything the analysis depends on; part of the reference cache key."""

    f0_method: str = "harvest"
    f0_floor: float = 40.0
    f0_ceil: float = 800.0
    frame_period: float = 5.0
    fft_size: int = 1024
    order: int = 39
    alpha: float | str = VERSA_ALPHA  # a number, or "auto" for pysptk's per-sample-rate all-pass constant
    lowcut_hz: float = 70.0

    def resolved_alpha(self, sample_rate: int) -> float:
        """The all-pass constant actually used: VERSA fixes 0.466 at every rate; ``"auto"`` picks the constant
        that best fits the mel scale at this rate (0.410 at 16 kHz, 0.466 at 24 kHz)."""
        if isinstance(self.alpha, str):
            if self.alpha != "auto":
                raise MetricError(f"mcep alpha must be a number or 'auto', got {self.alpha!r}")
            pysptk = require("pysptk", "pysptk")
            return float(pysptk.util.mcepalpha(sample_rate))
        return float(self.alpha)

    def to_json(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class WorldFeatures:
    """Per-frame features (5 ms hop by default): F0 in Hz (0 = unvoiced), mel-cepstrum ``[T, order+1]`` and
    normalised power in dB (relative to the signal's mean frame power)."""

    f0: np.ndarray
    mcep: np.ndarray
    npow: np.ndarray
    # Results derived from these features within one pair (e.g. the voiced-frame DTW path shared by F0 RMSE and
    # F0 correlation), so that two metrics never compute the same alignment twice.
    memo: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"f0": self.f0, "mcep": self.mcep, "npow": self.npow}

    @classmethod
    def from_arrays(cls, data: dict[str, np.ndarray]) -> "WorldFeatures":
        return cls(f0=np.asarray(data["f0"]), mcep=np.asarray(data["mcep"]), npow=np.asarray(data["npow"]))


def lowcut(x: np.ndarray, sample_rate: int, cutoff: float = 70.0) -> np.ndarray:
    """255-tap linear-phase FIR high-pass (ESPnet's ``low_cut_filter``, causal like its ``lfilter``), removing DC
    and rumble that would otherwise dominate c0 of the cepstrum."""
    taps = firwin(255, cutoff / (sample_rate // 2), pass_zero=False)
    # lfilter(taps, 1, x) computed as a truncated FFT convolution: same values to ~1e-12, 10x faster.
    return oaconvolve(x, taps)[: x.size]


_LOCK = threading.Lock()


@functools.lru_cache(maxsize=16)
def freqt_matrix(fft_size: int, order: int, alpha: float) -> np.ndarray:
    """``W`` with ``freqt(c, order, alpha) == c @ W`` for a length-``fft_size`` cepstrum ``c``.

    freqt (frequency warping of a cepstrum through a first-order all-pass) is linear in ``c``, so its matrix is
    the image of the identity basis. Built with pysptk itself, so the result is pysptk's to rounding.
    """
    pysptk = require("pysptk", "pysptk")
    eye = np.eye(fft_size)
    with _LOCK:
        w = np.stack([pysptk.freqt(eye[k], order, alpha) for k in range(fft_size)])
    w.setflags(write=False)
    return w


def sp2mc(sp: np.ndarray, order: int, alpha: float) -> np.ndarray:
    """Mel-cepstrum ``[T, order+1]`` of a power spectral envelope ``[T, fft/2+1]``; equals ``pysptk.sp2mc``."""
    c = np.fft.irfft(np.log(sp), axis=-1)
    c[:, 0] /= 2.0
    return c @ freqt_matrix(c.shape[-1], int(order), float(alpha))


def normalized_power(sp: np.ndarray) -> np.ndarray:
    """Frame power in dB relative to the mean frame power (VERSA's ``spc2npow``), from a one-sided ``|H|^2``."""
    fft_size = 2 * (sp.shape[-1] - 1)
    power = (sp[:, 0] + sp[:, -1] + 2.0 * sp[:, 1:-1].sum(axis=1)) / fft_size
    return 10.0 * np.log10(power / np.mean(power))


def world_features(x: np.ndarray, sample_rate: int, settings: WorldSettings | None = None) -> WorldFeatures:
    """Analyse one signal (float in [-1, 1], mono). Raises NotApplicable when it is shorter than the FFT."""
    settings = settings or WorldSettings()
    if settings.f0_method not in F0_METHODS:
        raise MetricError(f"f0_method must be one of {F0_METHODS}, got {settings.f0_method!r}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyworld 0.3.5 imports pkg_resources, which warns on import
        pw = require("pyworld", "pyworld")
    x = np.asarray(x, dtype=np.float64) * np.iinfo(np.int16).max
    if x.size < settings.fft_size:  # the clip's limit (a 50 ms word fragment), not the codec's failure
        raise NotApplicable(f"shorter than WORLD's analysis window ({x.size} samples < FFT size {settings.fft_size})")
    x = np.ascontiguousarray(lowcut(x, sample_rate, settings.lowcut_hz))
    if settings.f0_method == "harvest":
        f0, times = pw.harvest(
            x, sample_rate, f0_floor=settings.f0_floor, f0_ceil=settings.f0_ceil, frame_period=settings.frame_period
        )
    else:
        f0, times = pw.dio(
            x, sample_rate, f0_floor=settings.f0_floor, f0_ceil=settings.f0_ceil, frame_period=settings.frame_period
        )
        f0 = pw.stonemask(x, f0, times, sample_rate)
    sp = pw.cheaptrick(x, f0, times, sample_rate, fft_size=settings.fft_size)
    mcep = sp2mc(sp, settings.order, settings.resolved_alpha(sample_rate))
    return WorldFeatures(f0=np.asarray(f0), mcep=mcep, npow=normalized_power(sp))
