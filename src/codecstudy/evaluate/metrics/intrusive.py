"""Intrusive quality and intelligibility: PESQ, STOI/ESTOI, CI-SDR, SI-SNR and ViSQOL.

Library choices and settings (see docs/metrics.md and shared/reference/metrics-libraries.md):

* PESQ: the ``pesq`` package (ITU-T P.862 / P.862.2 reference code). It only runs at 8 kHz (narrow band) and
  16 kHz (wide band); other rates are resampled with soxr HQ, the resampler behind ``librosa.resample``, which
  VERSA uses. ``pesq`` follows VERSA's rule (WB at >= 16 kHz, NB below); ``pesq_wb``/``pesq_nb`` force a band.
  A library error (silence, < 0.25 s, no utterance found) is recorded, never turned into 0 as VERSA does.
* STOI/ESTOI: ``pystoi`` (resamples to 10 kHz internally). pystoi returns 1e-5 with a warning when fewer than 30
  frames remain after its silent-frame removal; that is recorded as an error instead of a near-zero score.
* CI-SDR: ``fast_bss_eval.sdr`` with a 512-tap distortion filter and the exact solve (``use_cg_iter=None``),
  numerically the same as the ``ci_sdr`` package VERSA calls (which cannot be installed by name). Clamped at
  ``clamp_db`` because an exact copy is +inf.
* SI-SNR: own code (five lines). VERSA negates ``fast_bss_eval.si_sdr_loss`` with ``zero_mean`` off; the default
  here is the same definition, clamped to ``±clamp_db`` because an exact copy is +inf.
* ViSQOL v3: ``visqol-python``. ``visqol_audio`` is audio mode at 48 kHz with the bundled SVR model (VERSA's
  ``default``; what SoundStream/EnCodec/DAC report); ``visqol_speech`` is speech mode at 16 kHz. Speech mode maps
  similarity to MOS with the lattice TFLite model when ``ai-edge-litert`` is installed and otherwise falls back to
  a polynomial that scores 1-2 MOS higher; the mapper that ran is recorded in meta.json.
"""

from __future__ import annotations

import threading
import warnings
from typing import Any

import numpy as np

from codecstudy import audio
from codecstudy.evaluate.base import (
    MetricError,
    NotApplicable,
    check_pair,
    finite,
    package_version,
    require,
    truncate_pair,
)

PESQ_RATES = {"wb": 16000, "nb": 8000}


def _resampled(x: np.ndarray, sr: int, target: int) -> np.ndarray:
    return x if sr == target else audio.resample(x, sr, target).astype(np.float64)


def _pesq(ref: np.ndarray, est: np.ndarray, sr: int, band: str, key: str) -> dict[str, float]:
    pesq_lib = require("pesq", "pesq")
    ref, est = check_pair(ref, est, key)
    target = PESQ_RATES[band]
    ref = _resampled(ref, sr, target)
    short_reference = ref.size < target // 4
    ref, est = truncate_pair(ref, _resampled(est, sr, target))
    try:
        value = pesq_lib.pesq(target, ref, est, band)
    except Exception as exc:  # PesqError subclasses, ValueError (silence), ...: all mean "no score"
        # Below 1/4 s the method does not apply (a property of the clip); the message stays the library's. An
        # output cut short by the codec is the codec's failure, not the clip's.
        too_short = type(exc).__name__ == "BufferTooShortError"
        error = NotApplicable if too_short and short_reference else MetricError
        raise error(f"pesq failed: {type(exc).__name__}: {exc}") from None
    return {key: finite(value, "PESQ")}


def pesq(ref: np.ndarray, est: np.ndarray, sr: int, **_: Any) -> dict[str, float]:
    """PESQ with VERSA's band rule: wide band (P.862.2) at >= 16 kHz (resampled to 16 kHz), else narrow band
    (P.862) at 8 kHz."""
    return _pesq(ref, est, sr, "wb" if sr >= 16000 else "nb", "pesq")


def pesq_wb(ref: np.ndarray, est: np.ndarray, sr: int, **_: Any) -> dict[str, float]:
    """Wide-band PESQ (P.862.2) on both signals resampled to 16 kHz."""
    return _pesq(ref, est, sr, "wb", "pesq_wb")


def pesq_nb(ref: np.ndarray, est: np.ndarray, sr: int, **_: Any) -> dict[str, float]:
    """Narrow-band PESQ (P.862) on both signals resampled to 8 kHz."""
    return _pesq(ref, est, sr, "nb", "pesq_nb")


def _stoi(ref: np.ndarray, est: np.ndarray, sr: int, extended: bool, key: str) -> dict[str, float]:
    pystoi = require("pystoi", "pystoi")
    ref, est = truncate_pair(*check_pair(ref, est, key))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = pystoi.stoi(ref, est, sr, extended=extended)
    for item in caught:
        if "Not enough STFT frames" in str(item.message):
            # decided by the reference alone (pystoi drops its frames 40 dB below the loudest): not applicable
            raise NotApplicable(f"{key}: fewer than 30 non-silent 25.6 ms frames (clip too short or silent)")
    return {key: finite(value, key.upper())}


def stoi(ref: np.ndarray, est: np.ndarray, sr: int, **_: Any) -> dict[str, float]:
    """Short-time objective intelligibility (0..1, higher is better)."""
    return _stoi(ref, est, sr, False, "stoi")


def estoi(ref: np.ndarray, est: np.ndarray, sr: int, **_: Any) -> dict[str, float]:
    """Extended STOI (Jensen & Taal 2016), sensitive to modulation distortions that STOI misses."""
    return _stoi(ref, est, sr, True, "estoi")


def ci_sdr(
    ref: np.ndarray, est: np.ndarray, sr: int, *, filter_length: int = 512, clamp_db: float = 100.0, **_: Any
) -> dict[str, float]:
    """Convolution-invariant SDR (dB): SDR after the best ``filter_length``-tap filter of the reference, so
    linear filtering (EQ, band limiting) is forgiven and only non-linear distortion and noise count."""
    fbe = require("fast_bss_eval", "fast-bss-eval")
    ref, est = truncate_pair(*check_pair(ref, est, "ci_sdr", min_samples=filter_length))
    with np.errstate(all="ignore"):
        value = fbe.sdr(ref[None, :], est[None, :], filter_length=filter_length, clamp_db=clamp_db)
    return {"ci_sdr": finite(np.asarray(value).reshape(-1)[0], "CI-SDR")}


def si_snr(
    ref: np.ndarray, est: np.ndarray, sr: int, *, zero_mean: bool = False, clamp_db: float = 100.0, **_: Any
) -> dict[str, float]:
    """Scale-invariant SNR (dB): energy of the estimate's projection on the reference over the residual's.

    ``zero_mean=False`` is VERSA's (fast_bss_eval's) definition, i.e. SI-SDR; ``True`` removes the means first
    (Conv-TasNet's SI-SNR). The result is clipped to ``±clamp_db``.
    """
    ref, est = truncate_pair(*check_pair(ref, est, "si_snr"))
    if zero_mean:
        ref = ref - ref.mean()
        est = est - est.mean()
    scale = np.dot(est, ref) / np.dot(ref, ref)
    target = scale * ref
    noise = est - target
    t_energy, n_energy = float(np.dot(target, target)), float(np.dot(noise, noise))
    if n_energy == 0.0:
        value = clamp_db
    elif t_energy == 0.0:
        value = -clamp_db
    else:
        value = float(np.clip(10.0 * np.log10(t_energy / n_energy), -clamp_db, clamp_db))
    return {"si_snr": value}


# --------------------------------------------------------------------------------------------------- ViSQOL
VISQOL_RATES = {"audio": 48000, "speech": 16000}
_VISQOL: dict[tuple[str, bool | None], Any] = {}
_VISQOL_LOCK = threading.Lock()


def _visqol_api(mode: str, lattice: bool | None) -> Any:
    key = (mode, lattice)
    with _VISQOL_LOCK:
        api = _VISQOL.get(key)
        if api is None:
            visqol = require("visqol", "visqol-python")
            api = visqol.VisqolApi()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                api.create(mode=mode, use_lattice_model=lattice if mode == "speech" else None)
            _VISQOL[key] = api
    return api


def visqol_mapper(mode: str, lattice: bool | None = None) -> str:
    """Which similarity-to-MOS mapper ViSQOL uses in this process: ``svr`` (audio mode), ``lattice-tflite`` or
    ``polynomial-fallback`` (speech mode)."""
    if mode == "audio":
        return "svr (libsvm_nu_svr_model.txt)"
    manager = _visqol_api(mode, lattice)._manager
    return "lattice-tflite" if getattr(manager, "use_lattice_model", False) else "polynomial-fallback"


def _visqol(ref: np.ndarray, est: np.ndarray, sr: int, mode: str, key: str, lattice: bool | None) -> dict[str, float]:
    ref, est = check_pair(ref, est, key)
    rate = VISQOL_RATES[mode]
    ref = _resampled(ref, sr, rate)
    reference_size = ref.size
    ref, est = truncate_pair(ref, _resampled(est, sr, rate))
    cut_by_output = ref.size < reference_size  # an output shorter than its reference: the codec's, not the clip's
    if ref.size < rate // 2:
        raise (MetricError if cut_by_output else NotApplicable)(f"{key}: clip shorter than 0.5 s")
    api = _visqol_api(mode, lattice)
    try:
        result = api.measure_from_arrays(ref, est, rate)
    except Exception as exc:
        # "Reference spectrum size (38) smaller than minimum patch size (45)": the reference is too short for one
        # patch (0.96 s in audio mode: 45 frames of 80 ms, hop 20 ms), a property of the clip
        error = NotApplicable if "smaller than minimum patch" in str(exc) and not cut_by_output else MetricError
        raise error(f"visqol failed: {type(exc).__name__}: {exc}") from None
    return {key: finite(result.moslqo, "ViSQOL MOS-LQO")}


def visqol_audio(ref: np.ndarray, est: np.ndarray, sr: int, **_: Any) -> dict[str, float]:
    """ViSQOL v3 audio mode (48 kHz, SVR model): MOS-LQO 1..~4.73 (the bundled model's ceiling)."""
    return _visqol(ref, est, sr, "audio", "visqol_audio", None)


def visqol_speech(
    ref: np.ndarray, est: np.ndarray, sr: int, *, use_lattice_model: bool | None = None, **_: Any
) -> dict[str, float]:
    """ViSQOL v3 speech mode (16 kHz); ``use_lattice_model`` None = lattice when available (C++ default)."""
    return _visqol(ref, est, sr, "speech", "visqol_speech", use_lattice_model)


def versions() -> dict[str, str | None]:
    return {
        name: package_version(name) for name in ("pesq", "pystoi", "fast-bss-eval", "visqol-python", "ai-edge-litert")
    }
