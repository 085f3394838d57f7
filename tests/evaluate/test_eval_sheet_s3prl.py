"""SHEET-SSQA against S3PRL's own wav2vec 2.0 (the network SHEET's checkpoints were trained with): random weights,
S3PRL's model code, the same score from our loader. Needs ``s3prl`` (installed by ``make test-extra``, no deps)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers.evalsignals import speech, with_noise

pytest.importorskip("transformers", reason="transformers is in the eval extra")
w2v = pytest.importorskip("s3prl.upstream.wav2vec2.wav2vec2_model", reason="make test-extra installs s3prl")

from codecstudy.evaluate.metrics import sheet  # noqa: E402

pytestmark = pytest.mark.slow


def _s3prl_model(hidden: int = 128, heads: int = 2) -> object:
    import torch

    torch.manual_seed(0)
    cfg = w2v.Wav2Vec2Config(
        extractor_mode="default", encoder_layers=2, encoder_embed_dim=hidden, encoder_ffn_embed_dim=96,
        encoder_attention_heads=heads, conv_feature_layers="[(32, 10, 5)] + [(32, 3, 2)] * 4 + [(32, 2, 2)] * 2",
        conv_pos=16, conv_pos_groups=4, layer_norm_first=False, conv_bias=False, dropout=0.0,
        attention_dropout=0.0, activation_dropout=0.0, dropout_input=0.0, dropout_features=0.0, encoder_layerdrop=0.0,
    )
    model = w2v.Wav2Vec2Model(cfg).eval()
    with torch.no_grad():  # fresh norms are identities: move them so that the test sees whether they are loaded
        for name, p in model.named_parameters():
            if "norm" in name or name.endswith("bias"):
                p.add_(0.1 * torch.randn_like(p))
    return model


def test_same_score_as_s3prl_wav2vec2_with_the_sslmos_head(tmp_path: Path) -> None:
    import torch
    from helpers.randommodels import save_random_sheet

    model = _s3prl_model()
    folder = save_random_sheet(tmp_path / "m", hidden=128, ssl_state=model.state_dict())
    state = torch.load(str(next(folder.glob("*.pkl"))), weights_only=True)
    ours = sheet.load_sheet(folder)
    for x in (speech(), with_noise(speech(), 5), speech()[:12345]):
        wave = torch.from_numpy(x.astype(np.float32))[None]
        with torch.no_grad():
            frames = model.extract_features(wave, None)["x"]  # the encoder's output = S3PRL's last hidden state
            h = torch.relu(frames @ state["mean_net_dnn.net.0.weight"].T + state["mean_net_dnn.net.0.bias"])
            y = h @ state["mean_net_dnn.net.3.weight"].T + state["mean_net_dnn.net.3.bias"]
            expected = float((torch.tanh(y.squeeze(-1)) * 2 + 3).mean())
        assert ours(x) == pytest.approx(expected, abs=1e-5)
