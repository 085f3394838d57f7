"""ESPnet-shaped checkpoints without ESPnet: key names as ESPnet's modules nest them, written from a small model.

Spelled out independently of codecstudy.codec.espnet's renaming rules, so the tests check those rules.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
import yaml

from codecstudy.codec.espnet import codec_config_from_espnet
from codecstudy.codec.models.soundstream import SoundStream

RECIPE = Path(__file__).resolve().parents[1] / "codec" / "data" / "espnet_soundstream4_large_v1.1.yaml"


def small_config() -> dict:
    """An ESPnet config.yaml for a small SoundStream (hidden_dim must stay 512: ESPnet's codebook size)."""
    data = yaml.safe_load(RECIPE.read_text())
    data["codec_conf"]["generator_params"].update(
        encdec_n_filters=2, encdec_n_residual_layers=1, encdec_ratios=[4, 2], quantizer_n_q=4, quantizer_bins=16,
        quantizer_target_bandwidth=[8.0, 16.0, 40.0],
    )
    return data


def espnet_key(ours: str) -> str:
    """ESPnet's name for one of our generator keys (how ESPnet's SEANet and RVQ modules nest)."""
    key = re.sub(r"^(encoder|decoder)\.layers\.(\d+)\.", r"\1.model.\2.", ours)
    key = key.replace(".conv1.conv.", ".block.1.conv.conv.").replace(".conv2.conv.", ".block.3.conv.conv.")
    key = key.replace(".shortcut.conv.", ".shortcut.conv.conv.")
    key = re.sub(r"\.model\.(\d+)\.conv\.(bias|parametrizations)", r".model.\1.conv.conv.\2", key)
    key = key.replace(".convtr.", ".convtr.convtr.")
    key = re.sub(r"^quantizer\.layers\.(\d+)\.initialized$", r"quantizer.vq.layers.\1._codebook.inited", key)
    key = re.sub(r"^quantizer\.layers\.(\d+)\.", r"quantizer.vq.layers.\1._codebook.", key)
    return "codec.generator." + key


def espnet_state(model: SoundStream, old_weight_norm: bool = False) -> dict[str, torch.Tensor]:
    """The model as ESPnet's trainer saves it, with a discriminator and a mel-loss tensor beside the generator."""
    state = {}
    for key, value in model.state_dict().items():
        name = espnet_key(key)
        if name.endswith("._codebook.inited"):
            value = value.float().reshape(1)  # ESPnet: float [1]
        if old_weight_norm:
            name = name.replace("parametrizations.weight.original0", "weight_g")
            name = name.replace("parametrizations.weight.original1", "weight_v")
        state[name] = value.clone()
    state["codec.discriminator.discriminators.0.layers.0.weight_g"] = torch.ones(3, 1, 1)
    state["codec.mel_loss.mel_loss.0.wav_to_mel.logmel.melmat"] = torch.zeros(4, 2)
    return state


def small_model(seed: int = 7) -> SoundStream:
    """A random small SoundStream with non-default codebook buffers (a dropped or swapped tensor shows)."""
    config = codec_config_from_espnet(small_config(), name="source")
    torch.manual_seed(seed)
    model = SoundStream(config)
    with torch.no_grad():
        for layer in model.quantizer.layers:
            layer.embed.normal_()
            layer.cluster_size.uniform_(1, 5)
    return model.eval()


def write_exp(folder: Path, state: dict, config: dict | None = None, name: str = "10epoch.pth") -> Path:
    """An ESPnet exp folder: config.yaml + one model file."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(yaml.safe_dump(config or small_config()))
    torch.save(state, folder / name)
    return folder
