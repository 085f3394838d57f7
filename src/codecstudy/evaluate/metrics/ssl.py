"""SpeechBERTScore: BERTScore over self-supervised speech features (DiscreteSpeechMetrics' definition).

Both signals go at 16 kHz, unnormalised, through a WavLM model (transformers); the hidden states of one layer
(``hidden_states[layer]``: index 0 is the input to the first transformer layer, so 14 is the output of the 14th) are
compared frame by frame by cosine similarity. Precision averages, over the estimate's frames, the best similarity
with any reference frame; recall does the same the other way round; F1 is their harmonic mean. VERSA's
``speech_bert`` is the precision. The paper's settings are WavLM-large and layer 14.

The model comes from a local folder written by ``save_pretrained`` (``config.json`` plus the weights) or a hub name
(``microsoft/wavlm-large``, which needs the hub, so not here). The weights' SHA-256 and the layer go into meta.json
for every run. WavLM-large was trained on English audiobooks and podcasts: on other languages the score is marked.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from codecstudy.evaluate.base import MetricError, as_signal, finite, package_version, require, require_sound
from codecstudy.evaluate.metrics.runtime import MODEL_RATE, at_16k, cached_model, file_sha256, torch_device
from codecstudy.hub import HubModel, huggingface_model

DEFAULT_MODEL = "microsoft/wavlm-large"
DEFAULT_LAYER = 14
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
# WavLM's convolutional front end has a 400-sample (25 ms) receptive field; below 0.1 s a clip has ~4 frames.
MIN_SECONDS = 0.1


def _is_local(source: str) -> bool:
    return Path(source).exists() or source.startswith((".", "/", "~")) or source.count("/") > 1


def checked_source(source: str | Path, model_type: str, expected: str) -> str:
    """``source`` (a local folder or a hub name) after checking that its config is a ``model_type`` model; a missing
    folder, a folder without config.json or another architecture is a one-line MetricError naming the path and
    ``expected``."""
    transformers = require("transformers", "transformers")
    source = str(source)
    if _is_local(source):
        path = Path(source).expanduser()
        if not path.is_dir():
            raise MetricError(f"{path}: no such folder; expected {expected}")
        if not (path / "config.json").is_file():
            raise MetricError(f"{path}: no config.json; expected {expected}")
        source = str(path)
    try:
        config = transformers.AutoConfig.from_pretrained(source)
    except Exception as exc:
        raise MetricError(f"{source}: cannot read a model config ({type(exc).__name__}); expected {expected}") from None
    if config.model_type != model_type:
        raise MetricError(f"{source}: holds a {config.model_type!r} model; expected {expected}")
    transformers.utils.logging.disable_progress_bar()
    return source


def transformers_models(what: str, source: str | Path, fetch: Callable[[], object],
                        extra_files: Sequence[str] = ()) -> list[HubModel]:
    """The hub model a transformers loader downloads for ``source``: none for a local folder; for a hub name, the
    repository, cached once its config, its weights and ``extra_files`` are in the hub cache. ``fetch`` is the
    loader itself, so the fetched files are the ones ``from_pretrained`` reads."""
    if _is_local(str(source)):
        return []
    files = [["config.json"], list(WEIGHT_FILES), *([name] for name in extra_files)]
    return [huggingface_model(what, str(source), fetch, files)]


def speech_bert_models(model: str = DEFAULT_MODEL, **_: Any) -> list[HubModel]:
    """SpeechBERTScore's WavLM, when it is a hub name (the default, ``microsoft/wavlm-large``)."""
    return transformers_models("WavLM (speech_bert)", model, lambda: load_wavlm(model))


def load_wavlm(source: str | Path) -> Any:
    """A transformers ``WavLMModel`` in eval mode from a local folder or a hub name (checked first)."""
    transformers = require("transformers", "transformers")
    expected = "a WavLM model folder (save_pretrained: config.json with model_type 'wavlm' + model.safetensors)"
    source = checked_source(source, "wavlm", expected)
    try:
        model = transformers.WavLMModel.from_pretrained(source)
    except Exception as exc:
        raise MetricError(f"{source}: cannot load WavLM weights ({type(exc).__name__}: {exc})") from None
    return model.eval()


def weights_sha256(source: str | Path) -> str | None:
    """SHA-256 of the model's weight file(s): a local folder's, or the hub cache's copy when there is one."""
    files: list[Path] = []
    path = Path(str(source)).expanduser()
    if path.is_dir():
        files = [path / name for name in WEIGHT_FILES if (path / name).is_file()]
        files += sorted(p for p in path.glob("model-*.safetensors"))
    else:
        try:
            from huggingface_hub import try_to_load_from_cache  # comes with transformers (eval extra)

            for name in WEIGHT_FILES:
                hit = try_to_load_from_cache(str(source), name)
                if isinstance(hit, str):
                    files = [Path(hit)]
                    break
        except ImportError:
            return None
    if not files:
        return None
    if len(files) == 1:
        return file_sha256(files[0])
    digest = hashlib.sha256()
    for file in files:
        digest.update(file_sha256(file).encode())
    return digest.hexdigest()


def _model(source: str, device: str = "cpu") -> Any:
    return cached_model(("wavlm", str(source), device), lambda: load_wavlm(source).to(device))


def layer_features(model: Any, x: np.ndarray, layer: int) -> Any:
    """``[frames, dim]`` hidden states of ``layer`` for one 16 kHz signal (no input normalisation, as in
    DiscreteSpeechMetrics)."""
    n_layers = int(model.config.num_hidden_layers)
    if not 0 <= layer <= n_layers:
        raise MetricError(f"layer {layer} out of range: the model has hidden states 0..{n_layers}")
    with torch.inference_mode():
        wave = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))[None].to(model.device)
        out = model(wave, output_hidden_states=True)
    return out.hidden_states[layer][0].float()


def bert_score(gen: Any, ref: Any) -> tuple[float, float, float]:
    """(precision, recall, F1) of greedy cosine matching between ``gen`` ``[Tg, D]`` and ``ref`` ``[Tr, D]``."""
    g = torch.nn.functional.normalize(gen.double(), dim=1)
    r = torch.nn.functional.normalize(ref.double(), dim=1)
    sim = g @ r.T
    precision = float(sim.max(dim=1).values.mean())
    recall = float(sim.max(dim=0).values.mean())
    f1 = 2 * precision * recall / (precision + recall) if precision + recall != 0 else float("nan")
    return precision, recall, f1


def speech_bert_score(
    ref: np.ndarray,
    est: np.ndarray,
    sr: int,
    *,
    model: str = DEFAULT_MODEL,
    layer: int = DEFAULT_LAYER,
    device: str = "cpu",
    **_: Any,
) -> dict[str, float]:
    """SpeechBERTScore of the estimate against the reference (0..1, higher is better)."""
    ref = as_signal(ref, "reference", min_samples=int(MIN_SECONDS * sr))
    est = as_signal(est, "estimate", min_samples=int(MIN_SECONDS * sr))
    require_sound(ref, "reference", "SpeechBERTScore")
    wavlm = _model(model, torch_device(device))
    r = layer_features(wavlm, at_16k(ref, sr), layer)
    e = layer_features(wavlm, at_16k(est, sr), layer)
    precision, recall, f1 = bert_score(e, r)
    return {
        "speech_bert": finite(precision, "SpeechBERTScore precision"),
        "speech_bert_recall": finite(recall, "SpeechBERTScore recall"),
        "speech_bert_f1": finite(f1, "SpeechBERTScore F1"),
    }


def speech_bert_info(model: str = DEFAULT_MODEL, layer: int = DEFAULT_LAYER, **_: Any) -> dict[str, Any]:
    return {
        "library": "transformers",
        "version": package_version("transformers"),
        "model": str(model),
        "layer": int(layer),
        "rate": MODEL_RATE,
        "sha256": weights_sha256(model),
        "definition": "DiscreteSpeechMetrics SpeechBERTScore; speech_bert = precision (VERSA's key)",
    }
