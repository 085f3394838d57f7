"""UTMOS22 strong from a state dict in the published layout, with small random weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers.evalsignals import RATE, speech, with_noise

pytest.importorskip("transformers", reason="transformers is in the eval extra")

from codecstudy.evaluate.base import MetricError  # noqa: E402
from codecstudy.evaluate.metrics import utmos  # noqa: E402


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from helpers.randommodels import save_random_utmos22

    return save_random_utmos22(tmp_path_factory.mktemp("utmos") / "utmos22_strong.pt")


@pytest.mark.slow
def test_published_layout_loads_and_scores(checkpoint: Path, tmp_path: Path) -> None:
    import torch
    from helpers.randommodels import save_random_utmos22

    x = speech()
    a = utmos.utmos(x, x, RATE, checkpoint=str(checkpoint))["utmos"]
    b = utmos.utmos(x, with_noise(x, 0), RATE, checkpoint=str(checkpoint))["utmos"]
    assert np.isfinite(a) and a != b
    assert utmos.utmos(x, x, RATE, checkpoint=str(checkpoint))["utmos"] == a  # deterministic
    info = utmos.utmos_info(checkpoint=str(checkpoint))
    assert len(info["sha256"]) == 64 and info["checkpoint"] == str(checkpoint)
    # Weight norm stored under the newer parametrization names gives the same network.
    newer = save_random_utmos22(tmp_path / "new.pt", new_weight_norm=True)
    wave = torch.from_numpy(x.astype(np.float32))[None]
    assert float(utmos.load_utmos22(newer)(wave)) == pytest.approx(float(utmos.load_utmos22(checkpoint)(wave)))


def test_head_is_twice_the_frame_mean_plus_three(tmp_path: Path) -> None:
    """Zero the last projection's weights: every frame scores its bias, the utterance 2 * bias + 3."""
    import torch
    from helpers.randommodels import save_random_utmos22

    path = save_random_utmos22(tmp_path / "u.pt", seed=3)
    state = torch.load(str(path), weights_only=True)
    state["projection.2.weight"].zero_()
    state["projection.2.bias"].fill_(0.25)
    torch.save(state, str(path))
    score = utmos.load_utmos22(path)(torch.from_numpy(speech().astype(np.float32))[None])
    assert float(score) == pytest.approx(3.5, abs=1e-6)


def test_bad_checkpoints_are_one_line_errors(tmp_path: Path) -> None:
    import torch

    with pytest.raises(MetricError, match=r"nowhere\.pt: no such file; expected a UTMOS22 strong state dict"):
        utmos.load_utmos22(tmp_path / "nowhere.pt")
    torch.save({"encoder.weight": torch.zeros(2)}, str(tmp_path / "other.pt"))
    with pytest.raises(MetricError, match=r"other\.pt: holds encoder\.weight\.\.\.; expected a UTMOS22"):
        utmos.load_utmos22(tmp_path / "other.pt")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(MetricError, match=r"junk\.pt: not a torch checkpoint"):
        utmos.load_utmos22(tmp_path / "junk.pt")


def _direct_utmos(state: dict, wave):
    """The UTMOS22 strong forward written out with torch.nn.functional from the published layout (fairseq
    wav2vec2 base: group-normed first conv, post-LN transformer; then the embeddings, BLSTM and projection)."""
    import torch
    import torch.nn.functional as F

    w = {k[len("wav2vec2."):]: v for k, v in state.items() if k.startswith("wav2vec2.")}
    x = wave[:, None]
    for i, stride in enumerate((5, 2, 2, 2, 2, 2, 2)):
        x = F.conv1d(x, w[f"feature_extractor.conv_layers.{i}.0.weight"], stride=stride)
        if i == 0:
            x = F.group_norm(x, x.shape[1], w["feature_extractor.conv_layers.0.2.weight"],
                             w["feature_extractor.conv_layers.0.2.bias"])
        x = F.gelu(x)
    x = x.transpose(1, 2)
    x = F.layer_norm(x, x.shape[-1:], w["layer_norm.weight"], w["layer_norm.bias"])
    x = F.linear(x, w["post_extract_proj.weight"], w["post_extract_proj.bias"])
    g, v = w["encoder.pos_conv.0.weight_g"], w["encoder.pos_conv.0.weight_v"]
    kernel = v * (g / v.norm(dim=(0, 1), keepdim=True))
    groups = x.shape[-1] // v.shape[1]
    pos = F.conv1d(x.transpose(1, 2), kernel, w["encoder.pos_conv.0.bias"], padding=v.shape[-1] // 2, groups=groups)
    x = x + F.gelu(pos[:, :, :-1]).transpose(1, 2)
    x = F.layer_norm(x, x.shape[-1:], w["encoder.layer_norm.weight"], w["encoder.layer_norm.bias"])
    n_layers = len({k.split(".")[2] for k in w if k.startswith("encoder.layers.")})
    heads = max(1, x.shape[-1] // 64)
    for i in range(n_layers):
        p = f"encoder.layers.{i}."
        q, k, val = (F.linear(x, w[f"{p}self_attn.{n}_proj.weight"], w[f"{p}self_attn.{n}_proj.bias"])
                     for n in ("q", "k", "v"))
        split = lambda t: t.view(t.shape[0], t.shape[1], heads, -1).transpose(1, 2)  # noqa: E731
        att = torch.softmax(split(q) @ split(k).transpose(-1, -2) / split(q).shape[-1] ** 0.5, dim=-1) @ split(val)
        att = F.linear(att.transpose(1, 2).reshape(x.shape), w[f"{p}self_attn.out_proj.weight"],
                       w[f"{p}self_attn.out_proj.bias"])
        norm = f"{p}self_attn_layer_norm"
        x = F.layer_norm(x + att, x.shape[-1:], w[f"{norm}.weight"], w[f"{norm}.bias"])
        ff = F.gelu(F.linear(x, w[f"{p}fc1.weight"], w[f"{p}fc1.bias"]))
        ff = F.linear(ff, w[f"{p}fc2.weight"], w[f"{p}fc2.bias"])
        x = F.layer_norm(x + ff, x.shape[-1:], w[f"{p}final_layer_norm.weight"], w[f"{p}final_layer_norm.bias"])
    b, n, _ = x.shape
    x = torch.cat([x, state["domain_emb"].expand(b, n, -1), state["judge_emb"].expand(b, n, -1)], dim=2)
    lstm = torch.nn.LSTM(x.shape[-1], state["blstm.weight_hh_l0"].shape[1], batch_first=True, bidirectional=True)
    lstm.load_state_dict({k[len("blstm."):]: t for k, t in state.items() if k.startswith("blstm.")})
    h = lstm(x)[0]
    h = F.linear(F.relu(F.linear(h, state["projection.0.weight"], state["projection.0.bias"])),
                 state["projection.2.weight"], state["projection.2.bias"])
    return h.mean(dim=1).squeeze(1) * 2 + 3


def test_matches_a_direct_functional_forward(checkpoint: Path) -> None:
    import torch

    state = torch.load(str(checkpoint), weights_only=True)
    wave = torch.from_numpy(speech().astype(np.float32))[None]
    with torch.no_grad():
        expected = _direct_utmos(state, wave)
    assert float(utmos.load_utmos22(checkpoint)(wave)) == pytest.approx(float(expected), abs=1e-5)
    assert len(utmos.utmos_info(checkpoint=str(checkpoint))["sha256"]) == 64  # results are labelled by hash


def test_published_checkpoint_is_downloaded_once_into_the_cache(checkpoint: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    import torch

    monkeypatch.setenv("CODECSTUDY_CACHE", str(tmp_path / "cache"))
    calls: list[str] = []

    def download(url: str, dst: str, progress: bool = True) -> None:
        calls.append(url)
        if len(calls) == 1:
            raise OSError("network unreachable")
        shutil.copyfile(checkpoint, dst)

    monkeypatch.setattr(torch.hub, "download_url_to_file", download)
    (model,) = utmos.utmos_models(checkpoint="published")
    assert (model.hub_id, model.is_cached()) == ("tarepan/SpeechMOS:v1.0.0", False)
    with pytest.raises(MetricError) as info:
        utmos.checkpoint_path("published")
    assert "\n" not in str(info.value) and "utmos.checkpoint=FILE" in str(info.value)
    url = "https://github.com/tarepan/SpeechMOS/releases/download/v1.0.0/utmos22_strong_step7459_v1.pt"
    assert calls == [url]
    path = tmp_path / "cache" / "models" / "utmos22-strong-v1.0.0" / "utmos22_strong_step7459_v1.pt"
    assert model.fetch() == path and model.is_cached() and calls == [url, url]
    assert utmos.checkpoint_path("tarepan/SpeechMOS:v1.0.0") == path and len(calls) == 2  # cached: no download
    assert utmos.utmos_models(checkpoint=str(checkpoint)) == [] and utmos.utmos_models() == []
