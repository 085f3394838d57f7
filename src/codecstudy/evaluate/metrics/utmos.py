"""UTMOS22 strong learner (Saeki et al. 2022, the paper's UTMOS) from its published state dict.

The published inference checkpoint is SpeechMOS's ``utmos22_strong_step7459_v1.pt`` (torch.hub
``tarepan/SpeechMOS:v1.0.0``, ``utmos22_strong``; what VERSA's ``pseudo_mos`` loads), a plain state dict converted
from sarulab-speech/UTMOS22's strong learner. Its architecture:

* a fairseq wav2vec 2.0 *base* (7 conv layers, group norm on the first, 512 channels; 768-d post-LN transformer,
  12 layers, 12 heads, 3072 FFN; convolutional positions, kernel 128, 16 groups, weight norm), keys
  ``wav2vec2.*``. It is the same network as transformers' ``Wav2Vec2Model`` with ``feat_extract_norm="group"``,
  ``conv_bias=False`` and ``do_stable_layer_norm=False``, so that class runs it here after renaming the keys;
* a fixed data-domain and judge embedding (128-d each, ``domain_emb``/``judge_emb``) appended to every frame;
* a bidirectional LSTM (512 per direction, ``blstm``) and a frame-wise projection 1024 -> 2048 -> 1
  (``projection.0``/``projection.2``); the utterance score is ``2 * mean(frames) + 3``.

Input: 16 kHz mono. The layer sizes are read from the checkpoint's shapes, so a small random checkpoint of the same
layout (the tests) loads the same way. A file that is not such a state dict is a one-line error naming the path
and what was expected. A TorchScript export (``torch.jit.save``) is still accepted (``models.load_utmos``).
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Any

from codecstudy.evaluate.metrics.base import MetricError

EXPECTED = (
    "a UTMOS22 strong state dict (SpeechMOS utmos22_strong_step7459_v1.pt: wav2vec2.*, domain_emb, judge_emb, "
    "blstm.*, projection.*) or a TorchScript export"
)
# Published file, for the docs and error messages: torch.hub tarepan/SpeechMOS:v1.0.0 utmos22_strong.
PUBLISHED = "utmos22_strong_step7459_v1.pt (torch.hub tarepan/SpeechMOS:v1.0.0, utmos22_strong)"
_CONV_STRIDES = (5, 2, 2, 2, 2, 2, 2)

_RENAMES = (
    (r"^feature_extractor\.conv_layers\.(\d+)\.0\.weight$", r"feature_extractor.conv_layers.\1.conv.weight"),
    (r"^feature_extractor\.conv_layers\.0\.2\.(weight|bias)$", r"feature_extractor.conv_layers.0.layer_norm.\1"),
    (r"^layer_norm\.(weight|bias)$", r"feature_projection.layer_norm.\1"),
    (r"^post_extract_proj\.(weight|bias)$", r"feature_projection.projection.\1"),
    (r"^encoder\.pos_conv\.0\.", "encoder.pos_conv_embed.conv."),
    (r"^encoder\.layers\.(\d+)\.self_attn\.", r"encoder.layers.\1.attention."),
    (r"^encoder\.layers\.(\d+)\.self_attn_layer_norm\.", r"encoder.layers.\1.layer_norm."),
    (r"^encoder\.layers\.(\d+)\.fc1\.", r"encoder.layers.\1.feed_forward.intermediate_dense."),
    (r"^encoder\.layers\.(\d+)\.fc2\.", r"encoder.layers.\1.feed_forward.output_dense."),
)
# Weight norm is stored as (g, v): old-style names or torch.nn.utils.parametrizations names.
_WEIGHT_NORM = {"weight_g": "parametrizations.weight.original0", "weight_v": "parametrizations.weight.original1"}


def _hf_key(key: str) -> str | None:
    """A ``wav2vec2.*`` key of the published checkpoint -> the transformers ``Wav2Vec2Model`` key (None: unused)."""
    if key == "mask_emb":
        return None  # pre-training remnant
    for pattern, repl in _RENAMES:
        new, n = re.subn(pattern, repl, key)
        if n:
            key = new
            break
    for old, new in _WEIGHT_NORM.items():
        if key.endswith(old):
            key = key[: -len(old)] + new
    return key


class UTMOS22Strong:
    """Builds the network from a state dict's shapes; ``__call__`` maps ``[B, T]`` 16 kHz audio to ``[B]`` MOS."""

    def __init__(self, state: dict[str, Any], source: str = "checkpoint") -> None:
        import torch
        from transformers import Wav2Vec2Config, Wav2Vec2Model

        ssl = {k[len("wav2vec2."):]: v for k, v in state.items() if k.startswith("wav2vec2.")}
        hidden, conv_dim = (int(s) for s in ssl["post_extract_proj.weight"].shape)
        layers = 1 + max(int(m.group(1)) for k in ssl if (m := re.match(r"encoder\.layers\.(\d+)\.", k)))
        n_conv = 1 + max(int(m.group(1)) for k in ssl if (m := re.match(r"feature_extractor\.conv_layers\.(\d+)", k)))
        kernels = [int(ssl[f"feature_extractor.conv_layers.{i}.0.weight"].shape[-1]) for i in range(n_conv)]
        pos = next(v for k, v in ssl.items() if k.startswith("encoder.pos_conv.0.weight_v") or
                   k.startswith("encoder.pos_conv.0.parametrizations.weight.original1"))
        config = Wav2Vec2Config(
            hidden_size=hidden,
            num_hidden_layers=layers,
            num_attention_heads=12 if hidden % 12 == 0 and hidden >= 768 else max(1, hidden // 64),
            intermediate_size=int(ssl["encoder.layers.0.fc1.weight"].shape[0]),
            conv_dim=(conv_dim,) * n_conv,
            conv_kernel=tuple(kernels),
            conv_stride=_CONV_STRIDES[:n_conv],
            conv_bias=False,
            feat_extract_norm="group",
            do_stable_layer_norm=False,
            num_conv_pos_embeddings=int(pos.shape[-1]),
            num_conv_pos_embedding_groups=hidden // int(pos.shape[1]),
            mask_time_prob=0.0,
            hidden_dropout=0.0,
            attention_dropout=0.0,
            activation_dropout=0.0,
            feat_proj_dropout=0.0,
        )
        self.ssl = Wav2Vec2Model(config).eval()
        own = self.ssl.state_dict()
        mapped = {}
        for key, value in ssl.items():
            new = _hf_key(key)
            if new is None:
                continue
            if new not in own:  # old-style weight-norm names in this torch
                for old, param in _WEIGHT_NORM.items():
                    new = new.replace(param, old)
            mapped[new] = value
        missing = sorted(set(own) - set(mapped))
        unexpected = sorted(set(mapped) - set(own))
        if missing or unexpected:
            raise MetricError(f"{source}: wav2vec2 keys do not match (missing {missing[:3]}, unexpected "
                              f"{unexpected[:3]}); expected {EXPECTED}")
        self.ssl.load_state_dict(mapped)
        self.domain = state["domain_emb"].float()
        self.judge = state["judge_emb"].float()
        rnn = int(state["blstm.weight_hh_l0"].shape[1])
        self.blstm = torch.nn.LSTM(hidden + self.domain.shape[1] + self.judge.shape[1], rnn, batch_first=True,
                                   bidirectional=True).eval()
        self.blstm.load_state_dict({k[len("blstm."):]: v for k, v in state.items() if k.startswith("blstm.")})
        proj = int(state["projection.0.weight"].shape[0])
        self.projection = torch.nn.Sequential(
            torch.nn.Linear(2 * rnn, proj), torch.nn.ReLU(), torch.nn.Linear(proj, 1)
        ).eval()
        self.projection.load_state_dict(
            {k[len("projection."):]: v for k, v in state.items() if k.startswith("projection.")}
        )

    def __call__(self, wave: Any) -> Any:
        import torch

        with torch.inference_mode():
            frames = self.ssl(wave).last_hidden_state
            batch, n, _ = frames.shape
            cat = torch.cat([frames, self.domain.expand(batch, n, -1), self.judge.expand(batch, n, -1)], dim=2)
            scores = self.projection(self.blstm(cat)[0])
            return scores.mean(dim=1).squeeze(1) * 2 + 3


def load_utmos22(path: str | Path) -> Any:
    """The model in ``path``: a UTMOS22 strong state dict, else a TorchScript export; otherwise one line naming the
    path and what was expected."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise MetricError(f"{path}: no such file; expected {EXPECTED}")
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            if any(name.endswith("constants.pkl") or "/code/" in name for name in archive.namelist()):
                from codecstudy.evaluate.metrics.models import load_utmos

                return load_utmos(path)
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise MetricError(f"{path}: not a torch checkpoint ({type(exc).__name__}); expected {EXPECTED}") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    needed = ("wav2vec2.post_extract_proj.weight", "domain_emb", "judge_emb", "blstm.weight_hh_l0",
              "projection.0.weight", "projection.2.weight")
    if not isinstance(state, dict) or any(k not in state for k in needed):
        have = ", ".join(list(state)[:3]) if isinstance(state, dict) else type(state).__name__
        raise MetricError(f"{path}: holds {have}...; expected {EXPECTED}")
    try:
        return UTMOS22Strong(state, str(path))
    except MetricError:
        raise
    except Exception as exc:
        raise MetricError(f"{path}: cannot build UTMOS22 strong ({type(exc).__name__}: {exc}); expected {EXPECTED}")
