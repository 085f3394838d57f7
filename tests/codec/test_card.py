"""Codec cards: counted MACs equal a hand count, latency follows the layers, streaming keeps the latency promise,
classic codecs are "not counted", and ``codec info --card`` / ``--json`` carry the fields."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
import torch

from codecstudy.cli import main
from codecstudy.codec import card as card_module
from codecstudy.codec.card import ROW_FIELDS, card_rows, codec_card, probe_signal
from codecstudy.codec.config import codec_config_from_dict
from codecstudy.codec.cost import codec_macs, seanet_latency, seanet_right_context
from codecstudy.codec.native import NativeCodec
from codecstudy.codec.registry import build_codec, codec_from_preset


def tiny_model(causal: bool, ratios: tuple[int, ...] = (2, 2), lstm_layers: int = 1) -> Any:
    """A SEANet codec small enough to count by hand: 1000 Hz, widths 2 -> 4 -> 8, latent 4, 2 codebooks of 4."""
    config = codec_config_from_dict({
        "architecture": "soundstream", "name": "hand", "sample_rate": 1000,
        "seanet": {"channels": 2, "dimension": 4, "ratios": list(ratios), "n_residual_layers": 1, "kernel_size": 3,
                   "last_kernel_size": 3, "residual_kernel_size": 3, "dilation_base": 2, "lstm_layers": lstm_layers,
                   "causal": causal, "compress": 2, "true_skip": False, "pad_mode": "constant"},
        "quantizer": {"kind": "ema", "n_codebooks": 2, "codebook_size": 4, "kmeans_init": False},
    })
    return build_codec(config).prepare_for_inference()


def conv(c_in: int, c_out: int, kernel: int, t_out: int) -> int:
    """MACs of a 1-D convolution: every output step of every output channel reads c_in x kernel inputs."""
    return c_in * c_out * kernel * t_out


def conv_transpose(c_in: int, c_out: int, kernel: int, t_in: int) -> int:
    """MACs of a transposed convolution: every input step scatters into c_out x kernel outputs."""
    return c_in * c_out * kernel * t_in


def lstm(dim: int, steps: int) -> int:
    """MACs of one LSTM layer (input = hidden = dim): four gates read input and state at every step."""
    return 4 * dim * (dim + dim) * steps


def test_counted_macs_equal_the_hand_count_of_a_small_seanet() -> None:
    codec = NativeCodec("hand", tiny_model(causal=False))
    samples, frames = 1000, 250  # 1 s at 1000 Hz, hop 4
    residual = {w: lambda t, w=w: conv(w, w // 2, 3, t) + conv(w // 2, w, 1, t) + conv(w, w, 1, t) for w in (2, 4)}
    encoder = (conv(1, 2, 3, samples) + residual[2](samples) + conv(2, 4, 4, samples // 2)
               + residual[4](samples // 2) + conv(4, 8, 4, frames) + lstm(8, frames) + conv(8, 4, 3, frames))
    decoder = (conv(4, 8, 3, frames) + lstm(8, frames) + conv_transpose(8, 4, 4, frames) + residual[4](samples // 2)
               + conv_transpose(4, 2, 4, samples // 2) + residual[2](samples) + conv(2, 1, 3, samples))
    nearest_code = frames * 4 * 4  # per codebook: each frame's 4-d latent against 4 codes
    wave = probe_signal(1.0, 1000)
    for n_q in (1, 2):
        macs = codec_macs(codec, str(n_q), wave)
        assert macs.encode == encoder + n_q * nearest_code
        assert macs.decode == decoder  # looking codes up and summing them is no multiply-accumulate
        assert macs.note.startswith("MACs = FLOPs / 2")


def dependency_right_context(model: Any, length: int = 256) -> int:
    """The right context measured on the modules themselves: for one hop of output samples, the last input sample
    whose gradient reaches it (plain layers with autograd; the quantizer, frame by frame, is left out)."""
    model.eval()
    hop = model.hop_length
    x = torch.randn(1, 1, length, requires_grad=True)
    y = model.decoder(model.encoder(x))
    worst = -(10**9)
    for t in range(length // 2, length // 2 + hop):
        (grad,) = torch.autograd.grad(y[0, 0, t], x, retain_graph=True)
        last = int(torch.nonzero(grad[0, 0]).max())
        worst = max(worst, last - t)
    return worst


@pytest.mark.parametrize("ratios", [(2, 2), (3, 2)])
def test_latency_of_a_causal_model_is_its_frame(ratios: tuple[int, ...]) -> None:
    model = tiny_model(causal=True, ratios=ratios)
    latency = seanet_latency(model)
    assert (latency.frame, latency.lookahead) == (model.hop_length, 0)
    assert dependency_right_context(model) == seanet_right_context(model) == model.hop_length - 1


@pytest.mark.parametrize("ratios", [(2, 2), (3, 2)])
def test_latency_of_a_non_causal_model_includes_its_right_context(ratios: tuple[int, ...]) -> None:
    model = tiny_model(causal=False, ratios=ratios)
    latency = seanet_latency(model)
    measured = dependency_right_context(model)
    assert latency.frame == model.hop_length and latency.lookahead is not None and latency.lookahead > 0
    assert latency.frame + latency.lookahead == measured + 1


def test_preset_latencies() -> None:
    causal = seanet_latency(codec_from_preset("encodec-tiny"))
    assert (causal.frame, causal.lookahead) == (320, 0)
    non_causal = seanet_latency(codec_from_preset("soundstream-tiny"))
    assert non_causal.frame == 320 and non_causal.lookahead is not None and non_causal.lookahead > 320


def test_streamed_output_after_latency_samples_of_input_equals_the_offline_decode() -> None:
    """Input arrives one frame at a time; each new frame is encoded from the input so far and streamed into the
    decoder. Once n samples are in, every output sample t with t + latency <= n must be final: equal to the offline
    round trip of the whole clip."""
    codec = NativeCodec("encodec-tiny", codec_from_preset("encodec-tiny").prepare_for_inference())
    latency = seanet_latency(codec.model)
    total = latency.frame + latency.lookahead
    assert codec.streaming().decode and total == 320
    hop, n_frames = codec.model.hop_length, 8
    wave = probe_signal(n_frames * hop / 16000, 16000)
    offline = codec.roundtrip(wave, "8").audio
    stream = codec.model.streaming_decoder()
    out = np.zeros(0, dtype=np.float32)
    for k in range(1, n_frames + 1):
        arrived = k * hop
        codes = codec.encode(wave[:arrived], "8")
        out = np.concatenate([out, stream(torch.from_numpy(codes[:, k - 1 : k])[None])[0, 0].numpy()])
        final = arrived - total + 1  # outputs 0 .. arrived - latency
        assert out.size >= final
        np.testing.assert_allclose(out[:final], offline[:final], atol=1e-5)


def test_card_of_a_classic_codec_says_macs_not_counted() -> None:
    pytest.importorskip("opuslib_next")
    from codecstudy.codec.catalog import open_codec

    card = codec_card(open_codec("opus:6kbps"), timing=False)
    (setting,) = card.settings
    assert setting.macs_encode_per_s is None and setting.macs_decode_per_s is None
    assert setting.macs_note.startswith("not counted")
    assert (setting.latency.frame_samples, setting.latency.lookahead_samples) == (320, 104)
    assert setting.latency.total_ms == pytest.approx(26.5) and "OPUS_GET_LOOKAHEAD" in setting.latency.source
    assert setting.measured_bps == pytest.approx(6000, rel=0.01) and card.parameters is None
    assert setting.tokens_per_s is None and card.streaming.encode
    (row,) = card_rows([card])
    assert tuple(row) == ROW_FIELDS and row["codec"] == "opus:6kbps" and row["macs_encode_per_s"] is None


@pytest.fixture
def quick_timing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(card_module, "RTF_SECONDS", (0.25,))
    monkeypatch.setattr(card_module, "REPEATS", 1)
    monkeypatch.setattr(card_module, "BITRATE_SECONDS", 2.0)


def test_codec_info_card_prints_a_table(capsys: pytest.CaptureFixture[str], quick_timing: None) -> None:
    assert main(["codec", "info", "encodec-tiny", "--card", "--settings", "1,8"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = next(line for line in lines if line.startswith("setting"))
    columns = header.split("  ")
    for name in ("nominal kbps", "measured kbps", "tokens/s", "bits/token", "latency samples", "MMACs/s enc",
                 "MMACs/s dec", "RTF 0.25 s enc / dec"):
        assert name in header
    rows = {line.split()[0]: line for line in lines[lines.index(header) + 2 :]}
    assert set(rows) == {"1", "8"} and len(columns) > 8
    assert "320 + 0 = 20 ms" in rows["8"] and " 400 " in rows["8"] and " 3.2 " in rows["8"]
    assert any(line.startswith("streaming:") and "decode yes" in line for line in lines)
    assert any(line.startswith("measured on:") and "load average" in line for line in lines)


def test_codec_info_json_carries_the_fields(capsys: pytest.CaptureFixture[str], quick_timing: None) -> None:
    assert main(["codec", "info", "soundstream-tiny", "--json", "--settings", "4"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert card["kind"] == "native" and card["sample_rate"] == 16000 and card["frame_rate"] == 50
    assert card["parameters"]["total"] == card["parameters"]["encoder"] + card["parameters"]["decoder"]
    assert card["streaming"] == {"encode": False, "decode": False, "reason": card["streaming"]["reason"]}
    (setting,) = card["settings"]
    assert setting["setting"] == "4" and setting["n_q"] == 4 and setting["nominal_bps"] == 1600
    assert setting["measured_bps"] == pytest.approx(1600) and setting["tokens_per_s"] == 200
    assert setting["bits_per_token"] == 8
    assert setting["latency"]["frame_samples"] == 320 and setting["latency"]["lookahead_samples"] > 0
    assert setting["macs_encode_per_s"] > setting["macs_decode_per_s"] > 0
    (rtf,) = setting["rtf"]
    assert rtf["seconds"] == 0.25 and rtf["encode"] > 0 and rtf["decode"] > 0
    assert card["measured_on"]["torch_threads"] == 1 and "cpu" in card["measured_on"]


def test_unknown_codec_is_one_line_naming_the_kinds(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["codec", "info", "nope", "--card"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "opus" in err and "mimi" in err and "soundstream-tiny" in err
    assert "espnet:PATH" in err


def test_cards_of_a_checkpoint_and_an_espnet_model(tmp_path) -> None:  # noqa: ANN001 - pytest's tmp_path
    from helpers.espnet import espnet_state, small_model, write_exp

    from codecstudy.codec.card import open_for_card
    from codecstudy.codec.registry import save_codec

    save_codec(tmp_path / "codec.pt", codec_from_preset("encodec-tiny"))
    folder = write_exp(tmp_path / "exp", espnet_state(small_model()))
    for name, frame in ((str(tmp_path / "codec.pt"), 320), (f"espnet:{folder}", 8)):
        card = codec_card(open_for_card(name), ["1"], timing=False)
        (setting,) = card.settings
        assert setting.latency.frame_samples == frame and setting.latency.lookahead_samples is not None
        assert setting.macs_encode_per_s and setting.macs_decode_per_s and card.parameters
        assert setting.measured_bps == pytest.approx(setting.nominal_bps, rel=0.01)
