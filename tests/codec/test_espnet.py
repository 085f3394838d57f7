"""ESPnet SoundStream checkpoints without ESPnet: config mapping, state-dict renaming, files, errors.

The state dicts here are written with ESPnet's key names (tests/helpers/espnet.py, independently of the converter's
rules) from a small random SoundStream; the comparison with ESPnet's own model code is
``test_espnet_equivalence.py`` (slow, needs the espnet package).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
import yaml
from helpers.espnet import espnet_state, small_config, small_model, write_exp
from helpers.fakehub import FakeHub

from codecstudy.cli import main
from codecstudy.codec.catalog import load_codec
from codecstudy.codec.espnet import codec_config_from_espnet, espnet_codebooks, hub_models, load_espnet_codec
from codecstudy.codec.models.soundstream import SoundStream
from codecstudy.codec.presets import preset_config
from codecstudy.errors import CodecStudyError

RECIPE = Path(__file__).parent / "data" / "espnet_soundstream4_large_v1.1.yaml"


@pytest.fixture
def source_model() -> SoundStream:
    return small_model()


def test_bandwidth_to_codebooks_as_espnet() -> None:
    rate = {"sample_rate": 16000, "ratios": [8, 5, 4, 2], "bins": 1024, "n_q": 32}
    assert [espnet_codebooks(bw, **rate) for bw in (2, 4, 8, 16, 32)] == [4, 8, 16, 32, 32]
    assert espnet_codebooks(None, **rate) == espnet_codebooks(0, **rate) == 32  # ESPnet: all codebooks
    assert espnet_codebooks(0.2, **rate) == 1 and espnet_codebooks(5.9, **rate) == 11  # floor, at least 1
    # ESPnet's frame rate is ceil(sr / hop): 24 kHz with hop 320 -> 75 Hz, 0.75 kbps per 1024-entry codebook
    assert espnet_codebooks(6, sample_rate=24000, ratios=[8, 5, 4, 2], bins=1024, n_q=32) == 8


def test_paper_recipe_maps_to_soundstream_paper() -> None:
    config = codec_config_from_espnet(yaml.safe_load(RECIPE.read_text()), name="x")
    paper = preset_config("soundstream-paper")
    assert config.seanet == paper.seanet and config.quantizer == paper.quantizer
    assert config.quantizer.dropout_choices == [4, 8, 16, 32, 32] and config.sample_rate == 16000


@pytest.mark.parametrize(
    ("edit", "key"),
    [
        (lambda d: d.update(codec="encodec"), "codec"),
        (lambda d: d["codec_conf"]["generator_params"].update(hidden_dim=128), "generator_params.hidden_dim"),
        (lambda d: d["codec_conf"]["generator_params"].update(encdec_activation="Snake"), "encdec_activation"),
        (lambda d: d["codec_conf"]["generator_params"].update(encdec_norm="spectral_norm"), "encdec_norm"),
        (lambda d: d["codec_conf"]["generator_params"].update(quantizer_codebook_dim=8), "quantizer_codebook_dim"),
        (lambda d: d["codec_conf"].update(use_snake=True), "codec_conf.use_snake"),
        (lambda d: d["codec_conf"]["generator_params"].update(decoder_final_activation="Sigmoid"),
         "decoder_final_activation"),
    ],
)
def test_config_that_does_not_map_names_its_key(tmp_path: Path, edit, key: str) -> None:
    data = small_config()
    edit(data)
    folder = write_exp(tmp_path / "exp", {}, data)
    with pytest.raises(CodecStudyError) as info:
        load_codec(f"espnet:{folder}")
    message = str(info.value)
    assert "\n" not in message and key in message and str(folder / "config.yaml") in message


def test_missing_generator_params_take_espnets_defaults() -> None:
    data = small_config()
    del data["codec_conf"]["generator_params"]
    with pytest.raises(CodecStudyError, match="hidden_dim: 128"):  # ESPnet's default, which does not map
        codec_config_from_espnet(data)


@pytest.mark.parametrize("old_weight_norm", [False, True], ids=["parametrizations", "weight_g-weight_v"])
def test_both_weight_norm_spellings_load_the_same_weights(tmp_path: Path, source_model, noise,
                                                          old_weight_norm: bool) -> None:
    folder = write_exp(tmp_path / "exp" / "codec_small", espnet_state(source_model, old_weight_norm))
    model = load_codec(f"espnet:{folder}")
    assert model.config.name == "espnet-codec_small"
    # 2000 frames/s x 4 bits = 8 kbps per codebook; 40 kbps asks for 5 of the 4 codebooks
    assert model.config.quantizer.dropout_choices == [1, 2, 4]
    theirs, ours = source_model.state_dict(), model.state_dict()
    assert theirs.keys() == ours.keys()
    for key in theirs:
        assert torch.equal(theirs[key], ours[key]), key
    assert model.identity_hash() == source_model.identity_hash()
    wave = noise(1, 1000)
    assert torch.equal(model.encode(wave, n_q=4), source_model.encode(wave, n_q=4))


def test_unexpected_key_names_the_key_and_file(tmp_path: Path, source_model) -> None:
    state = espnet_state(source_model)
    state["codec.generator.quantizer.vq.layers.0.project_in.weight"] = torch.zeros(8, 512)
    folder = write_exp(tmp_path / "exp", state)
    with pytest.raises(CodecStudyError) as info:
        load_codec(f"espnet:{folder}")
    message = str(info.value)
    assert message.startswith(str(folder / "10epoch.pth")) and "\n" not in message
    assert "unexpected key 'codec.generator.quantizer.vq.layers.0.project_in.weight'" in message


def test_wrong_shape_names_the_key_and_file(tmp_path: Path, source_model) -> None:
    state = espnet_state(source_model)
    key = "codec.generator.quantizer.vq.layers.1._codebook.embed"
    state[key] = torch.zeros(16, 256)
    folder = write_exp(tmp_path / "exp", state)
    with pytest.raises(CodecStudyError, match=re.escape(f"{folder / '10epoch.pth'}: key '{key}' has shape "
                                                        "(16, 256), expected (16, 512)")):
        load_codec(f"espnet:{folder}")


def test_missing_key_is_reported(tmp_path: Path, source_model) -> None:
    state = espnet_state(source_model)
    del state["codec.generator.decoder.model.0.conv.conv.bias"]
    with pytest.raises(CodecStudyError, match=r"missing key for 'decoder\.layers\.0\.conv\.bias'"):
        load_espnet_codec(str(write_exp(tmp_path / "exp", state)))


def test_folder_layouts(tmp_path: Path, source_model) -> None:
    state = espnet_state(source_model)
    # espnet_model_zoo's download folder: meta.yaml names the files
    root = tmp_path / "zoo"
    write_exp(root / "exp" / "codec_x", state, name="360epoch.pth")
    torch.save(state, root / "exp" / "codec_x" / "334epoch.pth")
    (root / "meta.yaml").write_text(yaml.safe_dump({
        "files": {"model_file": "exp/codec_x/360epoch.pth"},
        "yaml_files": {"train_config": "exp/codec_x/config.yaml"},
    }))
    assert load_codec(f"espnet:{root}").identity_hash() == source_model.identity_hash()
    # an exp folder with two checkpoints: name one
    with pytest.raises(CodecStudyError, match="several model files \\(334epoch.pth, 360epoch.pth\\); name one"):
        load_codec(f"espnet:{root / 'exp' / 'codec_x'}")
    assert load_codec(f"espnet:{root / 'exp' / 'codec_x' / '334epoch.pth'}").config.name == "espnet-codec_x"
    # a folder holding one exp folder somewhere below
    single = tmp_path / "single"
    write_exp(single / "exp" / "codec_y", state)
    assert load_codec(f"espnet:{single}").config.name == "espnet-codec_y"
    with pytest.raises(CodecStudyError, match="ESPnet model not found"):
        load_codec(f"espnet:{tmp_path / 'nowhere'}")
    # ESPnet's training checkpoint nests the model state dict
    torch.save({"model": state, "optimizers": []}, single / "exp" / "codec_y" / "10epoch.pth")
    assert load_codec(f"espnet:{single}").identity_hash() == source_model.identity_hash()


def test_python_tuples_in_config_are_read(tmp_path: Path, source_model) -> None:
    """ESPnet configs written with yaml.dump carry ``!!python/tuple`` tags (e.g. discriminator strides)."""
    folder = write_exp(tmp_path / "exp", espnet_state(source_model))
    text = yaml.safe_dump(small_config()) + "extra_strides: !!python/tuple [[1, 2], [2, 2]]\n"
    (folder / "config.yaml").write_text(text)
    assert load_codec(f"espnet:{folder}").identity_hash() == source_model.identity_hash()


def test_hub_name_is_downloaded_into_the_hub_cache_once(tmp_path: Path, source_model, monkeypatch) -> None:
    hub = FakeHub(tmp_path / "hf-cache", monkeypatch)
    served = write_exp(tmp_path / "served" / "exp" / "codec_en", espnet_state(source_model))
    hub.repos["espnet/mls-english_soundstream_16k"] = {
        "meta.yaml": yaml.safe_dump({"files": {"model_file": "exp/codec_en/10epoch.pth"},
                                     "yaml_files": {"train_config": "exp/codec_en/config.yaml"}}).encode(),
        **{f"exp/codec_en/{f.name}": f.read_bytes() for f in served.iterdir()},
    }
    (model,) = hub_models("espnet:espnet/mls-english_soundstream_16k")
    assert (model.hub_id, model.is_cached()) == ("espnet/mls-english_soundstream_16k", False)
    loaded = load_codec("espnet:espnet/mls-english_soundstream_16k")
    assert loaded.identity_hash() == source_model.identity_hash() and loaded.config.name == "espnet-codec_en"
    assert hub.calls == ["espnet/mls-english_soundstream_16k"] and model.is_cached()
    assert hub_models(f"espnet:{served}") == []  # a local folder downloads nothing


def test_hub_name_that_cannot_be_downloaded_is_one_line(tmp_path: Path, monkeypatch) -> None:
    FakeHub(tmp_path / "hf-cache", monkeypatch)  # serves nothing: as offline
    with pytest.raises(CodecStudyError) as info:
        load_codec("espnet:espnet/mls-english_soundstream_16k")
    message = str(info.value)
    assert "\n" not in message and "run `codecstudy study fetch STUDY` on a node with internet" in message
    assert message.startswith("espnet:espnet/mls-english_soundstream_16k: not in the hub cache and cannot be "
                              "downloaded (OSError: no network for espnet/mls-english_soundstream_16k)")
    monkeypatch.setitem(__import__("sys").modules, "huggingface_hub", None)
    with pytest.raises(CodecStudyError, match="needs huggingface_hub \\(pip install huggingface_hub"):
        load_codec("espnet:espnet/mls-english_soundstream_16k")


def test_cli_codec_info(tmp_path: Path, source_model, capsys) -> None:
    folder = write_exp(tmp_path / "exp" / "codec_small", espnet_state(source_model))
    assert main(["codec", "info", f"espnet:{folder}"]) == 0
    out = capsys.readouterr().out
    assert "espnet-codec_small (soundstream, non-causal)" in out and "sample rate:  16000 Hz" in out
    assert "codebooks:    4 x 16" in out


def test_unreadable_model_file_is_one_line(tmp_path: Path) -> None:
    folder = write_exp(tmp_path / "exp", {})
    (folder / "10epoch.pth").write_bytes(b"not a torch file")
    with pytest.raises(CodecStudyError) as info:
        load_codec(f"espnet:{folder}")
    message = str(info.value)
    assert message.startswith(f"{folder / '10epoch.pth'}: cannot read ESPnet model file (") and "\n" not in message
