"""Discriminators: output structure and shapes for awkward lengths, gradients, determinism, configs, presets."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from codecstudy.codec.discriminators import (
    CombinedDiscriminator,
    CombinedDiscriminatorConfig,
    MultiBandDiscriminator,
    MultiBandDiscriminatorConfig,
    MultiPeriodDiscriminator,
    MultiPeriodDiscriminatorConfig,
    MultiScaleSTFTDiscriminator,
    MultiScaleSTFTDiscriminatorConfig,
    MultiScaleWaveformDiscriminator,
    STFTDiscriminator,
    STFTDiscriminatorConfig,
    WaveformDiscriminatorConfig,
    build_discriminator,
    count_parameters,
    default_discriminator_config,
    parse_discriminator_config,
)


@pytest.fixture(autouse=True, scope="module")
def _single_thread():
    """Tiny tensors gain nothing from intra-op threads, and on a loaded 2-core machine OpenMP threads waiting for
    each other made this module 10x slower; restore the setting for the modules after this one."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


T = 3001  # odd, prime: not a multiple of any stride, hop or period
ARCHS = ("soundstream", "encodec", "dac")

TINY_MSD = WaveformDiscriminatorConfig(
    scales=3, channels=4, max_channels=16, kernel_sizes=(15, 21, 5, 3), downsample_scales=[4, 4, 1], groups=2
)
TINY_STFT = STFTDiscriminatorConfig(
    n_fft=128, hop_length=32, channels=4, channel_mults=[1, 2, 2], strides=[(2, 1), (2, 2), (1, 2)]
)
TINY_MSTFT = MultiScaleSTFTDiscriminatorConfig(n_ffts=[256, 128, 64], filters=4, dilations=[1, 2])
TINY_MPD = MultiPeriodDiscriminatorConfig(periods=[2, 3, 5, 7, 11], channels=[4, 8, 8])
TINY_MRD = MultiBandDiscriminatorConfig(fft_sizes=[256, 128], channels=4)


def _check_structure(outputs: list, batch: int) -> None:
    assert isinstance(outputs, list) and outputs
    for entry in outputs:
        logits, fmaps = entry
        assert logits.shape[0] == batch and logits.shape[1] == 1
        assert torch.isfinite(logits).all()
        assert isinstance(fmaps, list) and fmaps
        assert all(f.shape[0] == batch and torch.isfinite(f).all() for f in fmaps)


def test_waveform_msd_shapes() -> None:
    torch.manual_seed(0)
    out = MultiScaleWaveformDiscriminator(TINY_MSD)(torch.randn(2, 1, T))
    _check_structure(out, 2)
    lengths = [T, (T + 4 - 4) // 2 + 1]  # AvgPool1d(4, 2, padding=2)
    lengths.append((lengths[1] + 4 - 4) // 2 + 1)
    for (logits, fmaps), length in zip(out, lengths):
        assert fmaps[0].shape == (2, 4, length)
        assert logits.shape == (2, 1, -(-(-(-length // 4)) // 4))  # two stride-4 convs with same padding
        assert len(fmaps) == 1 + 3 + 1


def test_stft_discriminator_shapes_complex_and_real() -> None:
    torch.manual_seed(0)
    frames = T // 32 + 1
    for complex_convs in (True, False):
        cfg = TINY_STFT.model_copy(update={"complex_convs": complex_convs})
        out = STFTDiscriminator(cfg)(torch.randn(2, 1, T))
        _check_structure(out, 2)
        ((logits, fmaps),) = out
        # time strides 2, 2, 1 (kernel s + 2, padding (s + 2) // 2): 94 -> 48 -> 25 -> 25 frames
        expected = frames
        for s in (2, 2, 1):
            expected = (expected + 2 * ((s + 2) // 2) - (s + 2)) // s + 1
        assert logits.shape == (2, 1, expected)
        channels = fmaps[-1].shape[1]
        assert channels == (2 * 8 if complex_convs else 8)  # complex features carry real and imaginary halves
        if complex_convs:
            assert (logits >= 0).all()  # magnitude of the complex logit, as ESPnet


def test_multiscale_stft_shapes() -> None:
    torch.manual_seed(0)
    out = MultiScaleSTFTDiscriminator(TINY_MSTFT)(torch.randn(2, 1, T))
    _check_structure(out, 2)
    for (logits, fmaps), n_fft in zip(out, TINY_MSTFT.n_ffts):
        frames = 1 + (T - n_fft) // (n_fft // 4)  # center=False
        freq = n_fft // 2 + 1
        for _ in TINY_MSTFT.dilations:
            freq = (freq + 2 * 4 - 9) // 2 + 1
        assert logits.shape == (2, 1, frames, freq)
        assert len(fmaps) == 1 + len(TINY_MSTFT.dilations) + 1


def test_multi_period_shapes() -> None:
    torch.manual_seed(0)
    out = MultiPeriodDiscriminator(TINY_MPD)(torch.randn(2, 1, T))
    _check_structure(out, 2)
    for (logits, fmaps), period in zip(out, TINY_MPD.periods):
        rows = -(-T // period)
        for _ in range(len(TINY_MPD.channels) - 1):
            rows = (rows + 4 - 5) // 3 + 1
        assert logits.shape == (2, 1, rows, period)
        assert len(fmaps) == len(TINY_MPD.channels)


def test_multi_band_shapes() -> None:
    torch.manual_seed(0)
    out = MultiBandDiscriminator(TINY_MRD)(torch.randn(2, 1, T))
    _check_structure(out, 2)
    for (logits, fmaps), n_fft in zip(out, TINY_MRD.fft_sizes):
        n_bins = n_fft // 2 + 1
        frames = T // (n_fft // 4) + 1
        width = 0
        for lo, hi in TINY_MRD.bands:
            band = int(hi * n_bins) - int(lo * n_bins)
            for _ in range(3):
                band = (band + 8 - 9) // 2 + 1
            width += band
        assert logits.shape == (2, 1, frames, width)
        assert len(fmaps) == 5 * len(TINY_MRD.bands)


@pytest.mark.parametrize("arch", ARCHS)
def test_tiny_presets_run_on_awkward_lengths_and_pass_gradients(arch: str) -> None:
    torch.manual_seed(0)
    disc = build_discriminator(f"{arch}-tiny")
    assert count_parameters(disc) < 30_000
    for length in (T, 1777):
        wave = (0.1 * torch.randn(2, 1, length)).requires_grad_(True)
        out = disc(wave)
        _check_structure(out, 2)
        assert len(out) == len(disc.sub_names())
        sum(logits.sum() for logits, _ in out).backward()
        assert wave.grad is not None and torch.isfinite(wave.grad).all() and wave.grad.abs().sum() > 0


@pytest.mark.parametrize("arch", ARCHS)
def test_deterministic_under_seed_and_batch_independent(arch: str) -> None:
    wave = torch.randn(2, 1, 2000, generator=torch.Generator().manual_seed(1))
    torch.manual_seed(123)
    first = build_discriminator(f"{arch}-tiny")
    torch.manual_seed(123)
    second = build_discriminator(f"{arch}-tiny")
    for a, b in zip(first.state_dict().values(), second.state_dict().values()):
        assert torch.equal(a, b)
    with torch.no_grad():
        out_a, out_b, single = first(wave), second(wave), first(wave[:1])
    for (la, _), (lb, _), (ls, _) in zip(out_a, out_b, single):
        assert torch.equal(la, lb)
        torch.testing.assert_close(la[:1], ls, rtol=1e-4, atol=1e-5)  # no cross-item mixing in a batch


def test_architecture_defaults() -> None:
    kinds = {arch: [d.type for d in default_discriminator_config(arch).discriminators] for arch in ARCHS}
    assert kinds == {"soundstream": ["msd", "stft"], "encodec": ["mstft"], "dac": ["mpd", "mrd"]}
    assert [d.type for d in default_discriminator_config("dac", "tiny", with_msd=True).discriminators] == [
        "mpd",
        "mrd",
        "msd",
    ]
    assert default_discriminator_config("dac").peak_normalize
    assert not default_discriminator_config("soundstream").peak_normalize
    paper = default_discriminator_config("soundstream")
    assert paper.discriminators[0].channels == 128 and paper.discriminators[0].scales == 3
    assert paper.discriminators[1].n_fft == 1024 and paper.discriminators[1].hop_length == 256


def test_reference_parameter_counts() -> None:
    # EnCodec as shipped (3 scales, 32 filters): 0.28 M in the anchors note; DAC 24 kHz discriminator 42.52 M
    # (5 x MPD 8.22 M + 3 x MRD 0.47 M), measured there on the reference implementations.
    encodec = MultiScaleSTFTDiscriminator(MultiScaleSTFTDiscriminatorConfig(n_ffts=[1024, 2048, 512]))
    assert round(count_parameters(encodec) / 1e6, 2) == 0.28
    mrd_one = MultiBandDiscriminator(MultiBandDiscriminatorConfig(fft_sizes=[1024]))
    assert round(count_parameters(mrd_one) / 1e6, 2) == 0.47
    mpd_one = MultiPeriodDiscriminator(MultiPeriodDiscriminatorConfig(periods=[2]))
    assert round(count_parameters(mpd_one) / 1e6, 2) == 8.22
    assert round(count_parameters(build_discriminator("dac-paper")) / 1e6, 2) == 42.52


def test_peak_normalize_makes_the_adversary_gain_invariant() -> None:
    torch.manual_seed(0)
    disc = build_discriminator("dac-tiny")
    wave = 0.1 * torch.randn(1, 1, 2000) + 0.05
    with torch.no_grad():
        quiet, loud = disc(wave), disc(3.0 * wave)
    for (a, _), (b, _) in zip(quiet, loud):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_norm_options() -> None:
    for norm, marker in (("weight_norm", "original0"), ("spectral_norm", "original"), ("none", None)):
        disc = MultiPeriodDiscriminator(TINY_MPD.model_copy(update={"norm": norm}))
        keys = list(disc.state_dict())
        if marker is None:
            assert not any("parametrizations" in k for k in keys)
        else:
            assert any(k.endswith(marker) for k in keys)
        _check_structure(disc(torch.randn(1, 1, 500)), 1)


def test_build_accepts_every_config_form() -> None:
    forms = [
        "encodec-tiny",
        {"preset": "encodec-tiny"},
        TINY_MSTFT.model_dump(),
        [TINY_MSTFT.model_dump()],
        {"discriminators": [TINY_MSTFT.model_dump()]},
        TINY_MSTFT,
        CombinedDiscriminatorConfig(discriminators=[TINY_MSTFT]),
    ]
    for form in forms:
        disc = build_discriminator(form)
        assert isinstance(disc, CombinedDiscriminator)
        assert [d.type for d in disc.cfg.discriminators] == ["mstft"]
    dac_tiny = parse_discriminator_config({}, architecture="dac", size="tiny")
    assert dac_tiny == default_discriminator_config("dac", "tiny")
    encodec = parse_discriminator_config(None, architecture="encodec")
    assert encodec.discriminators[0].n_ffts == [1024, 2048, 512, 256, 128]


def test_combined_concatenates_in_order() -> None:
    torch.manual_seed(0)
    disc = build_discriminator([TINY_MPD.model_dump(), TINY_MRD.model_dump(), TINY_MSD.model_dump()])
    out = disc(torch.randn(1, 1, 1500))
    assert disc.sub_names() == [
        "mpd.2",
        "mpd.3",
        "mpd.5",
        "mpd.7",
        "mpd.11",
        "mrd.256",
        "mrd.128",
        "msd.0",
        "msd.1",
        "msd.2",
    ]
    assert len(out) == 10


@pytest.mark.parametrize(
    "bad",
    [
        {"type": "nope"},
        {"type": "mpd", "channel": [4]},  # typo: unknown keys are rejected
        {"type": "mrd", "fft_sizes": [16], "bands": [(0.0, 0.01), (0.01, 1.0)]},  # empty band
        {"type": "stft", "channel_mults": [1, 2], "strides": [(1, 2)]},
        {"preset": "dac", "size": "tiny"},
        [],
    ],
)
def test_invalid_configs_fail_loudly(bad: object) -> None:
    with pytest.raises((ValidationError, ValueError)):
        build_discriminator(bad)


def test_every_config_type_has_a_builder() -> None:
    from codecstudy.codec.discriminators.combined import BUILDERS
    from codecstudy.codec.discriminators.configs import DISCRIMINATOR_TYPES

    assert tuple(BUILDERS) == DISCRIMINATOR_TYPES


def test_rejects_non_mono_input() -> None:
    with pytest.raises(ValueError, match=r"\[B, 1, T\]"):
        build_discriminator("encodec-tiny")(torch.randn(2, 2, 1000))


def test_complex_conv_equals_a_true_complex_convolution() -> None:
    from codecstudy.codec.discriminators.stft import _ComplexConv2d

    torch.manual_seed(0)
    conv = _ComplexConv2d(3, 5, (3, 4), stride=(1, 2), padding=(1, 2), norm="none")
    with torch.no_grad():
        conv.bias.copy_(torch.randn(10))
    x = torch.randn(2, 6, 9, 11)  # 3 complex channels: real parts, then imaginary parts
    weight = torch.complex(conv.real.weight, conv.imag.weight)
    bias = torch.complex(conv.bias[:5], conv.bias[5:])
    expected = torch.nn.functional.conv2d(
        torch.complex(x[:, :3], x[:, 3:]), weight, bias, stride=(1, 2), padding=(1, 2)
    )
    got = conv(x)
    torch.testing.assert_close(got[:, :5], expected.real, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(got[:, 5:], expected.imag, rtol=1e-5, atol=1e-5)
