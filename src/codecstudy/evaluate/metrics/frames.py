"""Which analysis frames a spectral-envelope or pitch metric compares: the frame rule behind ``frames=``.

Two rules, chosen per metric with the setting ``frames``:

* ``parity`` (the default): VERSA's frames, unchanged. MCD and the F0 metrics compare every frame of the shorter
  WORLD track, the mel distance every STFT frame, digital silence included.
* ``robust``: frames where the **reference** is silent are left out, so that a clip's value measures the codec on
  the sound that is there, not on how the analysis represents nothing. A reference frame is silent when its power
  *in the metric's own analysis* is more than ``below_active_db`` (60 dB) below the clip's active level, the 95th
  percentile of its frames' power:

  - WORLD metrics (MCD family, F0 family): the power of the frame's CheapTrick spectral envelope (VERSA's
    ``npow``, already computed for the DTW variant), i.e. exactly what the mel-cepstrum is made of;
  - mel distance: the frame's mel-band energy (sum of squared mel magnitudes; an all-zero frame is -inf dB).

  Digital silence (exact zeros, as in trimmed or zero-padded recordings) is always dropped by this rule: WORLD's
  envelope of zeros is its numerical floor, well over 100 dB below any sound. The level is a high percentile, so
  it does not move with the share of silence in the clip (a mean would fall by 3 dB when half the clip is zeros).
  60 dB is below the pause noise of any normally recorded clip (a studio floor is about 35-55 dB under its loud
  frames), so only digital silence, fades into it and synthetic near-zero padding are dropped; a clip without such
  frames gets exactly its ``parity`` value. A reference that is digital silence throughout (peak below -100 dBFS)
  is not applicable.

  Why: on exact zeros the envelope falls to the floor, so one silent reference frame against a codec's faint
  noise costs tens of dB of MCD (a 1.55 s word that is 54 % zeros scored 71.9 dB where its sounding frames give
  7.4 dB). The same frames add (0 Hz, 0 Hz) pairs that inflate the all-frame F0 correlation, and floor-level mel
  bands that dominate the mel distance. The rule looks at the envelope rather than at the waveform because the
  envelope is what explodes: a frame centred in silence 2 ms from speech has a waveform window with some signal
  in it, yet a CheapTrick window (6 ms for an unvoiced frame) of zeros.

  Frames where only the **output** is silent are kept (a codec that removes sound that was there is penalised
  for it); MCD counts them as ``mcd_est_silent_frames``: frames whose output samples around the frame centre
  (``frame_period`` each side, after the 127-sample delay of WORLD's high-pass) are below -100 dBFS. The
  envelope cannot tell this (its power is relative to the signal's own mean, and an all-zero output is all
  floor), so the waveform does.

Pure functions of the frame powers.
"""

from __future__ import annotations

import math

import numpy as np

from codecstudy.evaluate.base import SILENCE_PEAK, MetricError

FRAME_RULES = ("parity", "robust")
BELOW_ACTIVE_DB = 60.0
ACTIVE_PERCENTILE = 95.0
FLOOR_DBFS = 20.0 * math.log10(SILENCE_PEAK)  # -100 dBFS: digital silence, as base.is_silent
LOWCUT_DELAY = 127  # samples: WORLD's 255-tap causal high-pass delays the analysed signal by (255 - 1) / 2


def check_rule(frames: str) -> str:
    """``frames`` if it names a rule, else MetricError listing the rules."""
    if frames not in FRAME_RULES:
        raise MetricError(f"frames must be one of {FRAME_RULES}, got {frames!r}")
    return frames


def active_level_db(power_db: np.ndarray) -> float:
    """The clip's active level: the 95th percentile of its finite frame powers (dB; -inf when none is finite)."""
    power_db = np.asarray(power_db, dtype=np.float64)
    finite = power_db[np.isfinite(power_db)]
    return float(np.percentile(finite, ACTIVE_PERCENTILE)) if finite.size else -np.inf


def active_mask(power_db: np.ndarray, below_active_db: float = BELOW_ACTIVE_DB) -> np.ndarray:
    """True for the frames whose power is finite and at most ``below_active_db`` under the clip's active level."""
    power_db = np.asarray(power_db, dtype=np.float64)
    level = active_level_db(power_db)
    return np.isfinite(power_db) & (power_db >= level - below_active_db)


def band_power_db(spectrogram: np.ndarray) -> np.ndarray:
    """Per-frame energy in dB of a magnitude spectrogram ``[bands, frames]`` (-inf for an all-zero frame)."""
    energy = np.sum(np.asarray(spectrogram, dtype=np.float64) ** 2, axis=0)
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(energy)


def digital_silence_frames(x: np.ndarray, sr: int, n_frames: int, frame_period: float = 5.0) -> np.ndarray:
    """``[n_frames]``: True where ``x`` around WORLD frame ``k`` (centre ``k * frame_period`` ms, shifted back by the
    high-pass delay and kept inside the signal, ``frame_period`` each side) has a mean power below -100 dBFS."""
    x = np.asarray(x, dtype=np.float64)
    half = max(1, int(round(frame_period * sr / 1000.0)))
    centres = np.round(np.arange(n_frames) * frame_period * sr / 1000.0).astype(np.int64) - LOWCUT_DELAY
    centres = np.clip(centres, 0, max(x.size - 1, 0))  # the first frames look at the signal's start
    squares = np.concatenate([[0.0], np.cumsum(x**2)])
    lo = np.clip(centres - half, 0, x.size)
    hi = np.clip(centres + half, 0, x.size)
    power = np.maximum(squares[hi] - squares[lo], 0.0) / np.maximum(hi - lo, 1)
    return power < 10.0 ** (FLOOR_DBFS / 10.0)
