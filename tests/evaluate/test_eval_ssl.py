"""SpeechBERTScore with a small random WavLM of the real architecture (transformers), saved and loaded locally."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers.evalsignals import RATE, lowpass, speech, with_noise

pytest.importorskip("transformers", reason="transformers is in the eval extra")

from codecstudy.evaluate.base import MetricError  # noqa: E402
from codecstudy.evaluate.metrics import ssl  # noqa: E402


@pytest.fixture(scope="module")
def wavlm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from helpers.randommodels import save_random_wavlm

    return save_random_wavlm(tmp_path_factory.mktemp("wavlm"))


def test_identical_audio_scores_one_and_degradations_rank_by_severity(wavlm: Path) -> None:
    x = speech()
    same = ssl.speech_bert_score(x, x, RATE, model=str(wavlm), layer=3)
    assert same == pytest.approx({"speech_bert": 1.0, "speech_bert_recall": 1.0, "speech_bert_f1": 1.0}, abs=1e-9)
    scores = {snr: ssl.speech_bert_score(x, with_noise(x, snr), RATE, model=str(wavlm), layer=3) for snr in (30, 10, 0)}
    precision = [scores[snr]["speech_bert"] for snr in (30, 10, 0)]
    assert 1.0 > precision[0] > precision[1] > precision[2] > 0.0
    again = ssl.speech_bert_score(x, with_noise(x, 10), RATE, model=str(wavlm), layer=3)
    assert again == scores[10]  # deterministic: the ranking cannot flip between runs
    f1 = scores[10]
    p, r = f1["speech_bert"], f1["speech_bert_recall"]
    assert f1["speech_bert_f1"] == pytest.approx(2 * p * r / (p + r))


def test_matches_a_direct_computation_with_the_same_model(wavlm: Path) -> None:
    import torch
    from transformers import WavLMModel

    from codecstudy import audio

    x = speech()
    y = lowpass(x, 3000.0)
    rate = 24000  # resampled to 16 kHz inside the metric, as DiscreteSpeechMetrics does
    x24, y24 = audio.resample(x.astype(np.float32), RATE, rate), audio.resample(y.astype(np.float32), RATE, rate)
    got = ssl.speech_bert_score(x24, y24, rate, model=str(wavlm), layer=2)
    model = WavLMModel.from_pretrained(str(wavlm)).eval()

    def feats(z: np.ndarray) -> np.ndarray:
        z16 = audio.resample(z, rate, RATE)
        with torch.no_grad():
            hidden = model(torch.tensor(z16, dtype=torch.float32)[None], output_hidden_states=True).hidden_states
        return hidden[2][0].numpy().astype(np.float64)

    g, r = feats(y24), feats(x24)
    sim = (g / np.linalg.norm(g, axis=1, keepdims=True)) @ (r / np.linalg.norm(r, axis=1, keepdims=True)).T
    assert got["speech_bert"] == pytest.approx(sim.max(axis=1).mean(), abs=1e-6)
    assert got["speech_bert_recall"] == pytest.approx(sim.max(axis=0).mean(), abs=1e-6)


def test_layer_and_weights_hash_are_recorded(wavlm: Path) -> None:
    info = ssl.speech_bert_info(model=str(wavlm), layer=3)
    assert info["layer"] == 3 and info["model"] == str(wavlm)
    assert len(info["sha256"]) == 64
    assert ssl.speech_bert_info()["model"] == "microsoft/wavlm-large" and ssl.speech_bert_info()["layer"] == 14


def test_bad_model_paths_and_short_clips_give_one_line_reasons(wavlm: Path, tmp_path: Path) -> None:
    x = speech()
    with pytest.raises(MetricError, match=r"nowhere: no such folder; expected a WavLM"):
        ssl.speech_bert_score(x, x, RATE, model=str(tmp_path / "nowhere"))
    other = tmp_path / "other"
    other.mkdir()
    (other / "config.json").write_text('{"model_type": "bert"}', encoding="utf-8")
    with pytest.raises(MetricError, match=r"other: holds a 'bert' model; expected a WavLM"):
        ssl.load_wavlm(other)
    with pytest.raises(MetricError, match="out of range"):
        ssl.speech_bert_score(x, x, RATE, model=str(wavlm), layer=14)
    with pytest.raises(MetricError, match="too short"):
        ssl.speech_bert_score(x[:800], x[:800], RATE, model=str(wavlm), layer=3)
