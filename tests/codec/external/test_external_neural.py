"""Pretrained neural codecs through their own packages, built with random weights (no hub here): a round trip
of speech, batch codes equal clip codes, nested codes, loading real weights from a local file, one-line errors.

Slow (several seconds per model on 2 cores): ``make test-extra``, which installs the packages (``make codecs``).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers.evalsignals import speech

from codecstudy import audio
from codecstudy.codec.catalog import hub_models, open_codec
from codecstudy.codec.interface import MissingPackageError
from codecstudy.errors import CodecStudyError
from codecstudy.hub import GITHUB_RELEASE, HUGGING_FACE, TORCH_HUB

NEURAL = {  # name with random weights -> (module to import, setting to check)
    "encodec:24khz:random": ("encodec", "6kbps"),
    "dac:16khz:random": ("dac", "4"),
    "snac:24khz:random": ("snac", "0.98kbps"),
    "mimi:random": ("moshi", "8"),
}


@pytest.fixture(autouse=True)
def _fast_cpu():
    import torch

    torch.set_flush_denormal(True)  # random weights make denormals; the scorer flushes them too
    yield
    torch.set_flush_denormal(False)


def _opened(name: str):
    if importlib.util.find_spec(NEURAL[name][0]) is None:  # no import: encodec and dac need the torchaudio stub
        pytest.skip("make codecs installs the neural codec packages")
    return open_codec(name)


def _speech(rate: int, seconds: float = 1.0) -> np.ndarray:
    x = audio.resample(speech().astype(np.float32), 16000, rate).astype(np.float32)
    return x[: int(seconds * rate)]


@pytest.mark.slow
@pytest.mark.parametrize("name", list(NEURAL))
def test_round_trip_batch_codes_and_bitrate(name: str) -> None:
    codec = _opened(name)
    setting = NEURAL[name][1]
    x = _speech(codec.sample_rate)
    rt = codec.roundtrip(x, setting)
    assert rt.audio.shape == x.shape and np.all(np.isfinite(rt.audio))
    assert rt.measured_bps(x.size, codec.sample_rate) == pytest.approx(codec.setting(setting).nominal_bps, rel=0.10)
    # decode(encode(x)) is the round trip
    codes = codec.encode(x, setting)
    assert np.allclose(codec.decode(codes, setting, x.size), rt.audio, atol=1e-5)
    # batch codes equal clip codes, for equal and unequal lengths
    half = x[: x.size // 2]
    clips = [half, x[: x.size // 5], half[::-1].copy()]
    for batch, alone in zip(codec.encode_batch(clips, setting), [codec.encode(c, setting) for c in clips]):
        for a, b in zip(batch if isinstance(batch, list) else [batch], alone if isinstance(alone, list) else [alone]):
            assert np.array_equal(a, b)
    assert codec.delay_samples(setting) is None  # not stated by these packages: the scorer calibrates it


@pytest.mark.slow
@pytest.mark.parametrize("name", ["encodec:24khz:random", "dac:16khz:random", "mimi:random"])
def test_residual_codes_nest(name: str) -> None:
    codec = _opened(name)
    assert codec.nested_codes
    settings = [s for s in codec.settings() if s.n_q][:3]
    x = _speech(codec.sample_rate, 0.5)
    widest = codec.encode(x, settings[-1].name)
    for s in settings[:-1]:
        assert np.array_equal(codec.encode(x, s.name), widest[: s.n_q])


@pytest.mark.slow
def test_encodec_and_mimi_load_weights_from_a_local_file(tmp_path: Path) -> None:
    import torch

    random = _opened("encodec:24khz:random")
    torch.save(random.model.state_dict(), tmp_path / "encodec.th")
    loaded = open_codec(f"encodec:24khz:{tmp_path / 'encodec.th'}:6kbps")
    x = _speech(24000, 0.5)
    assert np.array_equal(loaded.encode(x, "6kbps"), random.encode(x, "6kbps"))
    assert str(tmp_path) in loaded.weights()

    from safetensors.torch import save_file

    mimi = _opened("mimi:random")
    save_file({k: v.contiguous() for k, v in mimi.model.state_dict().items()}, str(tmp_path / "mimi.safetensors"))
    x = _speech(24000, 0.5)
    assert np.array_equal(open_codec(f"mimi:{tmp_path / 'mimi.safetensors'}").encode(x, "4"), mimi.encode(x, "4"))


@pytest.mark.slow
def test_snac_loads_a_local_folder(tmp_path: Path) -> None:
    import json

    import torch

    from codecstudy.codec.external.snac import VARIANTS

    random = _opened("snac:24khz:random")
    (tmp_path / "config.json").write_text(json.dumps(VARIANTS["24khz"]))
    torch.save(random.model.state_dict(), tmp_path / "pytorch_model.bin")
    loaded = open_codec(f"snac:{tmp_path}")
    x = _speech(24000, 0.5)
    for a, b in zip(loaded.encode(x, "0.98kbps"), random.encode(x, "0.98kbps")):
        assert np.array_equal(a, b)


def test_a_missing_package_names_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in ("encodec", "snac", "moshi.models.loaders"):
        monkeypatch.setitem(sys.modules, module, None)
    for name, hint in (("encodec:24khz:random", "make codecs"), ("snac:24khz:random", "'snac' extra"),
                       ("mimi:random", "make codecs")):
        with pytest.raises(MissingPackageError) as info:
            open_codec(name)
        assert hint in str(info.value) and "\n" not in str(info.value)


@pytest.mark.slow
def test_bad_parts_list_what_the_codec_takes() -> None:
    _opened("snac:24khz:random")
    with pytest.raises(CodecStudyError, match="model variants: 24khz, 32khz, 44khz"):
        open_codec("snac:24khz:random:extra")
    with pytest.raises(CodecStudyError, match="offers: 0.98kbps"):
        open_codec("snac:24khz:random:6kbps")


def test_published_weights_are_declared_without_opening_the_codec(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """What ``study fetch`` gets for a baseline: the published weights, from where each package downloads them;
    random weights and local files download nothing. No package is imported (mimi's constants come from moshi)."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(Path, "home", lambda: tmp_path / "home")
    declared = {name: [(m.hub, m.hub_id) for m in hub_models(name)] for name in (
        "encodec:24khz:6kbps", "dac:16khz:4", "snac:24khz", "snac:32khz:someone/snac-tuned", "encodec:24khz:random",
        "mimi:random", f"dac:16khz:{tmp_path}", "opus:6kbps")}
    assert declared == {
        "encodec:24khz:6kbps": [(TORCH_HUB, "https://dl.fbaipublicfiles.com/encodec/v0/encodec_24khz-d7cc33bc.th")],
        "dac:16khz:4": [(GITHUB_RELEASE, "descriptinc/descript-audio-codec:0.0.5")],
        "snac:24khz": [(HUGGING_FACE, "hubertsiuzdak/snac_24khz")],
        "snac:32khz:someone/snac-tuned": [(HUGGING_FACE, "someone/snac-tuned")],
        "encodec:24khz:random": [], "mimi:random": [], f"dac:16khz:{tmp_path}": [], "opus:6kbps": [],
    }
    (encodec,), (dac,) = hub_models("encodec:24khz"), hub_models("dac:16khz")
    assert not encodec.is_cached() and not dac.is_cached()
    (tmp_path / "torch" / "hub" / "checkpoints").mkdir(parents=True)
    (tmp_path / "torch" / "hub" / "checkpoints" / "encodec_24khz-d7cc33bc.th").write_bytes(b"w")
    (tmp_path / "home" / ".cache" / "descript" / "dac").mkdir(parents=True)
    (tmp_path / "home" / ".cache" / "descript" / "dac" / "weights_16khz_8kbps_0.0.5.pth").write_bytes(b"w")
    assert encodec.is_cached() and dac.is_cached()
    with pytest.raises(CodecStudyError, match="codec snac:24khz:a:b: unexpected 'b' \\(model variants: 24khz"):
        hub_models("snac:24khz:a:b")
    if importlib.util.find_spec("moshi") is not None:
        assert [(m.hub, m.hub_id) for m in hub_models("mimi:8")] == [(HUGGING_FACE, "kyutai/moshiko-pytorch-bf16")]
