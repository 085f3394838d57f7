"""A codec's delay is calibrated once over many clips: real delays are found exactly, phase loss never shifts."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.evalsignals import RATE, delayed, speech

from codecstudy.evaluate import delay as D

TEXTS = [
    "the quick brown fox jumps over the lazy dog",
    "hello world how are you today",
    "a phase scrambled copy of voiced speech",
    "she sells sea shells by the sea shore",
    "one two three four five six seven",
    "codecs compress speech and music",
]


def phase_scrambled(x: np.ndarray, seed: int) -> np.ndarray:
    """Same magnitude spectrogram (32 ms frames), random phase: a vocoder's output with no delay at all."""
    from scipy.signal import istft, stft

    _, _, spec = stft(x, nperseg=512, noverlap=384)
    phase = np.exp(2j * np.pi * np.random.default_rng(seed).random(spec.shape))
    _, y = istft(np.abs(spec) * phase, nperseg=512, noverlap=384)
    return y[: x.size]


@pytest.fixture(scope="module")
def refs() -> list[np.ndarray]:
    return [speech(text) for text in TEXTS]


def test_phase_scrambled_speech_is_not_shifted_though_its_clips_peak_elsewhere(refs) -> None:
    pairs = [(x, phase_scrambled(x, i)) for i, x in enumerate(refs)]
    lags = [D.clip_lag(r, e, int(0.1 * RATE))[0] for r, e in pairs]
    # the failure a per-clip search makes: peaks at arbitrary pitch multiples, several ms away from 0
    assert sum(abs(lag) > 0.005 * RATE for lag in lags) >= len(pairs) // 2, lags
    found = D.calibrate_delay(pairs, RATE)
    assert found.samples == 0 and found.source == D.CALIBRATION and found.clips == len(pairs)


@pytest.mark.parametrize("shift", [1, 37, 250, 1105, -25])
def test_a_truly_delayed_copy_gets_exactly_its_delay(refs, shift: int) -> None:
    def move(x: np.ndarray) -> np.ndarray:
        return delayed(x, shift) if shift >= 0 else np.concatenate([x[-shift:], np.zeros(-shift)])

    found = D.calibrate_delay([(x, move(x)) for x in refs], RATE)
    assert found.samples == shift and found.method == "waveform consensus" and found.confidence == 1.0


def test_a_delayed_vocoder_gets_its_delay_from_the_envelope(refs) -> None:
    """Codec2-like: no phase kept and about 250 samples late; the envelope finds it to within a fraction of a ms."""
    found = D.calibrate_delay([(x, delayed(phase_scrambled(x, i), 250)) for i, x in enumerate(refs)], RATE)
    assert found.method == "envelope consensus" and abs(found.samples - 250) <= 8, found


def test_unrelated_output_and_too_few_clips_are_not_shifted(refs) -> None:
    noise = [(x, np.random.default_rng(i).standard_normal(x.size)) for i, x in enumerate(refs)]
    found = D.calibrate_delay(noise, RATE)
    assert found.samples == 0 and found.method.startswith("no consensus")
    few = D.calibrate_delay([(x, delayed(x, 37)) for x in refs[:2]], RATE)
    assert few.samples == 0 and few.clips == 2  # two clips cannot show a consensus (min_clips = 3)
    # both agree, but two of the three clips needed is a confidence of 2/3, not 1.0
    assert few.method == "too few clips (2 of the 3 needed): not shifted" and few.confidence == pytest.approx(2 / 3)
    assert D.too_few_warning("opus", few) == ("warning: opus: delay calibration on too few clips (2 of the 3 "
                                              "needed): not shifted (confidence 0.67)")
    assert D.too_few_warning("opus", found) is None
    assert D.calibrate_delay([(np.zeros(8000), np.zeros(8000))] * 4, RATE).clips == 0


def test_one_shifted_clip_among_many_does_not_move_the_codec(refs) -> None:
    pairs = [(x, x.copy()) for x in refs]
    pairs[0] = (refs[0], delayed(refs[0], 800))
    assert D.calibrate_delay(pairs, RATE).samples == 0


def test_calibration_subset_is_spread_and_deterministic() -> None:
    assert D.calibration_subset(5, 32) == [0, 1, 2, 3, 4]
    picked = D.calibration_subset(1000, 32)
    assert len(picked) == 32 and picked[0] == 0 and picked[-1] == 999 and picked == D.calibration_subset(1000, 32)


def _record(lag: int, corr: float, delay: int = 0) -> dict:
    return {"alignment": {"delay_samples": delay, "clip_lag_samples": lag, "clip_lag_correlation": corr}}


def test_lag_agreement_flags_scattered_clear_matches_only() -> None:
    weak = [_record(900, 0.2) for _ in range(8)]  # arbitrary peaks of poor matches: not counted
    good = [_record(0, 0.9) for _ in range(8)]
    summary = D.lag_agreement(weak + good, RATE)
    assert summary["clips"] == 16 and summary["clear_matches"] == 8 and not summary["flag"]
    broken = good[:4] + [_record(700, 0.8) for _ in range(4)]
    summary = D.lag_agreement(broken, RATE)
    assert summary["disagreeing"] == 4 and summary["disagreeing_share"] == 0.5 and summary["flag"]
    assert not D.lag_agreement([_record(250, 0.9, delay=250)] * 5, RATE)["flag"]


def test_delay_round_trips_through_json() -> None:
    d = D.CodecDelay(104, D.CALIBRATION, "waveform consensus", 0.9375, 32, 16000)
    assert D.CodecDelay.from_json(d.to_json()) == d and d.to_json()["rule"] == D.RULE
    assert d.milliseconds == pytest.approx(6.5)
