"""Small random-weight evaluator models of the real architectures, saved the way the real checkpoints are."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any


def save_random_wavlm(folder: Path, layers: int = 3, seed: int = 0) -> Path:
    """A tiny WavLM (transformers) with random weights, written by ``save_pretrained`` into ``folder``."""
    import torch
    from transformers import WavLMConfig, WavLMModel

    torch.manual_seed(seed)
    config = WavLMConfig(
        hidden_size=32,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=64,
        conv_dim=(32,) * 7,
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
        num_buckets=32,
        max_bucket_distance=100,
        do_stable_layer_norm=True,
        feat_extract_norm="layer",
    )
    model = WavLMModel(config).eval()
    model.save_pretrained(str(folder))
    return folder


def random_fairseq_wav2vec2(
    r: Callable[..., Any], prefix: str, hidden: int = 24, layers: int = 2, conv: int = 16, ffn: int = 32,
    pos_kernel: int = 8, pos_groups: int = 4, new_weight_norm: bool = False,
) -> dict[str, Any]:
    """Random tensors (from ``r(*shape)``) under fairseq wav2vec 2.0 base names, each key prefixed with ``prefix``:
    the layout UTMOS22 strong and SHEET's S3PRL upstream store, written from the layout itself, not from
    codecstudy's model, so that the loaders' renaming is what the tests check."""
    state: dict[str, Any] = {}
    w = prefix
    for i, k in enumerate((10, 3, 3, 3, 3, 2, 2)):
        state[f"{w}feature_extractor.conv_layers.{i}.0.weight"] = r(conv, 1 if i == 0 else conv, k)
    state[f"{w}feature_extractor.conv_layers.0.2.weight"] = 1 + r(conv)
    state[f"{w}feature_extractor.conv_layers.0.2.bias"] = r(conv)
    state[f"{w}layer_norm.weight"], state[f"{w}layer_norm.bias"] = 1 + r(conv), r(conv)
    state[f"{w}post_extract_proj.weight"], state[f"{w}post_extract_proj.bias"] = r(hidden, conv), r(hidden)
    state[f"{w}mask_emb"] = r(hidden)
    g_name, v_name = (
        ("parametrizations.weight.original0", "parametrizations.weight.original1") if new_weight_norm
        else ("weight_g", "weight_v")
    )
    state[f"{w}encoder.pos_conv.0.bias"] = r(hidden)
    state[f"{w}encoder.pos_conv.0.{g_name}"] = 1 + r(1, 1, pos_kernel)
    state[f"{w}encoder.pos_conv.0.{v_name}"] = r(hidden, hidden // pos_groups, pos_kernel)
    state[f"{w}encoder.layer_norm.weight"], state[f"{w}encoder.layer_norm.bias"] = 1 + r(hidden), r(hidden)
    for i in range(layers):
        p = f"{w}encoder.layers.{i}."
        for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
            state[f"{p}self_attn.{name}.weight"], state[f"{p}self_attn.{name}.bias"] = r(hidden, hidden), r(hidden)
        for norm in ("self_attn_layer_norm", "final_layer_norm"):
            state[f"{p}{norm}.weight"], state[f"{p}{norm}.bias"] = 1 + r(hidden), r(hidden)
        state[f"{p}fc1.weight"], state[f"{p}fc1.bias"] = r(ffn, hidden), r(ffn)
        state[f"{p}fc2.weight"], state[f"{p}fc2.bias"] = r(hidden, ffn), r(hidden)
    return state


def _normal(seed: int) -> Callable[..., Any]:
    import torch

    g = torch.Generator().manual_seed(seed)
    return lambda *shape: 0.1 * torch.randn(*shape, generator=g)


def save_random_utmos22(
    path: Path, hidden: int = 24, layers: int = 2, conv: int = 16, ffn: int = 32, pos_kernel: int = 8,
    pos_groups: int = 4, emb: int = 8, rnn: int = 12, proj: int = 16, seed: int = 0, new_weight_norm: bool = False,
) -> Path:
    """A random state dict in the published UTMOS22 strong layout (SpeechMOS ``utmos22_strong_step7459_v1.pt``:
    fairseq wav2vec2 keys under ``wav2vec2.``, then ``domain_emb``, ``judge_emb``, ``blstm``, ``projection``)."""
    import torch

    r = _normal(seed)
    state = random_fairseq_wav2vec2(r, "wav2vec2.", hidden, layers, conv, ffn, pos_kernel, pos_groups,
                                    new_weight_norm)
    state["domain_emb"], state["judge_emb"] = r(1, emb), r(1, emb)
    for suffix in ("", "_reverse"):
        state[f"blstm.weight_ih_l0{suffix}"] = r(4 * rnn, hidden + 2 * emb)
        state[f"blstm.weight_hh_l0{suffix}"] = r(4 * rnn, rnn)
        state[f"blstm.bias_ih_l0{suffix}"], state[f"blstm.bias_hh_l0{suffix}"] = r(4 * rnn), r(4 * rnn)
    state["projection.0.weight"], state["projection.0.bias"] = r(proj, 2 * rnn), r(proj)
    state["projection.2.weight"], state["projection.2.bias"] = r(1, proj), r(1)
    torch.save(state, str(path))
    return path


# SHEET v0.1.0's all7-sslmos-mdf config, reduced to what inference reads (egs/*/conf/ssl-mos-wav2vec2.yaml).
SHEET_CONFIG = """\
sampling_rate: 16000
model_input: waveform
model_type: "SSLMOS"
model_params:
    ssl_module: "s3prl"
    s3prl_name: "wav2vec2"
    ssl_model_output_dim: {hidden}
    ssl_model_layer_idx: {layer}
    mean_net_dnn_dim: {head}
    mean_net_output_type: "{output}"
    mean_net_output_dim: {outputs}
    mean_net_output_step: 0.25
    mean_net_range_clipping: True
    use_listener_modeling: False
    use_mean_listener: False
inference_mode: mean_net
"""


def save_random_sheet(
    folder: Path, hidden: int = 24, head: int = 16, layer: int = -1, output: str = "scalar", seed: int = 0,
    ssl_state: dict[str, Any] | None = None, **ssl_sizes: int,
) -> Path:
    """A folder in SHEET v0.1.0's release layout: ``*-config.yml`` and ``*-checkpoint-*.pkl``, a state dict with
    the S3PRL upstream under ``ssl_model.upstream.model.`` and the head ``mean_net_dnn.net.{0,3}``. ``ssl_state``
    (fairseq names, no prefix) replaces the random wav2vec 2.0, e.g. with S3PRL's own model's weights."""
    import torch

    r = _normal(seed)
    folder.mkdir(parents=True, exist_ok=True)
    prefix = "ssl_model.upstream.model."
    if ssl_state is None:
        state = random_fairseq_wav2vec2(r, prefix, hidden, **ssl_sizes)
    else:
        state = {prefix + k: v for k, v in ssl_state.items()}
    outputs = 1 if output == "scalar" else 17
    state["mean_net_dnn.net.0.weight"], state["mean_net_dnn.net.0.bias"] = r(head, hidden), r(head)
    state["mean_net_dnn.net.3.weight"], state["mean_net_dnn.net.3.bias"] = r(outputs, head), r(outputs)
    (folder / "all7-sslmos-mdf-2337-config.yml").write_text(
        SHEET_CONFIG.format(hidden=hidden, layer=layer, head=head, output=output, outputs=outputs)
    )
    torch.save(state, str(folder / "all7-sslmos-mdf-2337-checkpoint-86000steps.pkl"))
    return folder


def save_random_clap(folder: Path, seed: int = 0) -> Path:
    """A tiny CLAP (transformers, unfused HTSAT audio tower) with random weights and its feature extractor."""
    import torch
    from transformers import ClapAudioConfig, ClapConfig, ClapFeatureExtractor, ClapModel, ClapTextConfig

    torch.manual_seed(seed)
    audio = ClapAudioConfig(depths=[1, 1, 1, 1], num_attention_heads=[1, 1, 1, 1], patch_embeds_hidden_size=8,
                            hidden_size=64, projection_dim=16, window_size=8, spec_size=256, num_mel_bins=64,
                            enable_fusion=False)
    text = ClapTextConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=1, intermediate_size=16,
                          projection_dim=16, vocab_size=100)
    ClapModel(ClapConfig(text_config=text.to_dict(), audio_config=audio.to_dict(), projection_dim=16)).eval() \
        .save_pretrained(str(folder))
    ClapFeatureExtractor(feature_size=64, sampling_rate=48000, max_length_s=10).save_pretrained(str(folder))
    return folder


# ------------------------------------------------------------------ the published evaluator models' sizes
# Random weights at full size cost what the real models cost (benchmarks/metric_costs.py, benchmarks/gpu_check.py):
# the real weights are on model hubs, unreachable here.
W2V_BASE = {"hidden": 768, "layers": 12, "conv": 512, "ffn": 3072, "pos_kernel": 128, "pos_groups": 16}


def save_wavlm_large(folder: Path) -> Path:
    """WavLM-large's configuration (24 layers, 1024 wide) with random weights, saved like the real model."""
    import torch
    from transformers import WavLMConfig, WavLMModel

    torch.manual_seed(0)
    WavLMModel(WavLMConfig(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096,
                           do_stable_layer_norm=True, feat_extract_norm="layer", conv_bias=False)).save_pretrained(
        str(folder))
    return folder


def save_full_utmos22(path: Path) -> Path:
    """A random UTMOS22 strong checkpoint at the published sizes (wav2vec2 base, 128-d embeddings, BLSTM 512)."""
    return save_random_utmos22(path, **W2V_BASE, emb=128, rnn=512, proj=2048)


def save_full_sheet(folder: Path) -> Path:
    """A random SHEET v0.1.0 SSL-MOS at the published sizes (wav2vec2 base, 64-unit head), release layout."""
    sizes = {k: v for k, v in W2V_BASE.items() if k != "hidden"}
    return save_random_sheet(folder, hidden=768, head=64, **sizes)


def full_size_settings(metric: str, folder: Path) -> dict[str, dict[str, Any]]:
    """Metric settings that point ``speech_bert``, ``utmos`` or ``sheet_ssqa`` at full-size random models written
    under ``folder``; {} for other metrics."""
    if metric == "speech_bert":
        return {"speech_bert": {"model": str(save_wavlm_large(folder / "wavlm-large"))}}
    if metric == "utmos":
        return {"utmos": {"checkpoint": str(save_full_utmos22(folder / "utmos22_strong.pt"))}}
    if metric == "sheet_ssqa":
        return {"sheet_ssqa": {"model": str(save_full_sheet(folder / "sheet"))}}
    return {}
