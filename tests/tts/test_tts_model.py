"""FastSpeech2 token model: length regulator, shapes, and that a tiny batch can be over-fitted."""

from __future__ import annotations

import torch

from codecstudy.tts.config import ModelConfig
from codecstudy.tts.model import FastSpeech2Tokens, length_regulate, phoneme_average, tts_losses

SMALL = ModelConfig(dim=32, heads=2, encoder_layers=1, decoder_layers=1, ff_dim=64, ff_kernel=3, dropout=0.0,
                    predictor_dim=32, aligner_dim=32, n_q=3)


def test_length_regulate_repeats_each_state() -> None:
    x = torch.arange(6, dtype=torch.float32).view(1, 3, 2).repeat(2, 1, 1)
    out, lengths = length_regulate(x, torch.tensor([[2, 0, 3], [1, 1, 0]]))
    assert lengths.tolist() == [5, 2] and out.shape == (2, 5, 2)
    assert out[0, :, 0].tolist() == [0, 0, 4, 4, 4]
    assert out[1, :, 0].tolist() == [0, 2, 0, 0, 0]  # zero past the item's length


def test_phoneme_average_uses_weights() -> None:
    path = torch.tensor([[[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]])
    values = torch.tensor([[2.0, 4.0, 9.0]])
    assert phoneme_average(path, values).tolist() == [[3.0, 9.0]]
    assert phoneme_average(path, values, torch.tensor([[0.0, 1.0, 0.0]])).tolist() == [[4.0, 0.0]]


def _batch(seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    text_lengths = torch.tensor([6, 4])
    frame_lengths = torch.tensor([20, 13])
    ids = torch.randint(1, 10, (2, 6), generator=gen) * (torch.arange(6)[None] < text_lengths[:, None])
    return {
        "ids": ids,
        "text_lengths": text_lengths,
        "mels": torch.randn(2, 8, 20, generator=gen),
        "pitch": torch.randn(2, 20, generator=gen),
        "voiced": (torch.rand(2, 20, generator=gen) > 0.3).float(),
        "energy": torch.randn(2, 20, generator=gen),
        "frame_lengths": frame_lengths,
        "speakers": torch.tensor([0, 1]),
        "languages": torch.tensor([0, 0]),
        "codes": torch.randint(0, 16, (2, 3, 20), generator=gen),
    }


def test_forward_and_inference_shapes() -> None:
    torch.manual_seed(0)
    model = FastSpeech2Tokens(SMALL, n_symbols=10, codebook_size=16, n_mels=8, n_speakers=2)
    b = _batch()
    codes = b.pop("codes")
    out = model(**b)
    assert out.logits.shape == (2, 3, 20, 16)
    assert out.durations.sum(1).tolist() == [20, 13] and (out.durations[0] >= 1).all()
    losses = tts_losses(out, codes, b["frame_lengths"], b["text_lengths"])
    assert losses["accuracy"].shape == (3,) and all(torch.isfinite(v).all() for v in losses.values())
    model.eval()
    codes, lengths, durations = model.infer(b["ids"], b["text_lengths"], b["speakers"])
    assert codes.shape[:2] == (2, 3) and codes.shape[2] == int(lengths.max())
    assert lengths.tolist() == durations.sum(1).tolist() and (durations[1, 4:] == 0).all()
    assert int(codes.max()) < 16 and (codes[1, :, int(lengths[1]):] == 0).all()


def test_tiny_batch_overfits() -> None:
    torch.manual_seed(0)
    model = FastSpeech2Tokens(SMALL, n_symbols=10, codebook_size=16, n_mels=8, n_speakers=2)
    b = _batch(1)
    codes = b.pop("codes")
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = None
    for step in range(200):
        out = model(**b, prior=step < 50)
        losses = tts_losses(out, codes, b["frame_lengths"], b["text_lengths"])
        loss = losses["ce"] + losses["align"] + 0.1 * (losses["duration"] + losses["pitch"] + losses["energy"])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        first = float(losses["ce"].detach()) if first is None else first
    assert first > 2.5  # log(16) = 2.77 at the start
    assert float(losses["ce"].detach()) < 0.2
    assert float(losses["accuracy"].min()) > 0.95
