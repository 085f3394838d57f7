from __future__ import annotations

import pytest
import torch

from codecstudy.codec.presets import preset_config
from codecstudy.codec.registry import build_codec, codec_from_preset
from codecstudy.errors import CodecStudyError

TINY = ["soundstream-tiny", "encodec-tiny", "dac-tiny"]
SMALL = ["soundstream-small", "encodec-small", "dac-small"]


@pytest.mark.parametrize("name", TINY + SMALL)
def test_shapes_lengths_and_properties(name: str, noise) -> None:
    model = codec_from_preset(name)
    assert (model.sample_rate, model.hop_length, model.frame_rate) == (16000, 320, 50.0)
    assert model.bitrate(8) == 50 * 8 * (8 if model.codebook_size == 256 else 10)
    lengths = torch.tensor([4000, 1000])
    wave = noise(2, 4000)
    model.train()
    out = model(wave, lengths)
    assert out.recon.shape == (2, 1, 4000)
    assert out.codes.shape[0] == 2 and out.codes.shape[2] == 13  # ceil(4000 / 320)
    assert out.frame_lengths.tolist() == [13, 4]
    assert set(out.losses) == {"commitment", "codebook", "quantization"}
    assert all(v.dim() == 0 for v in out.losses.values())
    assert float(out.recon[1, 0, 1000:].detach().abs().sum()) == 0.0
    assert out.latent.shape == (2, model.config.seanet.dimension, 13)
    model.eval()
    codes = model.encode(wave, lengths, n_q=3)
    assert codes.shape == (2, 3, 13) and codes.dtype == torch.int64
    assert int(codes[1, :, 4:].abs().sum()) == 0
    assert model.decode(codes, lengths).shape == (2, 1, 4000)
    assert model.decode(codes).shape == (2, 1, 13 * 320)


def test_paper_preset_shapes(noise) -> None:
    model = codec_from_preset("soundstream-paper").eval()
    assert model.n_codebooks == 32 and model.codebook_size == 1024 and model.bitrate(8) == 4000
    with torch.inference_mode():
        codes = model.encode(noise(1, 8000), n_q=8)
        assert codes.shape == (1, 8, 25)
        assert model.decode(codes).shape == (1, 1, 8000)


@pytest.mark.parametrize("name", TINY)
def test_batch_with_lengths_gives_the_codes_of_clips_alone(name: str, noise) -> None:
    model = codec_from_preset(name).prepare_for_inference()
    lengths = [6400, 3100, 650, 320, 100]
    clips = [noise(1, n, seed=i)[0, 0] for i, n in enumerate(lengths)]
    batch = torch.zeros(len(clips), 1, max(lengths))
    for i, clip in enumerate(clips):
        batch[i, 0, : len(clip)] = clip
    batch[2, 0, 650:] = 5.0  # garbage past an item's length must not matter
    codes = model.encode(batch, torch.tensor(lengths))
    decoded = model.decode(codes, torch.tensor(lengths))
    for i, clip in enumerate(clips):
        alone = model.encode(clip.view(1, 1, -1))
        assert torch.equal(codes[i, :, : alone.shape[-1]], alone[0]), f"item {i}"
        wave = model.decode(alone, torch.tensor([len(clip)]))
        assert torch.allclose(decoded[i, :, : len(clip)], wave[0], atol=1e-5)


@pytest.mark.parametrize("overrides", [[], ["seanet.pad_mode=reflect", "seanet.lstm_layers=2"]])
def test_causal_streaming_decode_equals_offline(overrides: list[str], noise) -> None:
    model = codec_from_preset("encodec-tiny", overrides).prepare_for_inference()
    codes = model.encode(noise(2, 40 * 320))
    offline = model.decode(codes)
    stream = model.streaming_decoder()
    chunks, pos = [], 0
    for size in [8, 1, 3, 2, 10, 16]:  # the first chunk is long enough for reflect padding
        chunk = codes[..., pos : pos + size]
        out = stream(chunk)
        assert out.shape[-1] == chunk.shape[-1] * model.hop_length
        chunks.append(out)
        pos += size
    assert pos == 40
    assert torch.allclose(torch.cat(chunks, dim=-1), offline, atol=1e-5)


def test_streaming_needs_a_causal_codec_and_reflect_needs_a_long_first_chunk() -> None:
    with pytest.raises(ValueError, match="causal"):
        codec_from_preset("soundstream-tiny").streaming_decoder()
    model = codec_from_preset("encodec-tiny", ["seanet.pad_mode=reflect"]).eval()
    with pytest.raises(ValueError, match="first chunk"):
        model.streaming_decoder()(torch.zeros(1, 2, 1, dtype=torch.long))


def test_determinism_under_a_seed(noise) -> None:
    a, b = codec_from_preset("soundstream-tiny"), codec_from_preset("soundstream-tiny")
    assert a.identity_hash() == b.identity_hash()
    other = codec_from_preset("soundstream-tiny", ["seed=1"])
    assert other.identity_hash() != a.identity_hash()
    wave = noise(2, 3200)
    outs = []
    for model in (a, b):
        torch.manual_seed(5)
        model.train()
        outs.append(model(wave))
    assert torch.equal(outs[0].recon, outs[1].recon)
    assert torch.equal(outs[0].codes, outs[1].codes)
    assert torch.equal(outs[0].n_q, outs[1].n_q)


def test_prepare_for_inference_keeps_identity_and_output(noise) -> None:
    model = codec_from_preset("dac-tiny").eval()
    wave = noise(1, 3200)
    before, identity = model.decode(model.encode(wave)), model.identity_hash()
    model.prepare_for_inference()
    assert model.identity_hash() == identity
    assert torch.allclose(model.decode(model.encode(wave)), before, atol=1e-5)


def test_gradient_from_each_layer_commitment_reaches_the_encoder(noise) -> None:
    model = codec_from_preset("soundstream-tiny", ["quantizer.kmeans_init=false"]).train()
    first_conv = model.encoder.layers[0].conv.parametrizations.weight.original1
    wave = noise(2, 1600)
    for k in range(model.n_codebooks):
        model.zero_grad()
        out = model(wave, n_q=model.n_codebooks)
        out.layer_losses["commitment"][k].backward()
        assert first_conv.grad is not None and float(first_conv.grad.abs().sum()) > 0, f"layer {k}"


def test_invalid_inputs_are_rejected() -> None:
    model = codec_from_preset("soundstream-tiny").eval()
    with pytest.raises(ValueError, match=r"\[batch, 1, samples\]"):
        model.encode(torch.zeros(2, 100))
    with pytest.raises(ValueError, match="lengths"):
        model.encode(torch.zeros(1, 1, 100), torch.tensor([200]))
    with pytest.raises(ValueError, match="codebooks"):
        model.decode(torch.zeros(1, 9, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="0..255"):
        model.decode(torch.full((1, 2, 4), 256))
    with pytest.raises(CodecStudyError, match="factorized"):
        ema = preset_config("soundstream-tiny").quantizer
        build_codec(preset_config("dac-tiny").model_copy(update={"quantizer": ema}))
