from __future__ import annotations

import math

import pytest
import torch

from codecstudy.codec import quantize
from codecstudy.codec.config import QuantizerConfig
from codecstudy.codec.quantize import (
    CodebookUsage,
    EMACodebook,
    ResidualVectorQuantizer,
)


def _clustered(batch: int = 8, dim: int = 4, frames: int = 64, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    centres = 3 * torch.randn(6, dim, generator=gen)
    pick = torch.randint(6, (batch * frames,), generator=gen)
    x = centres[pick] + 0.5 * torch.randn(batch * frames, dim, generator=gen)
    return x.view(batch, frames, dim).transpose(1, 2).contiguous()


def test_error_falls_as_codebooks_are_added() -> None:
    torch.manual_seed(0)
    rvq = ResidualVectorQuantizer(4, QuantizerConfig(n_codebooks=4, codebook_size=16, kmeans_iters=20, dropout="none"))
    data = _clustered()
    rvq.train()
    for step in range(5):
        rvq(_clustered(seed=step), n_q=4)
    rvq.eval()
    errors = []
    for n_q in range(1, 5):
        recon = rvq.decode(rvq.encode(data, n_q))
        errors.append(float(((recon - data) ** 2).mean()))
    assert all(a > b for a, b in zip(errors, errors[1:])), errors
    assert errors[-1] < 0.2 * float((data**2).mean())


def test_ema_update_matches_hand_computation() -> None:
    cfg = QuantizerConfig(codebook_size=2, ema_decay=0.5, epsilon=1e-5, kmeans_init=False, dead_code_threshold=0)
    book = EMACodebook(1, cfg)
    book.embed.copy_(torch.tensor([[0.0], [10.0]]))
    book.embed_avg.copy_(torch.tensor([[0.0], [10.0]]))
    book.cluster_size.copy_(torch.tensor([1.0, 1.0]))
    x = torch.tensor([[1.0], [2.0], [9.0]])
    book.ema_update(x, torch.tensor([0, 0, 1]))
    # cluster sizes 0.5*1 + 0.5*[2, 1] = [1.5, 1.0]; sums 0.5*[0, 10] + 0.5*[3, 9] = [1.5, 9.5]
    assert torch.allclose(book.cluster_size, torch.tensor([1.5, 1.0]))
    assert torch.allclose(book.embed_avg, torch.tensor([[1.5], [9.5]]))
    n, eps = 2.5, 1e-5
    smoothed = [(c + eps) / (n + 2 * eps) * n for c in (1.5, 1.0)]
    expected = torch.tensor([[1.5 / smoothed[0]], [9.5 / smoothed[1]]])
    assert torch.allclose(book.embed, expected, atol=1e-6)
    assert torch.allclose(book.embed, torch.tensor([[1.0], [9.5]]), atol=1e-4)


def test_forward_assigns_nearest_and_updates_only_valid_frames() -> None:
    cfg = QuantizerConfig(codebook_size=2, ema_decay=0.5, kmeans_init=False, dead_code_threshold=0)
    book = EMACodebook(1, cfg).train()
    book.embed.copy_(torch.tensor([[0.0], [10.0]]))
    book.embed_avg.copy_(book.embed)
    residual = torch.tensor([[[1.0, 2.0, 9.0, 100.0]]])  # the last frame is padding
    quantized, codes, commitment, _, _ = book(residual, torch.tensor([[True, True, True, False]]))
    assert codes.tolist() == [[0, 0, 1, 1]]
    assert torch.allclose(commitment, torch.tensor((1 + 4 + 1) / 3))
    assert torch.allclose(book.embed, torch.tensor([[1.0], [9.5]]), atol=1e-4)  # 100.0 never counted


def test_dead_codes_are_replaced_by_batch_vectors() -> None:
    torch.manual_seed(0)
    cfg = QuantizerConfig(codebook_size=8, kmeans_init=False, dead_code_threshold=1.0, dead_code_mode="count")
    book = EMACodebook(2, cfg).train()
    book.embed.copy_(torch.randn(8, 2) + 50.0)  # far from the data: nothing is used, all codes are dead
    book.embed_avg.copy_(book.embed)
    book.cluster_size.fill_(0.5)
    x = torch.randn(1, 2, 40)
    _, _, _, _, replaced = book(x, None)
    assert replaced == 8
    rows = x[0].t()
    for code in book.embed:
        assert bool(((rows - code).abs().sum(dim=1) == 0).any())
    assert bool((book.cluster_size >= 2.0).all())  # revived codes get time to be used


def test_kmeans_init_runs_on_the_first_training_batch_only(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = quantize.kmeans

    def spy(x: torch.Tensor, k: int, iters: int):
        calls.append(x.shape[0])
        return real(x, k, iters)

    monkeypatch.setattr(quantize, "kmeans", spy)
    rvq = ResidualVectorQuantizer(4, QuantizerConfig(n_codebooks=2, codebook_size=8, kmeans_iters=3, dropout="none"))
    rvq.eval()
    rvq(_clustered(batch=2))
    assert calls == []  # evaluation never initialises
    rvq.train()
    rvq(_clustered(batch=2), frame_lengths=torch.tensor([64, 10]))
    assert calls == [74, 74]  # one k-means per layer, on valid frames only
    assert all(bool(layer.initialized) for layer in rvq.layers)
    rvq(_clustered(batch=2, seed=3))
    assert len(calls) == 2


@pytest.mark.parametrize("kind", ["ema", "factorized"])
def test_every_layer_loss_reaches_the_input(kind: str) -> None:
    torch.manual_seed(0)
    extra = {"codebook_dim": 3} if kind == "factorized" else {"kmeans_init": False}
    cfg = QuantizerConfig(kind=kind, n_codebooks=4, codebook_size=16, dropout="none", **extra)
    rvq = ResidualVectorQuantizer(6, cfg)
    rvq.train()
    for k in range(4):
        z = torch.randn(2, 6, 10, requires_grad=True)
        out = rvq(z, n_q=4)
        out.layer_commitment[k].backward()
        assert z.grad is not None and float(z.grad.abs().sum()) > 0, f"layer {k} loss does not reach the encoder"


def test_decoder_gradient_reaches_input_once_through_ema_ste() -> None:
    rvq = ResidualVectorQuantizer(3, QuantizerConfig(n_codebooks=3, codebook_size=8, kmeans_init=False)).train()
    z = torch.randn(1, 3, 5, requires_grad=True)
    out = rvq(z, n_q=3)
    out.quantized.sum().backward()
    assert torch.allclose(z.grad, torch.ones_like(z))


def test_quantizer_dropout_reaches_every_count_including_the_last() -> None:
    torch.manual_seed(0)
    rvq = ResidualVectorQuantizer(2, QuantizerConfig(n_codebooks=5, codebook_size=4, dropout="batch"))
    seen = {int(rvq.sample_n_q(3)[0]) for _ in range(300)}
    assert seen == {1, 2, 3, 4, 5}
    items = ResidualVectorQuantizer(2, QuantizerConfig(n_codebooks=5, codebook_size=4, dropout="item"))
    draws = items.sample_n_q(2000)
    assert set(draws.tolist()) == {1, 2, 3, 4, 5}
    cfg = QuantizerConfig(n_codebooks=5, codebook_size=4, dropout="item", dropout_probability=0.5)
    half = ResidualVectorQuantizer(2, cfg)
    assert 0.5 < float((half.sample_n_q(2000) == 5).float().mean()) < 0.7  # 0.5 + 0.5 / 5
    chosen = ResidualVectorQuantizer(2, QuantizerConfig(n_codebooks=8, codebook_size=4, dropout_choices=[2, 8]))
    assert {int(chosen.sample_n_q(1)[0]) for _ in range(100)} == {2, 8}


def test_item_dropout_masks_unused_layers_per_item() -> None:
    torch.manual_seed(0)
    cfg = QuantizerConfig(kind="factorized", codebook_dim=2, n_codebooks=3, codebook_size=8, dropout="none")
    rvq = ResidualVectorQuantizer(4, cfg).train()
    z = torch.randn(2, 4, 6)
    out = rvq(z, n_q=torch.tensor([1, 3]))
    assert out.codes.shape == (2, 3, 6)
    with torch.no_grad():
        first = rvq.layers[0].lookup(out.codes[:1, 0])
    assert torch.allclose(out.quantized[:1], first, atol=1e-5)
    assert out.usage.counts[2].sum() == 6  # layer 3 counted for item 2 only


def test_usage_statistics() -> None:
    uniform = CodebookUsage(torch.tensor([[5, 5, 5, 5], [20, 0, 0, 0]]))
    assert torch.allclose(uniform.perplexity(), torch.tensor([4.0, 1.0], dtype=torch.float64))
    assert torch.allclose(uniform.entropy_bits(), torch.tensor([2.0, 0.0], dtype=torch.float64))
    summary = (uniform + CodebookUsage(torch.tensor([[1, 0, 0, 0]]))).summary()
    assert summary["used/q1"] == 0.25 and math.isclose(summary["perplexity/q1"], 1.0)


def test_factorized_lookup_is_cosine() -> None:
    cfg = QuantizerConfig(kind="factorized", codebook_dim=2, n_codebooks=1, codebook_size=2)
    rvq = ResidualVectorQuantizer(2, cfg)
    layer = rvq.layers[0]
    with torch.no_grad():
        layer.codebook.copy_(torch.tensor([[100.0, 0.0], [0.0, 0.1]]))
        z_e = torch.tensor([[[0.1], [1.0]]])  # nearer to code 0 in L2, aligned with code 1
    assert layer._nearest_projected(z_e).item() == 1
