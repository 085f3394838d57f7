"""Aligner: MAS recovers known durations; the jointly trainable aligner learns them from synthetic frames."""

from __future__ import annotations

import torch

from codecstudy.tts.aligner import Aligner, durations_from_path, forward_sum_loss, monotonic_alignment_search


def _known(durations: list[list[int]], noise: float, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    n = max(len(d) for d in durations)
    t = max(sum(d) for d in durations)
    lp = torch.full((len(durations), n, t), -4.0)
    for b, ds in enumerate(durations):
        pos = 0
        for i, d in enumerate(ds):
            lp[b, i, pos : pos + d] = 0.0
            pos += d
    lp = lp + noise * torch.randn(lp.shape, generator=gen)
    return lp, torch.tensor([len(d) for d in durations]), torch.tensor([sum(d) for d in durations])


def test_mas_recovers_durations_exactly_under_noise() -> None:
    truth = [[3, 1, 4, 2, 5, 1], [2, 6, 1]]
    lp, tl, fl = _known(truth, noise=0.8)
    path = monotonic_alignment_search(lp, tl, fl)
    durations = durations_from_path(path)
    assert durations[0].tolist() == truth[0]
    assert durations[1, :3].tolist() == truth[1] and durations[1, 3:].sum() == 0
    # one phoneme per valid frame, nothing past the end
    assert torch.equal(path.sum(1)[1, :9], torch.ones(9)) and path[1, :, 9:].sum() == 0


def test_mas_is_monotonic_and_gives_every_phoneme_a_frame() -> None:
    gen = torch.Generator().manual_seed(1)
    lp = torch.randn(3, 7, 20, generator=gen)
    tl, fl = torch.tensor([7, 5, 7]), torch.tensor([20, 12, 7])
    path = monotonic_alignment_search(lp, tl, fl)
    for b in range(3):
        d = durations_from_path(path)[b, : tl[b]]
        assert (d >= 1).all() and int(d.sum()) == int(fl[b])
        index = path[b, :, : fl[b]].argmax(0)
        assert (index[1:] - index[:-1] >= 0).all() and (index[1:] - index[:-1] <= 1).all()


def test_forward_sum_loss_prefers_the_right_alignment() -> None:
    lp, tl, fl = _known([[2, 3, 2]], noise=0.0)
    good = forward_sum_loss(torch.log_softmax(lp * 3, 1), tl, fl)
    reversed_lp = torch.log_softmax(lp.flip(1) * 3, 1)
    assert float(good) < 0.5 < float(forward_sum_loss(reversed_lp, tl, fl))


def test_aligner_learns_known_durations_from_synthetic_frames() -> None:
    """Phonemes have prototype feature vectors; frames are noisy copies repeated for known durations. After a
    short training with the forward-sum loss alone, MAS on the aligner's output recovers the durations."""
    torch.manual_seed(0)
    vocab, feat_dim, batch = 12, 16, 16
    prototypes = torch.randn(vocab, feat_dim) * 2
    gen = torch.Generator().manual_seed(0)

    def sample() -> tuple[torch.Tensor, ...]:
        n = torch.randint(4, 9, (batch,), generator=gen)
        ids = torch.zeros(batch, 8, dtype=torch.long)
        durs = torch.zeros(batch, 8, dtype=torch.long)
        for b in range(batch):
            # no phoneme twice in a row: the boundary between two identical phonemes is not observable
            steps = torch.randint(1, vocab - 1, (int(n[b]),), generator=gen)
            ids[b, : n[b]] = (steps.cumsum(0) % (vocab - 1)) + 1
            durs[b, : n[b]] = torch.randint(1, 7, (int(n[b]),), generator=gen)
        frames = durs.sum(1)
        feats = torch.zeros(batch, feat_dim, int(frames.max()))
        for b in range(batch):
            seq = prototypes[ids[b, : n[b]]].repeat_interleave(durs[b, : n[b]], dim=0).T
            feats[b, :, : seq.shape[1]] = seq + 0.3 * torch.randn(seq.shape, generator=gen)
        return ids, n, durs, feats, frames

    embedding = torch.nn.Embedding(vocab, 16)
    aligner = Aligner(16, feat_dim, channels=32)
    params = list(embedding.parameters()) + list(aligner.parameters())
    optimizer = torch.optim.Adam(params, lr=3e-3)
    for _ in range(150):
        ids, n, _durs, feats, frames = sample()
        log_prob = aligner(embedding(ids).transpose(1, 2), feats, n)
        loss = forward_sum_loss(log_prob, n, frames)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    ids, n, durs, feats, frames = sample()
    with torch.no_grad():
        log_prob = aligner(embedding(ids).transpose(1, 2), feats, n)
    found = durations_from_path(monotonic_alignment_search(log_prob, n, frames))
    mask = torch.arange(8)[None] < n[:, None]
    error = (found - durs).abs()[mask].float()
    assert float(error.mean()) < 0.3, float(error.mean())
    assert float((error <= 1).float().mean()) > 0.95
