"""PESQ, STOI/ESTOI, CI-SDR and SI-SNR against their reference libraries, and their behaviour on bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from helpers.evalsignals import RATE, degraded_pairs, speech

from codecstudy.evaluate.base import MetricError
from codecstudy.evaluate.metrics import intrusive

pesq_lib = pytest.importorskip("pesq", reason="pesq is in the eval extra")
pystoi = pytest.importorskip("pystoi", reason="pystoi is in the eval extra")
fbe = pytest.importorskip("fast_bss_eval", reason="fast-bss-eval is in the eval extra")

PAIRS = degraded_pairs(speech())
REF = speech()


@pytest.mark.parametrize("name", list(PAIRS))
def test_pesq_equals_library(name: str) -> None:
    est = PAIRS[name]
    assert intrusive.pesq_wb(REF, est, RATE)["pesq_wb"] == pytest.approx(pesq_lib.pesq(RATE, REF, est, "wb"), abs=1e-9)
    ref8 = intrusive._resampled(REF, RATE, 8000)
    est8 = intrusive._resampled(est, RATE, 8000)
    assert intrusive.pesq_nb(REF, est, RATE)["pesq_nb"] == pytest.approx(
        pesq_lib.pesq(8000, ref8, est8, "nb"), abs=1e-9
    )
    assert intrusive.pesq(REF, est, RATE)["pesq"] == intrusive.pesq_wb(REF, est, RATE)["pesq_wb"]


def test_pesq_orders_degradations() -> None:
    scores = {k: intrusive.pesq_wb(REF, v, RATE)["pesq_wb"] for k, v in PAIRS.items()}
    assert scores["same"] > 4.5
    assert scores["same"] > scores["noise20"] > scores["noise10"] > scores["noise0"]


def test_pesq_other_rates_are_resampled() -> None:
    from codecstudy import audio

    ref24, est24 = (audio.resample(x, RATE, 24000).astype(np.float64) for x in (REF, PAIRS["noise20"]))
    value = intrusive.pesq(ref24, est24, 24000)["pesq"]
    direct = pesq_lib.pesq(
        16000, intrusive._resampled(ref24, 24000, 16000), intrusive._resampled(est24, 24000, 16000), "wb"
    )
    assert value == pytest.approx(direct, abs=1e-9)


@pytest.mark.parametrize("name", list(PAIRS))
def test_stoi_and_estoi_equal_library(name: str) -> None:
    est = PAIRS[name]
    assert intrusive.stoi(REF, est, RATE)["stoi"] == pytest.approx(pystoi.stoi(REF, est, RATE), abs=1e-12)
    assert intrusive.estoi(REF, est, RATE)["estoi"] == pytest.approx(
        pystoi.stoi(REF, est, RATE, extended=True), abs=1e-12
    )


@pytest.mark.parametrize("name", ["noise20", "noise10", "noise0", "lp4k", "delay5ms"])
def test_ci_sdr_equals_fast_bss_eval_and_mir_eval(name: str) -> None:
    est = PAIRS[name]
    ours = intrusive.ci_sdr(REF, est, RATE)["ci_sdr"]
    assert ours == pytest.approx(float(fbe.sdr(REF[None], est[None], filter_length=512, clamp_db=100)[0]), abs=1e-6)
    if name == "lp4k":  # ~100 dB: the 512-tap filter reproduces the low-pass almost exactly; mir_eval is noisier
        return
    mir_eval = pytest.importorskip("mir_eval")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        sdr, *_ = mir_eval.separation.bss_eval_sources(REF[None], est[None], compute_permutation=False)
    assert ours == pytest.approx(float(sdr[0]), abs=0.01)


def test_ci_sdr_forgives_linear_filtering_and_clamps_identity() -> None:
    assert intrusive.ci_sdr(REF, PAIRS["same"], RATE)["ci_sdr"] == pytest.approx(100.0, abs=1e-6)
    assert intrusive.ci_sdr(REF, PAIRS["lp4k"], RATE)["ci_sdr"] > 40
    assert intrusive.ci_sdr(REF, PAIRS["noise20"], RATE)["ci_sdr"] == pytest.approx(20.0, abs=0.3)


@pytest.mark.parametrize("name", ["noise20", "noise10", "noise0", "lp4k", "delay5ms"])
def test_si_snr_equals_fast_bss_eval(name: str) -> None:
    est = PAIRS[name]
    assert intrusive.si_snr(REF, est, RATE)["si_snr"] == pytest.approx(
        float(fbe.si_sdr(REF[None], est[None])[0]), abs=1e-6
    )
    zm = intrusive.si_snr(REF, est, RATE, zero_mean=True)["si_snr"]
    assert zm == pytest.approx(float(fbe.si_sdr(REF[None], est[None], zero_mean=True)[0]), abs=1e-6)


def test_si_snr_clamped_for_exact_copy() -> None:
    assert intrusive.si_snr(REF, REF, RATE)["si_snr"] == 100.0
    assert intrusive.si_snr(REF, REF, RATE, clamp_db=50.0)["si_snr"] == 50.0


@pytest.mark.parametrize(
    "func", [intrusive.pesq_wb, intrusive.pesq_nb, intrusive.stoi, intrusive.estoi, intrusive.ci_sdr, intrusive.si_snr]
)
def test_silent_estimate_is_an_error_not_zero(func) -> None:
    with pytest.raises(MetricError, match="silent"):
        func(REF, np.zeros_like(REF), RATE)


@pytest.mark.parametrize("func", [intrusive.pesq_wb, intrusive.stoi, intrusive.ci_sdr, intrusive.si_snr])
def test_nan_input_is_an_error(func) -> None:
    bad = REF.copy()
    bad[100] = np.nan
    with pytest.raises(MetricError, match="non-finite"):
        func(REF, bad, RATE)


def test_too_short_clips_are_errors() -> None:
    short = REF[: int(0.1 * RATE)]
    with pytest.raises(MetricError, match="pesq failed"):
        intrusive.pesq_wb(short, short, RATE)
    with pytest.raises(MetricError, match="fewer than 30"):
        intrusive.stoi(short, short, RATE)
    with pytest.raises(MetricError, match="too short"):
        intrusive.ci_sdr(REF[:300], REF[:300], RATE)


def test_a_short_clip_is_not_applicable_an_output_cut_short_is_a_failure() -> None:
    from codecstudy.evaluate.base import NotApplicable

    short = REF[: int(0.1 * RATE)]
    with pytest.raises(NotApplicable, match="BufferTooShortError"):
        intrusive.pesq_wb(short, short, RATE)
    with pytest.raises(MetricError, match="BufferTooShortError") as caught:
        intrusive.pesq_wb(REF, short, RATE)  # the reference is long enough: the codec cut its output short
    assert not isinstance(caught.value, NotApplicable)


def test_visqol_records_mapper_and_scores() -> None:
    pytest.importorskip("visqol", reason="visqol-python is in the eval extra")
    ref = REF[: 2 * RATE]
    same = intrusive.visqol_audio(ref, ref, RATE)["visqol_audio"]
    noisy = intrusive.visqol_audio(ref, PAIRS["noise10"][: 2 * RATE], RATE)["visqol_audio"]
    assert same == pytest.approx(4.732, abs=0.01)
    assert noisy < same - 1.0
    assert intrusive.visqol_mapper("audio").startswith("svr")
    speech_score = intrusive.visqol_speech(ref, ref, RATE)["visqol_speech"]
    mapper = intrusive.visqol_mapper("speech")
    assert mapper in ("lattice-tflite", "polynomial-fallback")
    assert 4.0 < speech_score <= 5.0
    assert intrusive.visqol_mapper("speech", False) == "polynomial-fallback"
