"""SHEET-SSQA (SHEET v0.1.0 SSL-MOS) from a config + checkpoint in the release layout, with small random weights."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from helpers.evalsignals import RATE, speech, with_noise

pytest.importorskip("transformers", reason="transformers is in the eval extra")

from codecstudy.evaluate.base import MetricError  # noqa: E402
from codecstudy.evaluate.metrics import sheet  # noqa: E402


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from helpers.randommodels import save_random_sheet

    return save_random_sheet(tmp_path_factory.mktemp("sheet") / "model")


def _edit_head(folder: Path, **tensors: object) -> None:
    import torch

    path = next(folder.glob("*.pkl"))
    state = torch.load(str(path), weights_only=True)
    for key, fill in tensors.items():
        name = f"mean_net_dnn.net.{key[1]}.{key[3:]}"  # "n3_weight" -> mean_net_dnn.net.3.weight
        state[name] = fill(state[name]) if callable(fill) else fill
    torch.save(state, str(path))


def test_release_layout_loads_and_scores(folder: Path) -> None:
    x = speech()
    clean = sheet.sheet_ssqa(x, x, RATE, model=str(folder))["sheet_ssqa"]
    noisy = sheet.sheet_ssqa(x, with_noise(x, 0), RATE, model=str(folder))["sheet_ssqa"]
    assert 1.0 <= clean <= 5.0 and 1.0 <= noisy <= 5.0 and clean != noisy
    assert sheet.sheet_ssqa(x, x, RATE, model=str(folder))["sheet_ssqa"] == clean
    # the checkpoint file alone finds its config beside it
    checkpoint = next(folder.glob("*.pkl"))
    assert sheet.load_sheet(checkpoint)(x) == pytest.approx(clean, abs=1e-6)
    info = sheet.sheet_info(model=str(folder))
    assert info["checkpoint"] == str(checkpoint) and len(info["sha256"]) == 64
    assert info["config"].endswith("all7-sslmos-mdf-2337-config.yml") and len(info["config_sha256"]) == 64


def test_scalar_head_is_the_frame_mean_of_two_tanh_plus_three(tmp_path: Path) -> None:
    """Zero the last layer's weights: every frame scores 2 tanh(bias) + 3, and so does the utterance."""
    import torch
    from helpers.randommodels import save_random_sheet

    folder = save_random_sheet(tmp_path / "m", seed=2)
    _edit_head(folder, n3_weight=torch.zeros(1, 16), n3_bias=torch.tensor([0.4]))
    score = sheet.load_sheet(folder)(speech())
    assert score == pytest.approx(2 * math.tanh(0.4) + 3, abs=1e-6)


def test_categorical_head_is_argmax_times_step_plus_one(tmp_path: Path) -> None:
    import torch
    from helpers.randommodels import save_random_sheet

    folder = save_random_sheet(tmp_path / "m", output="categorical")
    bias = torch.zeros(17)
    bias[6] = 10.0  # class 6 -> 6 * 0.25 + 1 = 2.5
    _edit_head(folder, n3_weight=torch.zeros(17, 16), n3_bias=bias)
    assert sheet.load_sheet(folder)(speech()) == pytest.approx(2.5)


def test_layer_index_selects_hidden_states(tmp_path: Path) -> None:
    from helpers.randommodels import save_random_sheet

    x = speech()
    last = sheet.load_sheet(save_random_sheet(tmp_path / "a", layer=-1))(x)
    same = sheet.load_sheet(save_random_sheet(tmp_path / "b", layer=2))(x)  # 2 layers: states 0..2
    first = sheet.load_sheet(save_random_sheet(tmp_path / "c", layer=0))(x)
    assert same == pytest.approx(last, abs=1e-6) and first != pytest.approx(last, abs=1e-4)
    with pytest.raises(MetricError, match="ssl_model_layer_idx 5 out of range for 3 hidden states"):
        sheet.load_sheet(save_random_sheet(tmp_path / "d", layer=5))


def test_short_clip_is_padded_not_failed(folder: Path) -> None:
    x = speech()[:600]  # under SHEET's 1040-sample minimum
    assert 1.0 <= sheet.sheet_ssqa(x, x, RATE, model=str(folder))["sheet_ssqa"] <= 5.0


def test_bad_models_are_one_line_errors(tmp_path: Path, folder: Path) -> None:
    import shutil

    from helpers.randommodels import save_random_utmos22

    with pytest.raises(MetricError, match=r"nowhere: no such file or folder; expected a SHEET SSL-MOS model"):
        sheet.load_sheet(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(MetricError, match=r"empty: no config \(\*config.yml\) found"):
        sheet.load_sheet(tmp_path / "empty")
    other = tmp_path / "wavlm"
    shutil.copytree(folder, other)
    config = next(other.glob("*.yml"))
    config.write_text(config.read_text().replace('"wav2vec2"', '"wavlm_large"'))
    with pytest.raises(MetricError, match=r"s3prl_name is 'wavlm_large', this loader runs 'wav2vec2' only"):
        sheet.load_sheet(other)
    utmos = tmp_path / "utmos"
    utmos.mkdir()
    save_random_utmos22(utmos / "utmos22_strong.pt")
    (utmos / "config.yml").write_text(next(folder.glob("*.yml")).read_text())
    with pytest.raises(MetricError, match=r"utmos22_strong.pt: holds wav2vec2\..*; expected a SHEET SSL-MOS"):
        sheet.load_sheet(utmos)


def test_hub_name_uses_the_cached_release_or_says_how_to_get_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                               ) -> None:
    import torch
    from helpers.randommodels import save_random_sheet

    monkeypatch.setenv("CODECSTUDY_CACHE", str(tmp_path / "cache"))
    calls: list[str] = []

    def offline(url: str, dst: str, progress: bool = True) -> None:
        calls.append(url)
        raise OSError("network unreachable")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(MetricError) as info:
        sheet.load_sheet("default")
    message = str(info.value)
    assert "\n" not in message and sheet.RELEASE + sheet.RELEASE_FILES[0] in message
    assert "sheet_ssqa.model=DIR" in message and calls == [sheet.RELEASE + sheet.RELEASE_FILES[0]]
    # the release files already in the cache: no download
    save_random_sheet(tmp_path / "cache" / "models" / "sheet-v0.1.0")
    x = speech()
    assert 1.0 <= sheet.load_sheet("unilight/sheet:v0.1.0")(x) <= 5.0 and len(calls) == 1


def test_registered_as_a_speech_metric() -> None:
    from codecstudy.evaluate.registry import METRICS

    spec = METRICS["sheet_ssqa"]
    assert spec.domains == ("speech",) and not spec.intrusive and spec.defaults == {"model": "default"}
