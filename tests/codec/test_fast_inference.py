"""The inference kernels in codecstudy.codec.seanet must compute what the plain layers compute, in every
configuration."""

from __future__ import annotations

import itertools
import warnings

import pytest
import torch

from codecstudy.codec.config import SEANetConfig
from codecstudy.codec.registry import codec_from_preset
from codecstudy.codec.seanet import ResidualUnit, SConv1d, SConvTranspose1d, fast_kernels_active, kernels


def _both(module: torch.nn.Module, *args: torch.Tensor, monkeypatch: pytest.MonkeyPatch) -> tuple:
    with torch.no_grad():
        monkeypatch.setattr(kernels, "FAST_INFERENCE", False)
        plain = module(*args)
        monkeypatch.setattr(kernels, "FAST_INFERENCE", True)
        fast = module(*args)
    return plain, fast


CONV_CASES = list(
    itertools.product(
        [True, False],
        ["reflect", "constant"],
        [(7, 1, 1), (3, 1, 2), (3, 1, 9), (1, 1, 1), (4, 2, 1), (10, 5, 1), (16, 8, 1), (5, 3, 1)],
    )
)


@pytest.mark.parametrize("causal,mode,shape", CONV_CASES)
def test_conv_without_padding_copy_matches(causal: bool, mode: str, shape: tuple, monkeypatch) -> None:
    kernel, stride, dilation = shape
    conv = SConv1d(3, 5, kernel, stride=stride, dilation=dilation, causal=causal, pad_mode=mode)
    for frames in (40, 41, 97):
        x = torch.randn(2, 3, stride * frames)
        plain, fast = _both(conv, x, monkeypatch=monkeypatch)
        assert fast.shape == plain.shape
        torch.testing.assert_close(fast, plain, rtol=0, atol=1e-6)


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("kernel,stride", [(4, 2), (16, 8), (10, 5), (3, 2), (7, 3), (3, 3), (1, 1)])
def test_polyphase_transposed_conv_matches(causal: bool, kernel: int, stride: int, monkeypatch) -> None:
    up = SConvTranspose1d(4, 3, kernel, stride, causal=causal, norm="weight_norm")
    for frames in (1, 2, 33):
        x = torch.randn(2, 4, frames)
        plain, fast = _both(up, x, monkeypatch=monkeypatch)
        assert fast.shape == plain.shape == (2, 3, frames * stride)
        torch.testing.assert_close(fast, plain, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "overrides",
    [
        {},  # EnCodec/SoundStream: ELU, kernel 3, 1x1 shortcut, reflect
        {"causal": True, "pad_mode": "constant"},
        {"activation": "snake", "residual_kernel_size": 7, "true_skip": True, "compress": 1, "pad_mode": "constant"},
    ],
)
@pytest.mark.parametrize("dilation", [1, 3])
def test_blocked_residual_unit_matches(overrides: dict, dilation: int, monkeypatch) -> None:
    cfg = SEANetConfig(**overrides)
    unit = ResidualUnit(8, dilation, cfg)
    monkeypatch.setattr(kernels, "RESIDUAL_BLOCK", 37)  # many blocks, the last one short
    x = torch.randn(2, 8, 250)
    original = x.clone()
    plain, fast = _both(unit, x, monkeypatch=monkeypatch)
    torch.testing.assert_close(fast, plain, rtol=1e-5, atol=1e-6)
    lengths = torch.tensor([250, 120])  # ragged batches take the unblocked fast path
    plain, fast = _both(unit, x, lengths, monkeypatch=monkeypatch)
    torch.testing.assert_close(fast, plain, rtol=1e-5, atol=1e-6)
    assert torch.equal(x, original)  # the unit never writes into its input


@pytest.mark.parametrize("name", ["soundstream-tiny", "encodec-tiny", "dac-tiny"])
def test_codec_gives_the_same_codes_and_audio_with_fast_kernels(name: str, noise, monkeypatch) -> None:
    model = codec_from_preset(name).prepare_for_inference()
    monkeypatch.setattr(kernels, "RESIDUAL_BLOCK", 1000)
    wave = noise(2, 16000)
    lengths = torch.tensor([16000, 9000])
    monkeypatch.setattr(kernels, "FAST_INFERENCE", False)
    codes = model.encode(wave, lengths)
    audio = model.decode(codes, lengths)
    monkeypatch.setattr(kernels, "FAST_INFERENCE", True)
    assert torch.equal(model.encode(wave, lengths), codes)
    torch.testing.assert_close(model.decode(codes, lengths), audio, rtol=1e-5, atol=1e-5)
    whole = model.encode(wave)  # no lengths: blocked residual units
    monkeypatch.setattr(kernels, "FAST_INFERENCE", False)
    assert torch.equal(model.encode(wave), whole)


def test_fast_kernels_only_without_autograd_and_tracing() -> None:
    assert not fast_kernels_active()  # gradients recorded: training must see the plain layers
    with torch.no_grad():
        assert fast_kernels_active()
    with torch.inference_mode():
        assert fast_kernels_active()
    conv = SConv1d(2, 2, 3)
    seen: list[bool] = []

    def probe(module: torch.nn.Module, args: tuple) -> None:
        seen.append(fast_kernels_active())

    conv.register_forward_pre_hook(probe)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # trace deprecation and tracer warnings
        torch.jit.trace(conv, (torch.randn(1, 2, 16),), check_trace=False)
    assert seen == [False]  # exports trace the plain graph


def test_polyphase_weights_follow_weight_changes(monkeypatch) -> None:
    up = SConvTranspose1d(4, 3, 8, 4, causal=True, norm="none")
    x = torch.randn(1, 4, 10)

    def check() -> None:
        plain, fast = _both(up, x, monkeypatch=monkeypatch)
        torch.testing.assert_close(fast, plain, rtol=1e-5, atol=1e-6)

    check()
    check()  # second call: the cached rearrangement
    with torch.no_grad():
        up.convtr.weight.mul_(2.0)  # in place, as an optimizer step or load_state_dict does
        up.convtr.bias.zero_()
    check()
    up.convtr.weight = torch.nn.Parameter(torch.randn_like(up.convtr.weight))  # replaced
    check()
    up.double()  # moved: new storage
    x = x.double()
    check()
