"""ESPnet's own SoundStream (the paper's recipe, random weights) against the converted codecstudy model.

Needs the ``espnet`` package (``make test-extra`` installs it with ``--no-deps`` plus its small real deps), so it is
marked slow. The ESPnet model is saved the way ESPnet's trainer saves it (``codec.generator.*``,
``codec.discriminator.*``, ``codec.mel_loss.*`` in one ``*.pth`` beside ``config.yaml``) and loaded back through
``load_codec("espnet:FOLDER")``.

What is equal and what is not (measured here, asserted below):

* Whole multiples of the hop (320 samples): encoder output, codes at 2/4/8/16/32 kbps and decoded audio agree to
  float rounding; the decoded audio is not shifted (sample t of ours is sample t of ESPnet's).
* Other lengths: ESPnet pads inside every conv (each strided conv reflect-pads its own input up to a whole window),
  codecstudy zero-pads the waveform once to whole frames. Both give ``ceil(T / 320)`` frames; the encoder outputs
  differ only in the last frames (the ones whose receptive field reaches past the input), every earlier frame agrees
  to float rounding. Decoding is a function of the codes alone, so equal codes give equal audio (``F * 320``
  samples from both; ``decode(codes, lengths=[T])`` trims ours to T).
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest
import torch
import yaml

from codecstudy.codec.catalog import load_codec
from codecstudy.codec.espnet import espnet_codebooks
from codecstudy.codec.presets import preset_config

pytestmark = pytest.mark.slow
# Skipped only where espnet is not installed at all; an installed espnet that fails to import is an error.
if importlib.util.find_spec("espnet2") is None:
    pytest.skip("needs espnet (make test-extra installs it)", allow_module_level=True)

RECIPE = Path(__file__).parent / "data" / "espnet_soundstream4_large_v1.1.yaml"
HOP = 320
BANDWIDTHS = [2, 4, 8, 16, 32]  # kbps
TOL = 1e-5


def _test_audio(samples: int, seed: int) -> torch.Tensor:
    """Speech-like level: smoothed noise with a slow envelope, peak about 0.5."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(samples + 15, generator=g)
    x = torch.nn.functional.avg_pool1d(x.view(1, 1, -1), 16, 1).view(-1)[:samples]
    t = torch.arange(samples) / 16000
    x = x * (0.6 + 0.4 * torch.sin(2 * torch.pi * 3 * t))
    return (0.5 * x / x.abs().max()).view(1, 1, -1)


@pytest.fixture(scope="module")
def espnet_model():
    """ESPnet's SoundStream from the recipe, random weights, codebooks filled as after training."""
    from espnet2.gan_codec.soundstream.soundstream import SoundStream  # imported here: not at collection time

    conf = yaml.safe_load(RECIPE.read_text())["codec_conf"]
    torch.manual_seed(1234)
    model = SoundStream(**conf).eval()
    gen = model.generator
    with torch.no_grad():
        # A random encoder's frames barely differ (spread 0.01 around a common vector of norm 0.67, mostly from
        # its biases), so codes would be chosen by distance differences near float rounding, and either side could
        # pick either code. Trained encoders spread their frames; so does this one: no biases, and every weight-norm
        # gain doubled (frame spread and mean both about 70).
        calibration = _test_audio(96_000, seed=99)
        for name, param in gen.encoder.named_parameters():
            if name.endswith("bias") or ".bias_" in name:
                param.zero_()
            elif name.endswith("original0"):
                param.mul_(2.0)
        # As after k-means: each code is a frame of the residual the previous codebooks leave, moved by noise as
        # large as the frames' spread.
        residual = gen.encoder(calibration)[0].t()  # [frames, 512]
        for layer in gen.quantizer.vq.layers:
            book = layer._codebook
            pick = torch.randint(residual.shape[0], (book.embed.shape[0],))
            spread = residual - residual.mean(0)
            book.embed.copy_(residual.mean(0) + spread[pick] + spread.std(0) * torch.randn_like(book.embed))
            book.cluster_size.copy_(torch.rand_like(book.cluster_size) * 10 + 1)
            book.embed_avg.copy_(book.embed * book.cluster_size[:, None])
            book.inited.fill_(1.0)
            residual = residual - book.decode(book.encode(residual))
    return model


@pytest.fixture(scope="module")
def exp_folder(espnet_model, tmp_path_factory) -> Path:
    """An ESPnet exp folder: config.yaml + <N>epoch.pth holding the whole model's state dict."""
    folder = tmp_path_factory.mktemp("exp") / "codec_test_soundstream4_large_v1.1"
    folder.mkdir()
    shutil.copy(RECIPE, folder / "config.yaml")
    torch.save({f"codec.{k}": v for k, v in espnet_model.state_dict().items()}, folder / "360epoch.pth")
    return folder


@pytest.fixture(scope="module")
def converted(exp_folder):
    return load_codec(f"espnet:{exp_folder}")


def test_checkpoint_holds_what_espnet_writes(exp_folder: Path, converted) -> None:
    state = torch.load(exp_folder / "360epoch.pth", weights_only=True)
    groups = {k.split(".")[1] for k in state}
    assert groups == {"generator", "discriminator", "mel_loss"}
    generator = [k for k in state if k.startswith("codec.generator.")]
    assert len(generator) == len(converted.state_dict()) == 396
    assert sum(state[k].numel() for k in generator) == 53_290_882
    paper = preset_config("soundstream-paper")
    assert converted.config.seanet == paper.seanet and converted.config.quantizer == paper.quantizer


def _codebooks(model, bw: float) -> int:
    cfg = model.config
    return espnet_codebooks(bw, sample_rate=cfg.sample_rate, ratios=cfg.seanet.ratios,
                            bins=cfg.quantizer.codebook_size, n_q=cfg.quantizer.n_codebooks)


def test_codes_and_audio_match_espnet_for_whole_frames(espnet_model, converted) -> None:
    gen = espnet_model.generator
    x = _test_audio(24_000, seed=1)  # 75 frames
    with torch.no_grad():
        latent = gen.encoder(x)
        assert float((latent - converted.encoder(x)).abs().max()) <= TOL * float(latent.abs().max())
        for bw in BANDWIDTHS:
            n_q = _codebooks(converted, bw)
            assert n_q == {2: 4, 4: 8, 8: 16, 16: 32, 32: 32}[bw]
            theirs = gen.encode(x, target_bw=bw)  # [n_q, B, F]
            ours = converted.encode(x, n_q=n_q)  # [B, n_q, F]
            assert theirs.shape == (n_q, 1, 75) and ours.shape == (1, n_q, 75)
            assert torch.equal(theirs.permute(1, 0, 2), ours), f"codes differ at {bw} kbps"
            assert min(len(torch.unique(row)) for row in ours[0]) >= 10  # every codebook picks many codes
            if bw == 32:  # ESPnet asks for 64 codebooks and gets 32: the same codes as 16 kbps
                continue
            audio_theirs, audio_ours = gen.decode(theirs), converted.decode(ours)
            assert audio_theirs.shape == audio_ours.shape == (1, 1, 24_000)
            diff = float((audio_theirs - audio_ours).abs().max())
            assert diff < TOL, f"{bw} kbps: audio max diff {diff:.2e}"
            assert float(audio_ours.abs().max()) > 1e-2  # a real signal, not silence


def test_other_lengths_differ_only_in_the_last_frames(espnet_model, converted) -> None:
    """ESPnet pads inside each conv, we pad the waveform: only frames near the end can differ."""
    gen = espnet_model.generator
    samples = 23_777  # 74 * 320 + 97: 75 frames
    x = _test_audio(24_000, seed=2)[..., :samples]
    with torch.no_grad():
        theirs = gen.encoder(x)
        ours = converted.encoder(torch.nn.functional.pad(x, (0, 24_000 - samples)))
        assert theirs.shape == ours.shape == (1, 512, 75)
        per_frame = (theirs - ours).abs().amax(dim=(0, 1)) / float(theirs.abs().max())
        differing = torch.nonzero(per_frame > TOL).flatten().tolist()
        assert differing, "expected ESPnet's in-conv padding to change the last frames"
        first = min(differing)
        assert first >= 75 - 10, f"frames {differing} differ; only the last few may"
        for bw in (2, 4, 16):
            codes_theirs = gen.encode(x, target_bw=bw)
            codes_ours = converted.encode(x, n_q=_codebooks(converted, bw))
            assert codes_theirs.shape[-1] == codes_ours.shape[-1] == 75
            assert torch.equal(codes_theirs.permute(1, 0, 2)[..., :first], codes_ours[..., :first])
        # Decoding depends on the codes alone: ESPnet's codes decode to the same audio in both (F * 320 samples).
        for bw in (4, 16):
            codes = gen.encode(x, target_bw=bw)
            audio_theirs = gen.decode(codes)
            audio_ours = converted.decode(codes.permute(1, 0, 2))
            assert audio_theirs.shape == audio_ours.shape == (1, 1, 24_000)
            assert float((audio_theirs - audio_ours).abs().max()) < TOL
            trimmed = converted.decode(codes.permute(1, 0, 2), lengths=[samples])
            assert torch.equal(trimmed, audio_ours[..., :samples])


def test_old_weight_norm_spelling_gives_the_same_model(exp_folder: Path, converted, tmp_path: Path) -> None:
    old = tmp_path / "codec_old_torch"
    old.mkdir()
    shutil.copy(exp_folder / "config.yaml", old / "config.yaml")
    state = torch.load(exp_folder / "360epoch.pth", weights_only=True)
    renamed = {k.replace("parametrizations.weight.original0", "weight_g")
               .replace("parametrizations.weight.original1", "weight_v"): v for k, v in state.items()}
    assert sum(k.endswith("weight_g") for k in renamed) > 100
    torch.save(renamed, old / "model.pth")
    again = load_codec(f"espnet:{old}/model.pth")
    assert again.identity_hash() == converted.identity_hash()
