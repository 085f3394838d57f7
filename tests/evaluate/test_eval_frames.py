"""The frame rules of the spectral-envelope and pitch metrics (``frames=parity|robust``): digital silence in the
reference moves the parity MCD by tens of dB and the robust MCD by less than 0.1 dB; parity keeps today's values;
an unvoiced output counts against its codec; VDE/GPE/FFE by hand."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.evalsignals import RATE, lowpass, padded, speech, voiced_tone, with_noise

from codecstudy.evaluate import world
from codecstudy.evaluate.base import MetricError, NotApplicable
from codecstudy.evaluate.metrics import frames, pitch, spectral

pytest.importorskip("pyworld", reason="pyworld is in the eval extra")
pytest.importorskip("pysptk", reason="pysptk is in the eval extra")


def codec_like(x: np.ndarray) -> np.ndarray:
    """A realistic degraded output: 5 kHz low-pass and noise at 25 dB SNR."""
    return with_noise(lowpass(x, 5000.0), 25, seed=4)


def pad_both(x: np.ndarray, y: np.ndarray, gaps: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """The reference padded with exact zeros, the output with a codec's faint noise (-50 dBFS) in the same places
    (gaps are whole 5 ms frames, so the frames after each gap keep their analysis positions)."""
    rng = np.random.default_rng(7)
    return padded(x, gaps), padded(y, gaps, lambda n: 3e-3 * rng.standard_normal(n))


def features(signals: dict[str, np.ndarray], f0_method: str) -> dict[str, world.WorldFeatures]:
    settings = world.WorldSettings(f0_method=f0_method)
    return {name: world.world_features(x, RATE, settings) for name, x in signals.items()}


SPEECH = speech()
SPEECH_OUT = codec_like(SPEECH)
# 0.5 s of zeros at the end, 0.25 s in the middle (1.5 s, inside the sentence), 0.5 s at the start: 1.25 s of 4.3 s
SPEECH_PADDED = pad_both(SPEECH, SPEECH_OUT, [(SPEECH.size, 8000), (24000, 4000), (0, 8000)])


@pytest.fixture(scope="module", params=["dio", "harvest"])
def speech_features(request) -> tuple[str, dict[str, world.WorldFeatures]]:
    signals = {"ref": SPEECH, "est": SPEECH_OUT, "ref_pad": SPEECH_PADDED[0], "est_pad": SPEECH_PADDED[1]}
    return request.param, features(signals, request.param)


def test_robust_mcd_ignores_digital_silence_parity_does_not(speech_features) -> None:
    method, f = speech_features
    assert np.mean(SPEECH_PADDED[0] == 0.0) > 0.25
    plain = spectral.mcd(SPEECH, SPEECH_OUT, RATE, ref_world=f["ref"], est_world=f["est"], frames="robust")
    pad = spectral.mcd(*SPEECH_PADDED, RATE, ref_world=f["ref_pad"], est_world=f["est_pad"], frames="robust")
    assert pad["mcd"] == pytest.approx(plain["mcd"], abs=0.1), method
    # the 250 frames of zeros are dropped (and the clip's own near-silent pauses in both cases)
    assert 235 <= pad["mcd_frames_dropped"] - plain["mcd_frames_dropped"] <= 255
    assert pad["mcd_est_silent_frames"] == 0.0
    parity = spectral.mcd(*SPEECH_PADDED, RATE, ref_world=f["ref_pad"], est_world=f["est_pad"])
    assert set(parity) == {"mcd"} and parity["mcd"] > plain["mcd"] + 20.0  # VERSA's definition explodes


def test_robust_f0_and_dtw_metrics_ignore_digital_silence(speech_features) -> None:
    method, f = speech_features
    pairs = {"ref_world": f["ref"], "est_world": f["est"], "frames": "robust"}
    pads = {"ref_world": f["ref_pad"], "est_world": f["est_pad"], "frames": "robust"}
    a = spectral.mcd_dtw(SPEECH, SPEECH_OUT, RATE, dtw="exact", **pairs)["mcd_dtw"]
    b = spectral.mcd_dtw(*SPEECH_PADDED, RATE, dtw="exact", **pads)["mcd_dtw"]
    assert b == pytest.approx(a, abs=0.25), method
    # the middle gap cuts a voiced stretch, so a few voicing decisions change with the signal itself; under parity
    # the 250 silent frames (unvoiced on both sides) also count as agreements and dilute the error rate
    a = pitch.f0_errors(SPEECH, SPEECH_OUT, RATE, **pairs)
    b = pitch.f0_errors(*SPEECH_PADDED, RATE, **pads)
    diluted = pitch.f0_errors(*SPEECH_PADDED, RATE, ref_world=f["ref_pad"], est_world=f["est_pad"])
    assert b["vde"] == pytest.approx(a["vde"], abs=0.015)
    assert b["gpe_frames"] == pytest.approx(a["gpe_frames"], rel=0.05)
    assert diluted["vde"] < b["vde"] and "f0_errors_frames_dropped" not in diluted


def test_robust_mel_distance_ignores_digital_silence() -> None:
    plain = spectral.mel_distance(SPEECH, SPEECH_OUT, RATE, frames="robust")
    pad = spectral.mel_distance(*SPEECH_PADDED, RATE, frames="robust")
    parity = spectral.mel_distance(*SPEECH_PADDED, RATE)
    assert pad["mel_distance"] == pytest.approx(plain["mel_distance"], rel=0.05)
    assert parity["mel_distance"] > 1.5 * plain["mel_distance"]
    assert pad["mel_distance_frames_dropped"] >= 1.25 * RATE / 256 - 4


# Today's values (VERSA parity, before the frame rules existed) on an eSpeak-free fixture: a voice-like harmonic
# signal and its codec-like output, clean and padded with zeros. Computed with the code of commit 59c91ce.
TONE = voiced_tone()
TONE_OUT = codec_like(TONE)
TONE_PADDED = padded(TONE, [(TONE.size, 4000), (12000, 2400), (0, 4000)])
TONE_OUT_PADDED = padded(TONE_OUT, [(TONE_OUT.size, 4000), (12000, 2400), (0, 4000)],
                         lambda n, rng=np.random.default_rng(5): 3e-3 * rng.standard_normal(n))
PARITY_VALUES = {  # (signal, f0 method): mcd, f0_corr, mcd_dtw (exact), mel_distance
    ("clean", "dio"): (8.192355808674451, 0.9809257564207788, 5.611252362861017, 0.3807727098464966),
    ("padded", "dio"): (46.38305534245377, 0.9768470024737197, 5.635498533349988, 0.9511827230453491),
    ("clean", "harvest"): (8.122367024821706, 0.5790847997620568, 5.592356941542756, 0.3807727098464966),
    ("padded", "harvest"): (45.98495559145196, 0.7289317990636128, 5.629995407646068, 0.9511827230453491),
}


@pytest.mark.parametrize("signal,method", list(PARITY_VALUES))
def test_parity_keeps_todays_values(signal: str, method: str) -> None:
    ref, est = (TONE, TONE_OUT) if signal == "clean" else (TONE_PADDED, TONE_OUT_PADDED)
    mcd, f0_corr, mcd_dtw, mel = PARITY_VALUES[(signal, method)]
    for rule in ({}, {"frames": "parity"}):
        assert spectral.mcd(ref, est, RATE, f0_method=method, **rule) == {"mcd": pytest.approx(mcd, abs=1e-9)}
        assert pitch.f0_corr(ref, est, RATE, f0_method=method, **rule) == {"f0_corr": pytest.approx(f0_corr, abs=1e-9)}
        assert spectral.mcd_dtw(ref, est, RATE, f0_method=method, dtw="exact", **rule) == {
            "mcd_dtw": pytest.approx(mcd_dtw, abs=1e-9)
        }
        assert spectral.mel_distance(ref, est, RATE, **rule) == {"mel_distance": pytest.approx(mel, abs=1e-6)}


def test_robust_equals_parity_when_nothing_is_silent() -> None:
    """The tone's pauses are noise at -60 dBFS (about 50 dB under its loud frames): nothing is dropped."""
    f = features({"ref": TONE, "est": TONE_OUT}, "harvest")
    given = {"ref_world": f["ref"], "est_world": f["est"]}
    robust = spectral.mcd(TONE, TONE_OUT, RATE, frames="robust", **given)
    assert robust["mcd_frames_dropped"] == 0.0
    assert robust["mcd"] == spectral.mcd(TONE, TONE_OUT, RATE, **given)["mcd"]
    corr = pitch.f0_corr(TONE, TONE_OUT, RATE, frames="robust", **given)
    assert corr == {"f0_corr": pitch.f0_corr(TONE, TONE_OUT, RATE, **given)["f0_corr"], "f0_corr_unvoiced_output": 0.0,
                    "f0_corr_frames_dropped": 0.0}


def hiss(n: int) -> np.ndarray:
    """Noise above 4 kHz: a failed output that neither F0 tracker finds a pitch in."""
    from scipy.signal import butter, sosfilt

    return sosfilt(butter(8, 4000, "hp", fs=RATE, output="sos"), 0.05 * np.random.default_rng(1).standard_normal(n))


@pytest.mark.parametrize("output", ["silence", "hiss"])
def test_unvoiced_output_counts_against_the_codec(output: str) -> None:
    est = np.zeros_like(TONE) if output == "silence" else hiss(TONE.size)
    f = features({"ref": TONE, "est": est}, "dio")
    given = {"ref_world": f["ref"], "est_world": f["est"], "frames": "robust"}
    assert not np.any(f["est"].f0 > 0)  # the output has no voiced frame at all
    assert pitch.f0_corr(TONE, est, RATE, **given)["f0_corr"] == 0.0
    assert pitch.f0_corr(TONE, est, RATE, **given)["f0_corr_unvoiced_output"] == 1.0
    assert pitch.f0_corr_dtw(TONE, est, RATE, **given)["f0_corr_dtw"] == 0.0
    errors = pitch.f0_errors(TONE, est, RATE, **given)
    # every voiced reference frame is a voicing error (the frame the rule drops is an unvoiced one)
    voiced_share = np.count_nonzero(f["ref"].f0 > 0) / (f["ref"].f0.size - errors["f0_errors_frames_dropped"])
    assert errors["vde"] == pytest.approx(voiced_share) and errors["ffe"] == errors["vde"]
    assert errors["gpe_frames"] == 0.0 and "gpe" not in errors
    with pytest.raises(MetricError, match="constant"):  # parity: undefined, as VERSA's NaN
        pitch.f0_corr(TONE, est, RATE, ref_world=f["ref"], est_world=f["est"])


def test_reference_without_voice_or_sound_is_not_applicable() -> None:
    noise = 0.05 * np.random.default_rng(2).standard_normal(TONE.size)
    with pytest.raises(NotApplicable, match="no voiced frame in the reference"):
        pitch.f0_corr(noise, TONE, RATE, f0_method="dio", frames="robust")
    silent = np.zeros_like(TONE)
    with pytest.raises(NotApplicable, match="digital silence"):
        spectral.mcd(silent, TONE, RATE, f0_method="dio", frames="robust")
    with pytest.raises(NotApplicable, match="digital silence"):
        spectral.mel_distance(silent, TONE, RATE, frames="robust")
    with pytest.raises(MetricError, match="frames must be one of"):
        spectral.mcd(TONE, TONE, RATE, f0_method="dio", frames="strict")


def test_pitch_errors_by_hand() -> None:
    #            frame: 0    1    2    3    4    5    6    7    8    9
    ref = np.array([0.0, 100, 100, 100, 200, 200, 0.0, 0.0, 150, 150])
    est = np.array([0.0, 100, 125, 0.0, 200, 90, 120, 0.0, 150, 181])
    # voicing differs at frames 3 (V->U) and 6 (U->V): VDE 2/10. Voiced in both: 1, 2, 4, 5, 8, 9 (6 frames);
    # off by more than 20 %: frame 2 (+25 %), frame 5 (-55 %), frame 9 (+20.7 %); frame 1, 4, 8 exact: GPE 3/6.
    out = pitch.pitch_errors(ref, est)
    assert out == {"vde": 0.2, "gpe": 0.5, "gpe_frames": 6.0, "ffe": 0.5}
    assert pitch.pitch_errors(ref, est, gross_error=0.3)["gpe"] == pytest.approx(1 / 6)
    assert pitch.pitch_errors(ref, np.zeros_like(ref)) == {"vde": 0.7, "ffe": 0.7, "gpe_frames": 0.0}  # 7 voiced
    with pytest.raises(MetricError, match="equal"):
        pitch.pitch_errors(ref, est[:5])


def test_active_mask_rule() -> None:
    power = np.array([-np.inf, -200.0, -65.0, -59.0, -30.0, -5.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
                      0.0, 0.0, 0.0, 0.0, 0.0])
    level = frames.active_level_db(power)
    assert level == 0.0
    assert frames.active_mask(power).tolist() == [False, False, False, True] + [True] * 16
    assert frames.band_power_db(np.zeros((3, 2)))[0] == -np.inf


def test_output_silence_is_counted_not_dropped() -> None:
    """A codec that outputs zeros for the second half: those frames stay in the MCD and are counted."""
    est = TONE_OUT.copy()
    est[TONE.size // 2 :] = 0.0
    f = features({"ref": TONE, "est": est}, "dio")
    out = spectral.mcd(TONE, est, RATE, ref_world=f["ref"], est_world=f["est"], frames="robust")
    n = min(len(f["ref"].mcep), len(f["est"].mcep))
    assert out["mcd_frames_dropped"] <= 1 and abs(out["mcd_est_silent_frames"] - n / 2) <= 3
    assert out["mcd"] > 2 * spectral.mcd(TONE, TONE_OUT, RATE, f0_method="dio", frames="robust")["mcd"]
    silent = frames.digital_silence_frames(np.zeros(1600), RATE, 21)
    assert silent.all() and not frames.digital_silence_frames(TONE, RATE, 10).any()
