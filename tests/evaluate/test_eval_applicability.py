"""Which metric runs where: declared domains/languages, explicit study overrides, and the scorer's skip notes."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.evalsignals import RATE, speech, with_noise

from codecstudy.errors import CodecStudyError
from codecstudy.evaluate import applicability as ap
from codecstudy.evaluate.pair import PairScorer
from codecstudy.evaluate.registry import METRICS
from codecstudy.evaluate.settings import EvalSettings

SPEECH_ONLY = ["pesq", "stoi", "dnsmos", "utmos", "speech_bert", "wer", "spk_sim", "f0_corr", "f0_rmse",
               "visqol_speech"]
EVERYWHERE = ["mcd", "ci_sdr", "visqol_audio", "emb_dist", "mel_distance", "si_snr"]


def test_declared_validity() -> None:
    for name in SPEECH_ONLY:
        v = ap.validity_of(METRICS[name])
        assert v.domains == ("speech",), name
        assert ap.skip_reason(v, "music") == "not applicable to music (speech only)"
        assert ap.skip_reason(v, "speech") is None
    for name in EVERYWHERE:
        v = ap.validity_of(METRICS[name])
        assert ap.skip_reason(v, "environment") is None and v.languages is None, name
    for name in ("utmos", "speech_bert", "dnsmos"):
        v = ap.validity_of(METRICS[name])
        assert ap.off_language(v, "de") and not ap.off_language(v, "en-US") and not ap.off_language(v, None)
        assert ap.language_note(v, "es").startswith(ap.MARK)
    assert not ap.off_language(ap.validity_of(METRICS["pesq"]), "de")


def test_study_overrides_and_bad_override_keys() -> None:
    overrides = ap.parse_overrides({"pesq": {"domains": ["speech", "music"]}, "utmos": {"languages": None}})
    assert ap.skip_reason(ap.validity_of(METRICS["pesq"], overrides), "music") is None
    assert not ap.off_language(ap.validity_of(METRICS["utmos"], overrides), "de")
    with pytest.raises(CodecStudyError, match=r"evaluate\.validity\.pesq\.domains: \['noise'\]"):
        ap.parse_overrides({"pesq": {"domains": ["noise"]}})
    with pytest.raises(CodecStudyError, match=r"evaluate\.validity\.nope: unknown metric"):
        ap.parse_overrides({"nope": {}}, set(METRICS))
    with pytest.raises(CodecStudyError, match="expected a mapping"):
        ap.parse_overrides({"pesq": {"domain": ["music"]}})


def test_scorer_skips_speech_metrics_on_music_with_a_note() -> None:
    x = speech()
    y = with_noise(x, 20)
    settings = EvalSettings(metrics=["pesq", "stoi", "f0_corr", "mcd", "si_snr"], mode="fast", threads=1)
    scorer = PairScorer(settings)
    music = scorer.score("m", x, y, RATE, {"domain": "music"})
    assert set(music["metrics"]) == {"mcd", "si_snr"}
    assert set(music["skipped"]) == {"pesq", "stoi", "f0_corr"} and not music["errors"]
    assert "speech only" in music["skipped"]["pesq"]
    spoken = scorer.score("s", x, y, RATE, {"domain": "speech"})
    assert {"pesq", "stoi", "f0_corr", "mcd", "si_snr"} <= set(spoken["metrics"]) and "skipped" not in spoken
    forced = PairScorer(EvalSettings(metrics=["pesq"], threads=1, validity={"pesq": {"domains": ["music"]}}))
    assert "pesq" in forced.score("m", x, y, RATE, {"domain": "music"})["metrics"]
    short = scorer.score("short", x[:800], y[:800], RATE, {"domain": "speech"})
    # too short for the method: not applicable (a skip with the reason), not a failure
    assert short["skipped"]["pesq"] == "not applicable: shorter than 0.25 s (clip is 0.050 s)"
    assert "pesq" not in short["errors"] and short["metrics"].get("pesq") is None
    assert np.isfinite(short["metrics"]["si_snr"])


def test_study_keeps_a_metric_to_some_numbers_of_codebooks() -> None:
    overrides = ap.parse_overrides({"visqol_audio": {"domains": ["music", "environment"], "n_q": [8]}})
    v = ap.validity_of(METRICS["visqol_audio"], overrides)
    assert v.n_q == (8,) and v.to_json()["n_q"] == [8]
    assert ap.skip_reason(v, "music", 4) == "not computed at 4 codebooks (the study asks for 8 only)"
    assert ap.skip_reason(v, "music", 8) is None
    assert ap.skip_reason(v, "music", None) is None  # a classic codec's bitrate: no codebooks, always computed
    assert ap.skip_reason(v, "speech", 8) == "not applicable to speech (music/environment only)"
    assert "n_q" not in ap.validity_of(METRICS["mcd"]).to_json()  # unchanged fingerprints where not asked
    assert ap.validity_of(METRICS["mcd"], ap.parse_overrides({"mcd": {"n_q": 2}})).n_q == (2,)
    for bad in ([], [0], "8", [2.5]):
        with pytest.raises(CodecStudyError, match=r"evaluate\.validity\.mcd\.n_q: expected numbers of codebooks"):
            ap.parse_overrides({"mcd": {"n_q": bad}})


def test_short_clips_are_not_applicable_by_declared_duration() -> None:
    declared = {name: ap.min_duration_of(METRICS[name]) for name in ("pesq", "stoi", "estoi", "visqol_audio",
                                                                     "visqol_speech")}
    assert declared == {"pesq": 0.25, "stoi": 0.5121, "estoi": 0.5121, "visqol_audio": 0.96, "visqol_speech": 0.64}
    for name, minimum in declared.items():
        assert ap.duration_skip_reason(minimum, int(0.3 * RATE), RATE) is not None or name == "pesq", name
        assert ap.duration_skip_reason(minimum, 3 * RATE, RATE) is None, name
    for name in ("visqol_audio", "visqol_speech", "stoi"):
        reason = ap.duration_skip_reason(declared[name], int(0.3 * RATE), RATE)
        assert reason == f"not applicable: shorter than {declared[name]:g} s (clip is 0.300 s)"
    assert ap.duration_skip_reason(0.25, 3999, RATE) == "not applicable: shorter than 0.25 s (clip is 0.250 s)"
    assert ap.duration_skip_reason(0.25, 4000, RATE) is None
    assert ap.duration_skip_reason(ap.min_duration_of(METRICS["mcd"]), 10, RATE) is None  # none declared
    # PESQ's limit is a quarter of a second: 0.3 s is scored, 0.2 s is not
    assert ap.duration_skip_reason(0.25, int(0.2 * RATE), RATE) is not None


@pytest.mark.parametrize("name", ["pesq", "stoi", "visqol_audio", "visqol_speech"])
def test_declared_minimum_is_the_librarys(name: str) -> None:
    """At the declared minimum the library scores active speech; 10 ms shorter it does not (NotApplicable)."""
    from codecstudy.evaluate.base import MetricError, NotApplicable

    spec = METRICS[name]
    for package in spec.packages[:1]:
        pytest.importorskip({"visqol-python": "visqol", "pystoi": "pystoi", "pesq": "pesq"}[package])
    x = np.concatenate([speech(), speech("a second sentence for a longer clip to crop from")])[int(0.2 * RATE):]
    y = with_noise(x, 20)
    n = int(np.ceil(spec.min_duration_s * RATE))
    assert np.isfinite(spec.func(x[:n], y[:n], RATE)[name])
    short = n - RATE // 100
    with pytest.raises(MetricError) as caught:
        spec.func(x[:short], y[:short], RATE)
    if name != "visqol_speech":  # below its minimum ViSQOL's speech mode fails with an IndexError of its own
        assert isinstance(caught.value, NotApplicable)
