"""A codec's delay: one number per codec and setting, measured once, applied to every clip.

Why not per clip: a codec that does not keep the phase of voiced speech (every low-rate codec does this to some
degree, a parametric one entirely) produces output that correlates with its reference about as well at a multiple
of the pitch period as at the true lag, so the per-clip cross-correlation peak lands on an arbitrary period. Shifting
such a clip by 50-100 ms ruins its STOI, SI-SNR, CI-SDR and frame-wise MCD/F0, and the weaker a codec's phase, the
more of its clips are shifted: a bias that differs between the codecs a study compares. A delay is a property of
the codec (its look-ahead, its framing, a library's algorithmic delay), so it is known from the codec's structure or
measured over many clips at once.

The calibration (:func:`calibrate_delay`), for codecs whose delay is not known:

1. Envelope consensus (phase-blind). Each pair's frame-RMS envelopes (1 ms hop) are cross-correlated; the
   normalised curves are summed over the clips and the peak of the sum, refined to a fraction of a frame, is the
   coarse delay. It is accepted when at least half of the clips (and ``min_clips``) have their own envelope peak
   within ``envelope_tolerance_s`` of it; otherwise the delay is 0 ("no consensus") because nothing can be shown.
   With fewer than ``min_clips`` usable clips the delay is 0 ("too few clips") and its confidence is the share of
   ``min_clips`` that agreed (two agreeing clips of three needed: 0.67, not 1.0); the scorer warns about it.
   A coarse delay within ``envelope_tolerance_s`` of 0 counts as 0: below what the envelopes agree on, nothing was
   measured.
2. Waveform refinement. Within ±``envelope_tolerance_s`` of the coarse delay, the summed waveform cross-correlation
   is searched, and its peak replaces the coarse delay when at least half of the clips (and ``min_clips``) peak
   within ``waveform_tolerance`` samples of it. A codec without phase peaks at scattered pitch periods there and
   fails that agreement, so it keeps the envelope's estimate; a waveform codec gets its delay to the sample.

Per-clip lags (:func:`clip_lag`) are still computed for every scored clip and recorded as a diagnostic, never
applied; :func:`lag_agreement` summarises how many clips with a clear waveform match disagree with the codec's
delay, which points at a broken codec rather than a delay.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.signal import correlate, correlation_lags

#: The rule's version, stored with every result so that a changed rule makes earlier results stale.
RULE = "codec-delay/1"

STRUCTURE, CALIBRATION, GIVEN, OFF = "structure", "calibration", "given", "off"


@dataclass(frozen=True)
class CodecDelay:
    """The delay applied to every clip of one codec setting. ``samples`` > 0: the output lags the input.

    ``source`` says where it comes from: ``structure`` (the codec declares it), ``calibration`` (measured by
    :func:`calibrate_delay`), ``given`` (set by the user) or ``off`` (compensation switched off). For a calibration,
    ``method`` names the step that decided and ``confidence`` is the share of clips that agreed with it.
    """

    samples: int
    source: str
    method: str = ""
    confidence: float | None = None
    clips: int = 0
    sample_rate: int | None = None

    @property
    def milliseconds(self) -> float | None:
        return None if not self.sample_rate else 1000.0 * self.samples / self.sample_rate

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["rule"] = RULE
        if self.confidence is not None:
            data["confidence"] = round(self.confidence, 4)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CodecDelay:
        fields = {k: data.get(k) for k in ("samples", "source", "method", "confidence", "clips", "sample_rate")}
        fields["method"] = fields["method"] or ""
        fields["clips"] = fields["clips"] or 0
        return cls(**fields)


# ------------------------------------------------------------------------------------------------- one clip
def _normalised_xcorr(ref: np.ndarray, est: np.ndarray, max_lag: int) -> tuple[np.ndarray, np.ndarray]:
    """Cross-correlation of ``est`` against ``ref`` for lags in ``[-max_lag, max_lag]`` (positive: ``est`` late),
    divided by both energies (0 everywhere when either side is silent)."""
    ref = np.asarray(ref, dtype=np.float64)
    est = np.asarray(est, dtype=np.float64)
    lags = np.arange(-max_lag, max_lag + 1)
    energy = float(np.sqrt(np.dot(ref, ref) * np.dot(est, est)))
    if energy == 0.0 or ref.size == 0 or est.size == 0:
        return lags, np.zeros(lags.size)
    full = correlate(est, ref, mode="full", method="fft")
    all_lags = correlation_lags(est.size, ref.size, mode="full")
    out = np.zeros(lags.size)
    keep = (all_lags >= -max_lag) & (all_lags <= max_lag)
    out[all_lags[keep] + max_lag] = full[keep] / energy
    return lags, out


def clip_lag(ref: np.ndarray, est: np.ndarray, max_lag: int) -> tuple[int, float]:
    """The lag (samples, positive = ``est`` late) of one pair's cross-correlation peak within ``±max_lag``, and
    the normalised correlation there. A diagnostic: the scorer records it per clip and never applies it."""
    lags, curve = _normalised_xcorr(ref, est, max_lag)
    best = int(np.argmax(curve))
    return int(lags[best]), float(curve[best])


def envelope(x: np.ndarray, hop: int, smooth: int = 16) -> np.ndarray:
    """Power per ``hop`` samples, smoothed over ``smooth`` hops (a Hann window), square-rooted and zero-mean.

    At a 1 ms hop, 16 ms of smoothing removes the pitch-rate ripple, which belongs to the waveform's phase (a codec
    that re-synthesises its excitation does not keep it), and leaves the syllable-rate envelope that every codec
    worth scoring keeps.
    """
    x = np.asarray(x, dtype=np.float64)
    n = x.size // hop
    if n == 0:
        return np.zeros(0)
    power = (x[: n * hop] ** 2).reshape(n, hop).mean(1)
    window = np.hanning(smooth + 2)[1:-1]
    power = np.convolve(power, window / window.sum(), mode="same")
    env = np.sqrt(np.maximum(power, 0.0))
    return env - env.mean()


# ------------------------------------------------------------------------------------------------ calibration
@dataclass(frozen=True)
class DelaySettings:
    """The calibration's knobs; the defaults hold for speech, music and sound at any rate (they are in seconds)."""

    max_delay_s: float = 0.1
    hop_s: float = 0.001
    envelope_tolerance_s: float = 0.005
    waveform_tolerance: int = 2
    min_clips: int = 3
    max_clips: int = 32


def _peak(curve: np.ndarray) -> float:
    """Index of the curve's maximum refined by a parabola through its neighbours (sub-frame resolution)."""
    i = int(np.argmax(curve))
    if 0 < i < curve.size - 1:
        a, b, c = curve[i - 1], curve[i], curve[i + 1]
        denom = a - 2 * b + c
        if denom < 0:
            return i + 0.5 * (a - c) / denom
    return float(i)


def _agreeing(peaks: list[float], center: float, tolerance: float) -> int:
    return sum(1 for p in peaks if abs(p - center) <= tolerance)


def calibrate_delay(
    pairs: Iterable[tuple[np.ndarray, np.ndarray]], sample_rate: int, settings: DelaySettings | None = None
) -> CodecDelay:
    """One delay for a codec setting from many (reference, decoded) pairs; the rule is in the module docstring."""
    s = settings or DelaySettings()
    hop = max(1, int(round(s.hop_s * sample_rate)))
    max_frames = max(1, int(round(s.max_delay_s * sample_rate / hop)))
    env_curves, env_peaks, pairs_kept = [], [], []
    for ref, est in pairs:
        if not (np.all(np.isfinite(ref)) and np.all(np.isfinite(est))):
            continue
        r, e = envelope(ref, hop), envelope(est, hop)
        if r.size < 2 or e.size < 2 or not (np.any(r) and np.any(e)):
            continue  # silent or shorter than two frames: says nothing about a delay
        _, curve = _normalised_xcorr(r, e, max_frames)
        env_curves.append(curve)
        env_peaks.append(float(np.argmax(curve) - max_frames))
        pairs_kept.append((np.asarray(ref, dtype=np.float64), np.asarray(est, dtype=np.float64)))
    n = len(env_curves)

    def need(agree: int) -> bool:  # a consensus: at least half of the clips, and at least min_clips
        return agree >= s.min_clips and 2 * agree >= n

    if n == 0:
        return CodecDelay(0, CALIBRATION, "no usable clips: not shifted", None, 0, sample_rate)
    coarse = _peak(np.sum(env_curves, axis=0)) - max_frames
    env_agree = _agreeing(env_peaks, coarse, s.envelope_tolerance_s * sample_rate / hop)
    if n < s.min_clips:  # whatever they agree on, too few to show it: the clips not there count as disagreeing
        return CodecDelay(0, CALIBRATION, too_few_clips(n, s.min_clips), env_agree / s.min_clips, n, sample_rate)
    if not need(env_agree):
        return CodecDelay(0, CALIBRATION, "no consensus: not shifted", env_agree / n, n, sample_rate)
    tolerance = s.envelope_tolerance_s * sample_rate
    coarse_samples = 0 if abs(coarse * hop) <= tolerance else int(round(coarse * hop))
    refine = max(1, int(round(tolerance)))
    total = np.zeros(2 * refine + 1)
    wave_peaks = []
    for ref, est in pairs_kept:
        # est advanced by the coarse delay, then searched within ±refine: lags relative to the coarse delay
        shifted = est[coarse_samples:] if coarse_samples >= 0 else np.concatenate([np.zeros(-coarse_samples), est])
        _, curve = _normalised_xcorr(ref, shifted, refine)
        total += curve
        wave_peaks.append(float(np.argmax(curve) - refine))
    fine = int(np.argmax(total)) - refine
    wave_agree = _agreeing(wave_peaks, fine, s.waveform_tolerance)
    if need(wave_agree):
        return CodecDelay(coarse_samples + fine, CALIBRATION, "waveform consensus", wave_agree / n, n, sample_rate)
    method = "envelope consensus" if coarse_samples else "envelope consensus at 0"
    return CodecDelay(coarse_samples, CALIBRATION, method, env_agree / n, n, sample_rate)


TOO_FEW = "too few clips"


def too_few_clips(clips: int, needed: int) -> str:
    """The method of a calibration on fewer clips than it needs."""
    return f"{TOO_FEW} ({clips} of the {needed} needed): not shifted"


def too_few_warning(label: str, delay: CodecDelay) -> str | None:
    """The console line for a calibration on fewer clips than it needs (scored unshifted whatever the clips
    showed, so the user should know); None for any other delay."""
    if delay.source != CALIBRATION or not delay.method.startswith(TOO_FEW):
        return None
    return f"warning: {label}: delay calibration on {delay.method} (confidence {delay.confidence or 0.0:.2f})"


def calibration_subset(count: int, max_clips: int) -> list[int]:
    """Indices of up to ``max_clips`` items spread evenly over ``count`` (deterministic, so every shard of a run
    calibrates on the same clips and gets the same delay)."""
    if count <= max_clips:
        return list(range(count))
    return sorted({int(i) for i in np.linspace(0, count - 1, max_clips)})


# -------------------------------------------------------------------------------------------------- diagnostic
#: A clip whose own cross-correlation peak reaches this is a clear waveform match: its lag means something.
CLEAR_MATCH = 0.5
#: Share of clearly matching clips that may disagree with the codec's delay before the report flags the codec.
DISAGREEMENT_FLAG = 0.2


def lag_agreement(
    records: Iterable[dict[str, Any]], sample_rate: int, tolerance_s: float = 0.001
) -> dict[str, Any]:
    """How the clips' own lags (diagnostic) relate to the delay that was applied to them.

    Only clips with a clear waveform match (own peak >= :data:`CLEAR_MATCH`) count: below that the peak's position
    is arbitrary. ``flag`` is set when more than :data:`DISAGREEMENT_FLAG` of them lie further than
    ``tolerance_s`` from the applied delay: a codec whose well-matching clips sit at scattered lags is broken
    (time-warps or drops samples), which no single delay, and no per-clip search, can make right.
    """
    tolerance = tolerance_s * sample_rate
    total = clear = disagree = 0
    for record in records:
        info = record.get("alignment") or {}
        lag, corr = info.get("clip_lag_samples"), info.get("clip_lag_correlation")
        if lag is None or corr is None:
            continue
        total += 1
        if corr >= CLEAR_MATCH:
            clear += 1
            if abs(lag - (info.get("delay_samples") or 0)) > tolerance:
                disagree += 1
    share = disagree / clear if clear else 0.0
    return {
        "clips": total,
        "clear_matches": clear,
        "disagreeing": disagree,
        "disagreeing_share": round(share, 4),
        "tolerance_s": tolerance_s,
        "flag": bool(clear and share > DISAGREEMENT_FLAG),
    }
