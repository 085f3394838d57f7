"""Losses on known inputs: zeros for identical signals, hand-computed adversarial values, weighted totals."""

from __future__ import annotations

import math

import pytest
import torch
from pydantic import ValidationError

from codecstudy.codec.discriminators import build_discriminator
from codecstudy.codec.losses import (
    DiscriminatorLoss,
    DiscriminatorLossConfig,
    FeatureMatchingConfig,
    GeneratorLoss,
    GeneratorLossConfig,
    LossWeights,
    MelLossConfig,
    MultiResolutionSTFTLoss,
    MultiScaleMelLoss,
    STFTLossConfig,
    default_loss_config,
    discriminator_adversarial_loss,
    feature_matching_loss,
    generator_adversarial_loss,
    waveform_l1,
)
from codecstudy.codec.spectral import log_mel


@pytest.fixture(autouse=True, scope="module")
def _single_thread():
    """Tiny tensors gain nothing from intra-op threads, and on a loaded 2-core machine OpenMP threads waiting for
    each other made this module 10x slower; restore the setting for the modules after this one."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


SR = 16000
SMALL_STFT = STFTLossConfig(fft_sizes=[256, 512], hop_sizes=[64, 128], win_lengths=[200, 512])


def _speechy(batch: int = 2, length: int = 8000, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(length) / SR
    tone = 0.3 * torch.sin(2 * math.pi * 220.0 * t) + 0.1 * torch.sin(2 * math.pi * 1870.0 * t)
    return (tone + 0.02 * torch.randn(batch, 1, length, generator=g)).float()


def test_identical_inputs_give_zero_reconstruction_losses() -> None:
    x = _speechy()
    assert waveform_l1(x, x.clone()).item() == 0.0
    assert MultiScaleMelLoss(MelLossConfig.espnet(), SR)(x, x.clone()).item() == 0.0
    assert MultiScaleMelLoss(MelLossConfig.dac(), SR)(x, x.clone()).item() == 0.0
    linear = MelLossConfig(linear_l1_weight=1.0, log_l2_weight=0.0, reduction="sum")
    assert MultiScaleMelLoss(linear, SR)(x, x.clone()).item() == 0.0
    assert MultiResolutionSTFTLoss(SMALL_STFT)(x, x.clone()).item() == 0.0


def test_waveform_l1_hand_computed_and_shape_checked() -> None:
    fake = torch.tensor([[[0.0, 1.0, -2.0, 0.5]]])
    real = torch.tensor([[[1.0, 1.0, 0.0, 0.0]]])
    assert waveform_l1(fake, real).item() == pytest.approx((1 + 0 + 2 + 0.5) / 4)
    with pytest.raises(ValueError, match="crop"):
        waveform_l1(fake, real[..., :3])


def test_mel_loss_increases_monotonically_with_noise() -> None:
    real = _speechy(batch=1, length=16000)
    noise = torch.randn(real.shape, generator=torch.Generator().manual_seed(5))
    for cfg in (MelLossConfig.espnet(), MelLossConfig.dac()):
        loss = MultiScaleMelLoss(cfg, SR)
        values = [loss(real + level * noise, real).item() for level in (0.0, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1)]
        assert values[0] == 0.0
        assert all(b > a for a, b in zip(values, values[1:])), values


def test_espnet_mel_loss_matches_its_definition_on_one_scale() -> None:
    real, fake = _speechy(seed=1), _speechy(seed=2)
    cfg = MelLossConfig(fft_sizes=[256])
    alpha = math.sqrt(256 - 1)
    lf = log_mel(fake, SR, 256, 64, n_mels=80, power=2.0, eps=1e-10)
    lr = log_mel(real, SR, 256, 64, n_mels=80, power=2.0, eps=1e-10)
    l1 = (lf - lr).abs().mean()
    l2 = (lf - lr).square().mean()
    expected = (l1 + alpha * l2) / (1.0 + alpha)
    torch.testing.assert_close(MultiScaleMelLoss(cfg, SR)(fake, real), expected)


def test_mel_reductions_relate_as_documented() -> None:
    real, fake = _speechy(seed=1), _speechy(seed=2)
    base = dict(fft_sizes=[128, 512], log_l2_weight=0.0)
    total = MultiScaleMelLoss(MelLossConfig(**base, reduction="sum"), SR)(fake, real)
    mean = MultiScaleMelLoss(MelLossConfig(**base, reduction="mean"), SR)(fake, real)
    weights = MultiScaleMelLoss(MelLossConfig(**base, reduction="weights"), SR)(fake, real)
    torch.testing.assert_close(mean, total / 2)
    torch.testing.assert_close(weights, total / 2)  # two scales with weight 1 each


def test_stft_loss_terms() -> None:
    real = _speechy()
    loss = MultiResolutionSTFTLoss(SMALL_STFT)
    sc, mag = loss.terms(2.0 * real, real)
    assert sc.item() == pytest.approx(1.0, rel=1e-3)  # ||2Y - Y|| / ||Y||
    assert mag.item() == pytest.approx(math.log(2.0), rel=1e-2)
    torch.testing.assert_close(loss(2.0 * real, real), sc + mag)


def test_adversarial_losses_hand_computed() -> None:
    half = [torch.full((2, 1, 5), 0.5), torch.full((2, 1, 3, 4), 0.5)]  # two sub-discriminators, all logits 0.5
    assert generator_adversarial_loss(half, "mse").item() == pytest.approx(2 * 0.25)
    assert generator_adversarial_loss(half, "mse", average=True).item() == pytest.approx(0.25)
    assert generator_adversarial_loss(half, "hinge").item() == pytest.approx(2 * 0.5)  # relu(1 - 0.5)
    assert generator_adversarial_loss(half, "hinge_linear").item() == pytest.approx(2 * -0.5)  # -mean(D)
    real, fake = discriminator_adversarial_loss(half, half, "mse")
    assert (real.item(), fake.item()) == pytest.approx((2 * 0.25, 2 * 0.25))
    real, fake = discriminator_adversarial_loss(half, half, "hinge", average=True)
    assert (real.item(), fake.item()) == pytest.approx((0.5, 1.5))  # relu(1 - 0.5), relu(1 + 0.5)

    mixed = [torch.tensor([2.0, -1.0, 0.0, 1.0])]
    assert generator_adversarial_loss(mixed, "mse").item() == pytest.approx((1 + 4 + 1 + 0) / 4)
    assert generator_adversarial_loss(mixed, "hinge").item() == pytest.approx((0 + 2 + 1 + 0) / 4)
    real, fake = discriminator_adversarial_loss(mixed, mixed, "hinge")
    assert real.item() == pytest.approx((0 + 2 + 1 + 0) / 4)
    assert fake.item() == pytest.approx((3 + 0 + 1 + 2) / 4)
    with pytest.raises(ValueError):
        generator_adversarial_loss(mixed, "wgan")  # type: ignore[arg-type]


def test_adversarial_losses_accept_discriminator_output_pairs() -> None:
    outputs = [(torch.full((1, 1, 4), 0.5), [torch.ones(1, 2, 4)])]
    assert generator_adversarial_loss(outputs).item() == pytest.approx(0.25)


def test_feature_matching_normalisation_and_reductions() -> None:
    real = [(torch.full((1, 1, 2), 1.0), [torch.full((1, 2, 3), 2.0), torch.full((1, 1, 4), -4.0)])]
    fake = [(torch.full((1, 1, 2), 0.0), [torch.full((1, 2, 3), 3.0), torch.full((1, 1, 4), -2.0)])]
    plain = FeatureMatchingConfig(include_logits=False)
    assert feature_matching_loss(fake, real, plain).item() == pytest.approx(1.0 + 2.0)
    normed = FeatureMatchingConfig(include_logits=False, normalize="mean_abs_real")
    assert feature_matching_loss(fake, real, normed).item() == pytest.approx(1.0 / 2.0 + 2.0 / 4.0)
    averaged = FeatureMatchingConfig(include_logits=False, normalize="mean_abs_real", average_over_layers=True)
    assert feature_matching_loss(fake, real, averaged).item() == pytest.approx(0.5)
    with_logits = FeatureMatchingConfig(include_logits=True)
    assert feature_matching_loss(fake, real, with_logits).item() == pytest.approx(1.0 + 2.0 + 1.0)
    two = FeatureMatchingConfig(include_logits=False, average_over_discriminators=True)
    assert feature_matching_loss(fake * 2, real * 2, two).item() == pytest.approx(3.0)


def test_feature_matching_does_not_train_on_real_features() -> None:
    real_map = torch.ones(1, 2, 3, requires_grad=True)
    fake_map = torch.zeros(1, 2, 3, requires_grad=True)
    loss = feature_matching_loss([(fake_map.sum().reshape(1), [fake_map])], [(real_map.sum().reshape(1), [real_map])])
    loss.backward()
    assert real_map.grad is None and fake_map.grad is not None


def _weighted_sum(loss: GeneratorLoss, terms: dict[str, float]) -> float:
    return sum(loss.weights[name] * value for name, value in terms.items() if name != "total")


def test_generator_loss_total_is_weighted_sum_of_terms() -> None:
    torch.manual_seed(0)
    disc = build_discriminator("soundstream-tiny")
    real = _speechy(length=4000)
    fake = (real + 0.05 * torch.randn_like(real)).requires_grad_(True)
    config = GeneratorLossConfig(weights=LossWeights(stft=0.5), stft=SMALL_STFT)
    loss = GeneratorLoss(config, SR)
    with torch.no_grad():
        disc_real = disc(real)
    total, terms = loss(
        fake, real, disc(fake), disc_real,
        commitment=torch.tensor(0.3), quantization=torch.tensor([0.2]), fake_unquantized=fake * 0.9,
    )
    assert set(terms) == {"waveform", "mel", "mel_unquantized", "stft", "adversarial", "feature_matching",
                          "commitment", "quantization", "total"}
    assert loss.weights["mel"] == 45.0 and loss.weights["mel_unquantized"] == 45.0
    assert loss.weights["feature_matching"] == 2.0 and loss.weights["adversarial"] == 1.0
    assert terms["total"] == pytest.approx(total.item())
    assert terms["total"] == pytest.approx(_weighted_sum(loss, terms), rel=1e-6)
    assert terms["commitment"] == pytest.approx(0.3)
    total.backward()
    assert fake.grad is not None and torch.isfinite(fake.grad).all()


def test_generator_loss_skips_disabled_or_missing_terms() -> None:
    real = _speechy(length=4000)
    fake = real * 0.5
    loss = GeneratorLoss(GeneratorLossConfig(weights=LossWeights(waveform=0.0)), SR)
    total, terms = loss(fake, real, commitment=torch.tensor(1.0))  # no discriminator: GAN warm-up
    assert set(terms) == {"mel", "commitment", "total"}
    assert terms["total"] == pytest.approx(45.0 * terms["mel"] + 1.0)
    with pytest.raises(ValueError):
        GeneratorLoss(GeneratorLossConfig(weights=LossWeights(waveform=0.0, mel=0.0)), SR)(fake, real)


def test_dac_defaults_and_total() -> None:
    gen_cfg, disc_cfg = default_loss_config("dac")
    assert gen_cfg.weights.as_dict() == {
        "waveform": 0.0, "mel": 15.0, "mel_unquantized": 0.0, "stft": 0.0, "adversarial": 1.0,
        "feature_matching": 2.0, "commitment": 0.25, "codebook": 1.0, "quantization": 0.0,
    }
    torch.manual_seed(0)
    disc = build_discriminator("dac-tiny")
    real = _speechy(length=4000)
    fake = real + 0.05 * torch.randn_like(real)
    loss = GeneratorLoss(gen_cfg, SR)
    total, terms = loss(fake, real, disc(fake), disc(real), commitment=torch.tensor(0.4), codebook=torch.tensor(0.6))
    assert set(terms) == {"mel", "adversarial", "feature_matching", "commitment", "codebook", "total"}
    assert terms["total"] == pytest.approx(_weighted_sum(loss, terms), rel=1e-6)
    assert disc_cfg.adversarial == "mse"
    assert default_loss_config("encodec") == default_loss_config("soundstream")


def test_discriminator_loss_total_and_gradients() -> None:
    torch.manual_seed(0)
    disc = build_discriminator("encodec-tiny")
    real = _speechy(length=3000)
    fake = (real + 0.1 * torch.randn_like(real)).requires_grad_(True)
    for kind in ("mse", "hinge"):
        total, terms = DiscriminatorLoss(DiscriminatorLossConfig(adversarial=kind))(disc(fake.detach()), disc(real))
        assert terms["total"] == pytest.approx(terms["real"] + terms["fake"], rel=1e-6)
        disc.zero_grad()
        total.backward()
        assert fake.grad is None
        assert all(p.grad is not None for p in disc.parameters())


def test_loss_configs_reject_bad_values() -> None:
    with pytest.raises(ValidationError):
        MelLossConfig(fft_sizes=[256, 512], n_mels=[40])
    with pytest.raises(ValidationError):
        LossWeights(mel=-1.0)
    with pytest.raises(ValidationError):
        GeneratorLossConfig.model_validate({"weights": {"mell": 1.0}})
    with pytest.raises(ValueError):
        default_loss_config("wavenet")
