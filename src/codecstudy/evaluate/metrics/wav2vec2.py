"""A fairseq-layout wav2vec 2.0 state dict run by transformers' ``Wav2Vec2Model``.

Two published MOS predictors carry a fairseq wav2vec 2.0 *base* inside their checkpoints: UTMOS22 strong (keys
under ``wav2vec2.``) and SHEET's SSL-MOS (under ``ssl_model.upstream.model.``, S3PRL's port of fairseq, which keeps
fairseq's names). Neither fairseq nor S3PRL installs here, and they do not need to: the network is transformers'
``Wav2Vec2Model`` with ``feat_extract_norm="group"``, ``conv_bias=False`` and ``do_stable_layer_norm=False``, once
the keys are renamed. Layer sizes are read from the tensors' shapes, so a small random checkpoint of the same layout
(the tests) loads exactly as the published one does.

Hidden states: transformers' ``hidden_states[i]`` is the input of transformer layer ``i`` (``i = 0``: the
convolutional features after the positional convolution and the layer norm) and the last entry the last layer's
output, which is the list S3PRL's wav2vec 2.0 expert returns too (hooks on every layer's input plus the
encoder's output), so a layer index means the same in both.
"""

from __future__ import annotations

import re
from typing import Any

from codecstudy.evaluate.base import MetricError

CONV_STRIDES = (5, 2, 2, 2, 2, 2, 2)

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
# Pre-training remnants that inference never uses.
_UNUSED = re.compile(r"^(mask_emb|quantizer\.|project_q\.|final_proj\.|label_embs_concat)")
# Weight norm is stored as (g, v): old-style names or torch.nn.utils.parametrizations names.
_WEIGHT_NORM = {"weight_g": "parametrizations.weight.original0", "weight_v": "parametrizations.weight.original1"}


def hf_key(key: str) -> str | None:
    """A fairseq wav2vec 2.0 key -> the transformers ``Wav2Vec2Model`` key (None: not used for inference)."""
    if _UNUSED.match(key):
        return None
    for pattern, repl in _RENAMES:
        new, n = re.subn(pattern, repl, key)
        if n:
            key = new
            break
    for old, new in _WEIGHT_NORM.items():
        if key.endswith(old):
            key = key[: -len(old)] + new
    return key


def _count(keys: Any, pattern: str) -> int:
    return 1 + max(int(m.group(1)) for k in keys if (m := re.match(pattern, k)))


def fairseq_wav2vec2(ssl: dict[str, Any], source: str, expected: str) -> Any:
    """transformers ``Wav2Vec2Model`` (eval mode, no dropout) holding the weights of ``ssl``, a fairseq-layout
    state dict without prefix. A layout that does not fit is a one-line :class:`MetricError` naming ``source``."""
    from transformers import Wav2Vec2Config, Wav2Vec2Model  # the eval extra; imported only when a model loads

    try:
        hidden, conv_dim = (int(s) for s in ssl["post_extract_proj.weight"].shape)
        layers = _count(ssl, r"encoder\.layers\.(\d+)\.")
        n_conv = _count(ssl, r"feature_extractor\.conv_layers\.(\d+)")
        kernels = [int(ssl[f"feature_extractor.conv_layers.{i}.0.weight"].shape[-1]) for i in range(n_conv)]
        pos = next(v for k, v in ssl.items() if k.startswith("encoder.pos_conv.0.weight_v") or
                   k.startswith("encoder.pos_conv.0.parametrizations.weight.original1"))
        ffn = int(ssl["encoder.layers.0.fc1.weight"].shape[0])
    except (KeyError, StopIteration, ValueError) as exc:
        raise MetricError(f"{source}: not a wav2vec 2.0 layout (missing {exc}); expected {expected}") from None
    config = Wav2Vec2Config(
        hidden_size=hidden,
        num_hidden_layers=layers,
        # base and large both use 64-dimensional heads
        num_attention_heads=max(1, hidden // 64),
        intermediate_size=ffn,
        conv_dim=(conv_dim,) * n_conv,
        conv_kernel=tuple(kernels),
        conv_stride=CONV_STRIDES[:n_conv],
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
        layerdrop=0.0,
    )
    model = Wav2Vec2Model(config).eval()
    own = model.state_dict()
    mapped = {}
    for key, value in ssl.items():
        new = hf_key(key)
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
                          f"{unexpected[:3]}); expected {expected}")
    model.load_state_dict(mapped)
    return model
