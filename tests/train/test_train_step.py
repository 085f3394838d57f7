"""One training step in isolation: G/D alternation, discriminator start, bf16 autocast path, schedule, workers."""

from __future__ import annotations

import math

import pytest
import torch
from helpers.trainsetup import TINY, write_corpus

from codecstudy.codec.presets import resolve_codec_config
from codecstudy.codec.quantize import EMACodebook
from codecstudy.codec.training_config import OptimizerConfig
from codecstudy.corpus.manifest import load_manifest
from codecstudy.train.data import AudioCache, CropDataset, CropSampler, crop_loader
from codecstudy.train.trainer import Trainer


def _trainer(tmp_path, *extra: str) -> Trainer:
    config = resolve_codec_config("soundstream-tiny", [*TINY, *extra])
    trainer = Trainer(config, data="-", out_dir=tmp_path, show_progress=False)
    torch.set_num_threads(1)
    return trainer


def _wave(batch: int = 2, samples: int = 4000) -> torch.Tensor:
    t = torch.arange(samples) / 16000
    return (0.3 * torch.sin(2 * math.pi * 180 * t) + 0.02 * torch.randn(batch, 1, samples)).float()


def test_discriminator_trains_only_from_its_start_step(tmp_path):
    trainer = _trainer(tmp_path, "train.discriminator_start=2")
    trainer.build()
    before = {k: v.clone() for k, v in trainer.gan.disc.state_dict().items()}
    terms, skipped = trainer.train_step(_wave(), 0)
    assert not skipped and "train/generator/mel" in terms
    assert "train/generator/adversarial" not in terms and "train/discriminator/total" not in terms
    assert all(torch.equal(before[k], v) for k, v in trainer.gan.disc.state_dict().items())
    terms, _ = trainer.train_step(_wave(), 2)
    for key in ("train/generator/adversarial", "train/generator/feature_matching", "train/discriminator/real",
                "train/discriminator/fake", "train/discriminator/total"):
        assert key in terms and math.isfinite(terms[key])
    assert any(not torch.equal(before[k], v) for k, v in trainer.gan.disc.state_dict().items())
    assert all(p.requires_grad for p in trainer.gan.disc.parameters())  # frozen only inside the generator step


def test_bf16_autocast_path_keeps_the_quantizer_in_float32(tmp_path):
    """On CUDA ``train.bf16`` autocasts; CPU autocast runs the same code path here."""
    # no quantizer dropout, so that every codebook is used (and k-means initialised) in the first step
    trainer = _trainer(tmp_path, "train.bf16=true", "train.discriminator_start=0", "quantizer.dropout_probability=0")
    trainer.amp_device = "cpu"
    trainer.build()
    for index in range(3):
        terms, skipped = trainer.train_step(_wave(), index)
        assert not skipped and math.isfinite(terms["train/generator/total"])
    books = [m for m in trainer.gan.model.modules() if isinstance(m, EMACodebook)]
    assert books and all(b.embed.dtype == torch.float32 and bool(b.initialized) for b in books)
    assert all(p.dtype == torch.float32 for p in trainer.gan.model.parameters())


def test_bf16_and_tf32_are_no_ops_on_cpu(tmp_path):
    trainer = _trainer(tmp_path, "train.bf16=true", "train.tf32=true")
    assert trainer.amp_device is None


def test_learning_rate_follows_the_step():
    per_epoch = OptimizerConfig(lr=2e-4, gamma=0.5, decay_every=100)
    assert [per_epoch.lr_factor(s) for s in (0, 99, 100, 250)] == [1.0, 1.0, 0.5, 0.25]
    assert OptimizerConfig(scheduler="constant").lr_factor(10**6) == 1.0


def test_learning_rate_is_applied_each_step(tmp_path):
    trainer = _trainer(tmp_path, "train.generator.gamma=0.5", "train.generator.decay_every=1",
                       "train.discriminator_start=100")
    trainer.build()
    trainer.train_step(_wave(), 3)
    assert trainer.gan.g_opt.param_groups[0]["lr"] == pytest.approx(1e-3 * 0.5**3)


def test_loader_workers_give_the_same_batches(tmp_path):
    clips = load_manifest(write_corpus(tmp_path / "corpus", clips=3))
    entries = AudioCache(tmp_path / "cache", 16000).build(clips, show_progress=False)
    dataset = CropDataset(entries, CropSampler(entries, 4000, batch_size=2, seed=5))
    alone = list(crop_loader(dataset, 3, 7, workers=0))
    with_workers = list(crop_loader(dataset, 3, 7, workers=2))
    assert len(alone) == 4 and all(torch.equal(a, b) for a, b in zip(alone, with_workers))


def test_reference_spectra_without_autograd_learn_the_same_weights(tmp_path, monkeypatch):
    """The mel and STFT losses transform the target under no_grad (half their backward cost); a few GAN steps
    with that path and with the former batched path (fake and real in one autograd graph) end with identical
    weights."""
    from codecstudy.codec.losses import reconstruction as losses

    batched = losses._fake_and_real

    def always_batched(transform, fake, real):
        return batched(transform, fake, real.detach().requires_grad_(True))

    def weights(folder, patch: bool):
        if patch:
            monkeypatch.setattr(losses, "_fake_and_real", always_batched)
        trainer = _trainer(folder, "train.discriminator_start=2", "loss.weights.stft=1.0")
        trainer.build()
        torch.manual_seed(5)
        waves = [_wave() for _ in range(4)]
        for index, wave in enumerate(waves):
            trainer.train_step(wave, index)
        monkeypatch.setattr(losses, "_fake_and_real", batched)
        return {**trainer.gan.model.state_dict(), **{f"d.{k}": v for k, v in trainer.gan.disc.state_dict().items()}}

    new, old = weights(tmp_path / "new", False), weights(tmp_path / "old", True)
    assert new.keys() == old.keys()
    for key in new:
        torch.testing.assert_close(new[key], old[key], rtol=0, atol=0, msg=key)
    fresh = _trainer(tmp_path / "init")
    fresh.build()
    assert any(not torch.equal(new[k], v) for k, v in fresh.gan.model.state_dict().items())  # the steps learned
