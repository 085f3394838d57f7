"""The one codec interface over codecstudy's own models: settings are codebook counts, results equal the model's."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from codecstudy.codec.catalog import adapter_kind, load_codec, open_codec
from codecstudy.codec.interface import parse_rate
from codecstudy.errors import CodecStudyError


def test_a_preset_opens_as_a_native_codec_with_one_setting_per_codebook_count() -> None:
    codec = open_codec("soundstream-tiny")
    model = load_codec("soundstream-tiny")
    assert codec.kind == "native" and codec.has_tokens
    assert [s.n_q for s in codec.settings()] == list(range(1, model.n_codebooks + 1))
    assert codec.setting("2").nominal_bps == model.bitrate(2)
    assert codec.sample_rate == model.sample_rate and codec.frame_rate == model.frame_rate
    assert codec.delay_samples("1") == 0
    with pytest.raises(CodecStudyError, match="offers: 1, 2"):
        codec.setting("99")


def test_round_trips_equal_the_model_and_count_the_packed_codes() -> None:
    codec = open_codec("soundstream-tiny")
    model = load_codec("soundstream-tiny").prepare_for_inference()
    x = (0.1 * np.random.default_rng(0).standard_normal(5000)).astype(np.float32)
    trips = codec.roundtrip_many(x, ["1", "2"])
    wave = torch.from_numpy(x).view(1, 1, -1)
    for n_q in (1, 2):
        codes = model.encode(wave, n_q=n_q)
        assert np.array_equal(trips[str(n_q)].codes, codes[0].numpy())
        expected = model.decode(codes, lengths=[x.size])[0, 0].numpy()
        assert np.allclose(trips[str(n_q)].audio, expected, atol=1e-6)
        frames = model.frames_for(x.size)
        bits = frames * n_q * int(np.ceil(np.log2(model.codebook_size)))
        assert trips[str(n_q)].n_bytes == -(-bits // 8)


def test_batch_encoding_equals_clip_by_clip() -> None:
    codec = open_codec("soundstream-tiny")
    rng = np.random.default_rng(1)
    clips = [(0.1 * rng.standard_normal(n)).astype(np.float32) for n in (3000, 4321, 800)]
    batch = codec.encode_batch(clips, "2")
    for clip, codes in zip(clips, batch):
        assert np.array_equal(codes, codec.encode(clip, "2"))


def test_names_route_to_adapters_or_to_codecstudy_models(tmp_path, monkeypatch) -> None:
    assert adapter_kind("opus:6kbps") == "opus"
    assert adapter_kind("soundstream-tiny") is None
    assert adapter_kind("espnet:/some/exp") is None  # ESPnet models are codecstudy models (catalog.load_codec)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "opus").write_bytes(b"")  # a file called like a kind is a checkpoint path
    assert adapter_kind("opus") is None


@pytest.mark.parametrize(("text", "bps"), [("6kbps", 6000), ("6k", 6000), ("3.2kbps", 3200), ("700", 700),
                                           ("24khz", None), ("x", None)])
def test_parse_rate(text: str, bps: float | None) -> None:
    assert parse_rate(text) == bps
