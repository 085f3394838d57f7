from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from codecstudy.codec.config import SEANetConfig
from codecstudy.codec.seanet import (
    SConv1d,
    SConvTranspose1d,
    SEANetDecoder,
    SEANetEncoder,
    fold_weight_norm,
    has_weight_norm,
    pad1d,
)


@pytest.mark.parametrize("size,left,right", [(10, 3, 3), (5, 4, 0), (7, 2, 5)])
def test_generic_reflect_matches_torch_where_torch_is_defined(size: int, left: int, right: int) -> None:
    x = torch.randn(2, 3, size)
    lengths = torch.tensor([size, size])
    assert torch.equal(pad1d(x, left, right, "reflect", lengths), F.pad(x, (left, right), mode="reflect"))


def test_reflect_with_lengths_pads_each_item_at_its_own_end() -> None:
    x = torch.randn(2, 1, 8)
    out = pad1d(x, 2, 2, "reflect", torch.tensor([8, 5]))
    assert torch.equal(out[1, :, : 5 + 4], F.pad(x[1:, :, :5], (2, 2), mode="reflect")[0])
    # Shorter than the pad: the reflection repeats instead of failing.
    assert pad1d(torch.ones(1, 1, 1), 3, 3, "reflect").shape[-1] == 7


def test_constant_pad_with_lengths_zeroes_past_the_end() -> None:
    x = torch.ones(2, 1, 6)
    out = pad1d(x, 1, 2, "constant", torch.tensor([6, 3]))
    assert out[1, 0].tolist() == [0, 1, 1, 1, 0, 0, 0, 0, 0]


@pytest.mark.parametrize("causal", [True, False])
def test_strided_conv_and_transpose_keep_exact_multiples(causal: bool) -> None:
    conv = SConv1d(2, 4, 10, stride=5, causal=causal)
    up = SConvTranspose1d(4, 2, 10, 5, causal=causal, norm="weight_norm")
    x = torch.randn(1, 2, 35)
    y = conv(x)
    assert y.shape == (1, 4, 7)
    assert up(y).shape == (1, 2, 35)


def test_causal_conv_ignores_the_future() -> None:
    conv = SConv1d(1, 1, 5, dilation=2, causal=True)
    x = torch.randn(1, 1, 20)
    y1 = conv(x)
    x2 = x.clone()
    x2[..., 12:] = 0
    assert torch.allclose(conv(x2)[..., :12], y1[..., :12])


def test_encoder_decoder_shapes_and_weight_norm_folding() -> None:
    cfg = SEANetConfig(channels=4, dimension=8, ratios=[4, 2], lstm_layers=1, n_residual_layers=2)
    enc, dec = SEANetEncoder(cfg).eval(), SEANetDecoder(cfg).eval()
    x = torch.randn(2, 1, 8 * 6)
    z = enc(x)
    assert z.shape == (2, 8, 6)
    y = dec(z)
    assert y.shape == (2, 1, 48)
    assert has_weight_norm(enc)
    assert fold_weight_norm(enc) > 0 and not has_weight_norm(enc)
    assert torch.allclose(enc(x), z, atol=1e-6)
