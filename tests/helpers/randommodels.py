"""Small random-weight evaluator models of the real architectures, saved the way the real checkpoints are."""

from __future__ import annotations

from pathlib import Path


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
