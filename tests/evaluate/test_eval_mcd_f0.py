"""MCD and F0 metrics against a direct pyworld + pysptk (+ fastdtw) computation written the way VERSA's mcd_f0
does it, plus the fast mode, the per-rate alpha and the bad-input behaviour."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.evalsignals import RATE, degraded_pairs, speech

from codecstudy.evaluate import world
from codecstudy.evaluate.base import MetricError, NotApplicable
from codecstudy.evaluate.metrics import pitch, spectral

pw = pytest.importorskip("pyworld", reason="pyworld is in the eval extra")
pysptk = pytest.importorskip("pysptk", reason="pysptk is in the eval extra")
fastdtw_mod = pytest.importorskip("fastdtw", reason="fastdtw is in the eval extra")

REF = speech()
PAIRS = degraded_pairs(REF)


def direct_features(x: np.ndarray, f0_method: str = "harvest", alpha: float = 0.466) -> dict[str, np.ndarray]:
    """The reference computation: VERSA's world_extract, spelled out with the libraries."""
    from scipy.signal import firwin, lfilter

    x = lfilter(firwin(255, 70 / (RATE // 2), pass_zero=False), 1, x * 32767.0)
    if f0_method == "harvest":
        f0, t = pw.harvest(x, RATE, f0_floor=40, f0_ceil=800, frame_period=5)
    else:
        f0, t = pw.dio(x, RATE, f0_floor=40, f0_ceil=800, frame_period=5)
        f0 = pw.stonemask(x, f0, t, RATE)
    sp = pw.cheaptrick(x, f0, t, RATE, fft_size=1024)
    power = np.array([(s[0] + s[-1] + 2 * sum(s[1:-1])) / 1024 for s in sp])
    return {"f0": f0, "mcep": pysptk.sp2mc(sp, 39, alpha), "npow": 10 * np.log10(power / power.mean())}


@pytest.fixture(scope="module")
def direct() -> dict[str, dict[str, np.ndarray]]:
    return {
        name: direct_features(x)
        for name, x in [("ref", REF), *PAIRS.items()]
        if name in ("ref", "noise20", "lp4k", "same")
    }


def versa_mcd(e: dict, r: dict) -> float:
    n = min(len(e["mcep"]), len(r["mcep"]))
    return float(np.mean(10 / np.log(10) * np.sqrt(2 * np.sum((e["mcep"][:n] - r["mcep"][:n]) ** 2, 1))))


def test_world_features_match_libraries(direct) -> None:
    ours = world.world_features(REF, RATE)
    np.testing.assert_allclose(ours.f0, direct["ref"]["f0"], atol=1e-6)
    np.testing.assert_allclose(ours.mcep, direct["ref"]["mcep"], atol=1e-8)
    np.testing.assert_allclose(ours.npow, direct["ref"]["npow"], atol=1e-8)


def test_sp2mc_matrix_equals_pysptk() -> None:
    sp = np.abs(np.random.default_rng(0).standard_normal((50, 513))) + 0.1
    for alpha in (0.466, 0.41, 0.0):
        np.testing.assert_allclose(world.sp2mc(sp, 39, alpha), pysptk.sp2mc(sp, 39, alpha), atol=1e-10)


@pytest.mark.parametrize("name", ["same", "noise20", "lp4k"])
def test_mcd_and_f0_equal_direct_computation(name: str, direct) -> None:
    from scipy.stats import pearsonr

    r, e = direct["ref"], direct[name]
    est = PAIRS[name]
    assert spectral.mcd(REF, est, RATE)["mcd"] == pytest.approx(versa_mcd(e, r), abs=1e-6)
    n = min(len(e["f0"]), len(r["f0"]))
    assert pitch.f0_rmse(REF, est, RATE)["f0_rmse"] == pytest.approx(
        float(np.sqrt(np.mean((e["f0"][:n] - r["f0"][:n]) ** 2))), abs=1e-6
    )
    if name != "same":
        assert pitch.f0_corr(REF, est, RATE)["f0_corr"] == pytest.approx(
            pearsonr(e["f0"][:n], r["f0"][:n])[0], abs=1e-9
        )


def test_identical_signal_scores_perfectly() -> None:
    ref_world = world.world_features(REF, RATE)
    same = {"ref_world": ref_world, "est_world": ref_world}
    assert spectral.mcd(REF, REF, RATE, **same)["mcd"] == 0.0
    assert pitch.f0_corr(REF, REF, RATE, **same)["f0_corr"] == pytest.approx(1.0)
    assert pitch.f0_rmse(REF, REF, RATE, **same)["f0_rmse"] == 0.0
    assert spectral.mcd_dtw(REF, REF, RATE, **same)["mcd_dtw"] == 0.0


@pytest.mark.parametrize("name", ["noise20", "lp4k"])
def test_mcd_dtw_equals_versa_fastdtw(name: str, direct) -> None:
    from scipy.spatial.distance import euclidean

    r, e = direct["ref"], direct[name]
    e_frames, r_frames = e["mcep"][e["npow"] > -20], r["mcep"][r["npow"] > -20]
    _, path = fastdtw_mod.fastdtw(e_frames, r_frames, dist=euclidean)
    path = np.array(path).T
    diff2 = np.sum((e_frames[path[0]] - r_frames[path[1]]) ** 2, 1)
    expected = float(np.mean(10 / np.log(10) * np.sqrt(2 * diff2)))
    assert spectral.mcd_dtw(REF, PAIRS[name], RATE, dtw="fastdtw")["mcd_dtw"] == pytest.approx(expected, abs=1e-6)
    exact = spectral.mcd_dtw(REF, PAIRS[name], RATE, dtw="exact")["mcd_dtw"]
    assert exact == pytest.approx(expected, rel=0.1)


def test_f0_dtw_equals_versa(direct) -> None:
    from scipy.spatial.distance import euclidean
    from scipy.stats import pearsonr

    r, e = direct["ref"], direct["noise20"]
    ri, ei = np.flatnonzero(r["f0"] > 0), np.flatnonzero(e["f0"] > 0)
    _, path = fastdtw_mod.fastdtw(e["mcep"][ei], r["mcep"][ri], dist=euclidean)
    path = np.array(path).T
    ef, rf = e["f0"][ei][path[0]], r["f0"][ri][path[1]]
    assert pitch.f0_rmse_dtw(REF, PAIRS["noise20"], RATE)["f0_rmse_dtw"] == pytest.approx(
        float(np.sqrt(np.mean((ef - rf) ** 2))), abs=1e-6
    )
    assert pitch.f0_corr_dtw(REF, PAIRS["noise20"], RATE)["f0_corr_dtw"] == pytest.approx(pearsonr(ef, rf)[0], abs=1e-9)


def test_mcd_grows_with_noise() -> None:
    values = [spectral.mcd(REF, PAIRS[k], RATE, f0_method="dio")["mcd"] for k in ("noise20", "noise10", "noise0")]
    assert values == sorted(values)


def test_fast_mode_uses_dio_and_matches_direct_dio() -> None:
    d_ref, d_est = direct_features(REF, "dio"), direct_features(PAIRS["noise20"], "dio")
    value = spectral.mcd(REF, PAIRS["noise20"], RATE, f0_method="dio")["mcd"]
    assert value == pytest.approx(versa_mcd(d_est, d_ref), abs=1e-6)


def test_alpha_auto_is_per_sample_rate() -> None:
    assert world.WorldSettings(alpha="auto").resolved_alpha(16000) == pytest.approx(pysptk.util.mcepalpha(16000))
    assert world.WorldSettings().resolved_alpha(16000) == 0.466
    a = spectral.mcd(REF, PAIRS["noise20"], RATE, f0_method="dio", alpha="auto")["mcd"]
    b = spectral.mcd(REF, PAIRS["noise20"], RATE, f0_method="dio")["mcd"]
    assert a != b
    with pytest.raises(MetricError):
        world.WorldSettings(alpha="bogus").resolved_alpha(16000)


def test_precomputed_features_give_the_same_values() -> None:
    settings = world.WorldSettings(f0_method="dio")
    ref_world = world.world_features(REF, RATE, settings)
    a = spectral.mcd(REF, PAIRS["noise10"], RATE, f0_method="dio", ref_world=ref_world)["mcd"]
    b = spectral.mcd(REF, PAIRS["noise10"], RATE, f0_method="dio")["mcd"]
    assert a == b


def test_log_f0_rmse_and_voicing() -> None:
    out = pitch.log_f0_rmse(REF, REF, RATE, f0_method="dio")
    assert out == {"log_f0_rmse": 0.0, "voicing_error": 0.0}
    shifted = pitch.log_f0_rmse(REF, PAIRS["noise10"], RATE, f0_method="dio")
    assert shifted["log_f0_rmse"] > 0 and 0 <= shifted["voicing_error"] <= 1


def test_bad_inputs_are_errors() -> None:
    silent = np.zeros_like(REF)
    with pytest.raises(MetricError, match="constant"):
        pitch.f0_corr(REF, silent, RATE, f0_method="dio")
    with pytest.raises(MetricError, match="no voiced frame"):
        pitch.f0_corr_dtw(REF, silent, RATE, f0_method="dio")
    with pytest.raises(NotApplicable, match="shorter than WORLD's analysis window"):  # the clip's limit
        spectral.mcd(REF[:500], REF[:500], RATE)
    with pytest.raises(MetricError, match="non-finite"):
        spectral.mcd(REF, np.full_like(REF, np.nan), RATE)
    with pytest.raises(MetricError, match="frame counts differ"):
        spectral.mcd(REF, REF[: REF.size // 2], RATE, f0_method="dio")


def test_mel_distance_equals_librosa() -> None:
    librosa = pytest.importorskip("librosa")
    est = PAIRS["noise20"]
    mels = [
        librosa.feature.melspectrogram(
            y=x.astype(np.float32), sr=RATE, n_fft=1024, hop_length=256, n_mels=80, power=1.0
        )
        for x in (REF, est)
    ]
    expected = float(np.mean(np.abs(np.log10(np.maximum(mels[0], 1e-5)) - np.log10(np.maximum(mels[1], 1e-5)))))
    assert spectral.mel_distance(REF, est, RATE)["mel_distance"] == pytest.approx(expected, abs=2e-4)
    assert spectral.mel_distance(REF, REF, RATE)["mel_distance"] == 0.0


def test_mrstft_distance_orders_and_zero() -> None:
    assert spectral.mrstft_distance(REF, REF, RATE)["mrstft_distance"] == 0.0
    values = [
        spectral.mrstft_distance(REF, PAIRS[k], RATE)["mrstft_distance"] for k in ("noise20", "noise10", "noise0")
    ]
    assert values == sorted(values)
    with pytest.raises(MetricError, match="silent"):
        spectral.mrstft_distance(np.zeros_like(REF), REF, RATE)


def test_band_limited_output_scores_worse_on_mcd_than_broadband_noise() -> None:
    """docs/metrics.md: MCD ranks band-limited codecs harshly. A 4 kHz low-pass and an 8 kHz round trip (what an
    8 kHz codec returns) keep PESQ near 4 and STOI near 1, yet their MCD is worse than white noise at 0 dB SNR."""
    from helpers.evalsignals import lowpass, with_noise

    from codecstudy import audio
    from codecstudy.evaluate.metrics import intrusive

    x8 = audio.resample(audio.resample(REF.astype(np.float32), RATE, 8000), 8000, RATE).astype(np.float64)
    band_limited = {"lp4k": lowpass(REF), "codec8k": x8[: REF.size]}
    noise = with_noise(REF, 0)
    mcd_noise = spectral.mcd(REF, noise, RATE, f0_method="dio")["mcd"]
    for name, y in band_limited.items():
        assert spectral.mcd(REF, y, RATE, f0_method="dio")["mcd"] > mcd_noise + 3.0, name
        assert intrusive.pesq(REF, y, RATE)["pesq"] > intrusive.pesq(REF, noise, RATE)["pesq"] + 2.0, name
