"""SHEET-SSQA: the paper's SHEET MOS predictor (Huang et al., SHEET v0.1.0 ``default``), loaded from its published
config and checkpoint.

What VERSA's ``sheet_ssqa`` loads is torch.hub ``unilight/sheet:v0.1.0``'s ``default`` model: SSL-MOS with
multiple-dataset fine-tuning on the seven MOS-Bench training sets, two release files,
``all7-sslmos-mdf-2337-config.yml`` and ``all7-sslmos-mdf-2337-checkpoint-86000steps.pkl`` (a plain state dict).
Its network, from that config (``model_type: SSLMOS``):

* S3PRL's ``wav2vec2`` upstream (fairseq wav2vec 2.0 base, keys ``ssl_model.upstream.model.*``), run here by
  transformers after renaming (:mod:`codecstudy.evaluate.metrics.wav2vec2`), without S3PRL or fairseq; the input is
  the raw 16 kHz waveform (the base model's task does not normalise it);
* the hidden states of ``ssl_model_layer_idx`` (``-1``: the last transformer layer's output);
* a frame-wise head ``mean_net_dnn``: Linear -> ReLU -> (dropout) -> Linear; a scalar output with range clipping
  is ``2 tanh(y) + 3`` per frame, a categorical one ``argmax * step + 1``; the utterance score is the frame mean
  (``mean_net`` inference).

Clips shorter than 1040 samples are zero-padded on both sides to that length first, as SHEET's hub entry does.

``sheet_ssqa.model`` is a folder holding the config (``*config.yml``/``.yaml``) and the checkpoint (``*.pkl``,
``*.bin``, ``*.pth``, ``*.pt``), a checkpoint file with its config beside it, or the hub name ``default``
(``unilight/sheet:v0.1.0``), which downloads the two release files once into the cache where a network is
reachable. Every result names the checkpoint and its SHA-256. Other SHEET models (e.g. the WavLM-large ones of
``sheet_ssqa`` after v0.1.0, or listener-dependent LDNet/AlignNet models) are one-line errors naming what was found.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from codecstudy.evaluate.base import MetricError, as_signal, finite
from codecstudy.evaluate.metrics.runtime import at_16k, cache_root, cached_model, file_sha256, torch_device
from codecstudy.evaluate.metrics.wav2vec2 import fairseq_wav2vec2
from codecstudy.hub import GITHUB_RELEASE, HubModel, files_present

DEFAULT_MODEL = "default"
HUB_NAMES = ("default", "unilight/sheet:v0.1.0", "unilight/sheet:v0.1.0:default")
RELEASE = "https://github.com/unilight/sheet/releases/download/v0.1.0/"
RELEASE_FILES = ("all7-sslmos-mdf-2337-config.yml", "all7-sslmos-mdf-2337-checkpoint-86000steps.pkl")
EXPECTED = (
    "a SHEET SSL-MOS model: its config (*config.yml, model_type SSLMOS, s3prl wav2vec2) and checkpoint "
    "(*.pkl/*.bin state dict with ssl_model.* and mean_net_dnn.*), e.g. v0.1.0's " + " + ".join(RELEASE_FILES)
)
MIN_SAMPLES = 1040  # SHEET's hub entry pads shorter input to this length
_CONFIG_GLOBS = ("config.yml", "*config.yml", "*config.yaml", "*.yml", "*.yaml")
_CHECKPOINT_GLOBS = ("checkpoint-best.bin", "*.pkl", "*.bin", "*.pth", "*.pt")


def _first(folder: Path, patterns: tuple[str, ...]) -> Path | None:
    for pattern in patterns:
        hits = sorted(p for p in folder.glob(pattern) if p.is_file())
        if hits:
            return hits[0]
    return None


def release_folder() -> Path:
    """Where the v0.1.0 release files are kept: ``$CODECSTUDY_CACHE/models/sheet-v0.1.0``."""
    return cache_root() / "models" / "sheet-v0.1.0"


def _download_release() -> Path:
    """The v0.1.0 release files in the cache (downloaded once, where a network is reachable)."""
    folder = release_folder()
    if files_present(folder, RELEASE_FILES):
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    for name in RELEASE_FILES:
        if (folder / name).is_file():
            continue
        try:
            torch.hub.download_url_to_file(RELEASE + name, str(folder / name), progress=False)
        except Exception as exc:
            raise MetricError(f"sheet_ssqa model 'default': cannot download {RELEASE + name} ({type(exc).__name__});"
                              f" put {' and '.join(RELEASE_FILES)} in a folder and pass sheet_ssqa.model=DIR") from None
    return folder


def sheet_models(model: str = DEFAULT_MODEL, **_: Any) -> list[HubModel]:
    """The release files ``sheet_ssqa`` downloads when its model is the hub name (a folder or file downloads
    nothing); fetched by the loader's own download, into the folder it reads."""
    if str(model) not in HUB_NAMES:
        return []
    return [HubModel("SHEET SSL-MOS default (sheet_ssqa)", HUB_NAMES[1], GITHUB_RELEASE, str(release_folder()),
                     _download_release, lambda: files_present(release_folder(), RELEASE_FILES))]


def model_files(model: str | Path) -> tuple[Path, Path]:
    """(config, checkpoint) for a folder, a checkpoint file or the hub name; one line naming what is missing."""
    if str(model) in HUB_NAMES:
        model = _download_release()
    path = Path(str(model)).expanduser()
    if path.is_dir():
        config, checkpoint = _first(path, _CONFIG_GLOBS), _first(path, _CHECKPOINT_GLOBS)
    elif path.is_file():
        config, checkpoint = _first(path.parent, _CONFIG_GLOBS), path
    else:
        raise MetricError(f"{path}: no such file or folder; expected {EXPECTED}")
    if config is None or checkpoint is None:
        missing = "config (*config.yml)" if config is None else "checkpoint (*.pkl/*.bin)"
        raise MetricError(f"{path}: no {missing} found; expected {EXPECTED}")
    return config, checkpoint


def _read_config(path: Path) -> dict[str, Any]:
    try:
        config = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise MetricError(f"{path}: not a readable YAML config ({type(exc).__name__}); expected {EXPECTED}") from None
    if not isinstance(config, dict):
        raise MetricError(f"{path}: not a SHEET config; expected {EXPECTED}")
    params = config.get("model_params") or {}
    found = {
        "model_type": config.get("model_type"),
        "model_input": config.get("model_input", "waveform"),
        "ssl_module": params.get("ssl_module", "s3prl"),
        "s3prl_name": params.get("s3prl_name", "wav2vec2"),
        "inference_mode": config.get("inference_mode", "mean_net"),
    }
    wanted = {"model_type": "SSLMOS", "model_input": "waveform", "ssl_module": "s3prl", "s3prl_name": "wav2vec2",
              "inference_mode": "mean_net"}
    for key, value in wanted.items():
        if found[key] != value:
            raise MetricError(f"{path}: {key} is {found[key]!r}, this loader runs {value!r} only; expected {EXPECTED}")
    return config


class SheetSSLMOS:
    """SHEET's SSL-MOS from a config and a state dict; ``__call__`` maps one ``[T]`` 16 kHz signal to its MOS."""

    def __init__(self, config: dict[str, Any], state: dict[str, Any], source: str = "checkpoint") -> None:
        params = config.get("model_params") or {}
        anchor = next((k for k in state if k.startswith("ssl_model.") and k.endswith("post_extract_proj.weight")),
                      None)
        if anchor is None or "mean_net_dnn.net.0.weight" not in state or "mean_net_dnn.net.3.weight" not in state:
            have = ", ".join(list(state)[:3])
            raise MetricError(f"{source}: holds {have}...; expected {EXPECTED}")
        prefix = anchor[: -len("post_extract_proj.weight")]
        ssl = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        self.ssl = fairseq_wav2vec2(ssl, source, EXPECTED)
        self.layer = int(params.get("ssl_model_layer_idx", -1))
        n_states = self.ssl.config.num_hidden_layers + 1
        if not -n_states <= self.layer < n_states:
            raise MetricError(f"{source}: ssl_model_layer_idx {self.layer} out of range for {n_states} hidden states")
        self.output_type = params.get("mean_net_output_type", "scalar")
        if self.output_type not in ("scalar", "categorical"):
            raise MetricError(f"{source}: mean_net_output_type {self.output_type!r} is not scalar or categorical")
        self.clipping = bool(params.get("mean_net_range_clipping", True))
        self.step = float(params.get("mean_net_output_step", 0.25))
        first, last = state["mean_net_dnn.net.0.weight"], state["mean_net_dnn.net.3.weight"]
        self.head = torch.nn.Sequential(
            torch.nn.Linear(first.shape[1], first.shape[0]), torch.nn.ReLU(), torch.nn.Linear(last.shape[1],
                                                                                                last.shape[0])
        ).eval()
        try:
            self.head.load_state_dict({
                "0.weight": first, "0.bias": state["mean_net_dnn.net.0.bias"],
                "2.weight": last, "2.bias": state["mean_net_dnn.net.3.bias"],
            })
        except (KeyError, RuntimeError) as exc:
            raise MetricError(f"{source}: mean_net_dnn does not fit ({type(exc).__name__}); expected {EXPECTED}")

    def to(self, device: Any) -> SheetSSLMOS:
        """Moves the SSL model and the head to ``device``."""
        self.ssl.to(device)
        self.head.to(device)
        return self

    def __call__(self, wave: np.ndarray) -> float:
        x = np.asarray(wave, dtype=np.float32)
        if x.size < MIN_SAMPLES:
            pad = (MIN_SAMPLES - x.size) // 2
            x = np.pad(x, (pad, pad))
        with torch.inference_mode():
            wave_in = torch.from_numpy(np.ascontiguousarray(x))[None].to(self.ssl.device)
            hidden = self.ssl(wave_in, output_hidden_states=True)
            out = self.head(hidden.hidden_states[self.layer])  # [1, frames, outputs]
            if self.output_type == "categorical":
                frames = out.argmax(dim=-1).float() * self.step + 1
            else:
                frames = out.squeeze(-1)
                if self.clipping:
                    frames = torch.tanh(frames) * 2.0 + 3.0
            return float(frames.float().mean())


def load_sheet(model: str | Path) -> SheetSSLMOS:
    """The SSL-MOS model named by ``model`` (folder, checkpoint file or hub name); one line naming the path and what
    was expected when it is not one."""
    config_path, checkpoint = model_files(model)
    config = _read_config(config_path)
    try:
        state = torch.load(str(checkpoint), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise MetricError(f"{checkpoint}: not a torch state dict ({type(exc).__name__}); expected {EXPECTED}") from None
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]  # a SHEET training checkpoint keeps the weights under "model"
    if not isinstance(state, dict):
        raise MetricError(f"{checkpoint}: holds {type(state).__name__}; expected {EXPECTED}")
    try:
        return SheetSSLMOS(config, state, str(checkpoint))
    except MetricError:
        raise
    except Exception as exc:
        raise MetricError(f"{checkpoint}: cannot build SSL-MOS ({type(exc).__name__}: {exc}); expected {EXPECTED}")


def sheet_ssqa(
    ref: np.ndarray, est: np.ndarray, sr: int, *, model: str = DEFAULT_MODEL, device: str = "cpu", **_: Any
) -> dict[str, float]:
    """Predicted MOS of the estimate (non-intrusive, 1-5, higher is better)."""
    est = as_signal(est, "estimate", min_samples=int(0.02 * sr))
    where = torch_device(device)
    predictor = cached_model(("sheet", str(model), where), lambda: load_sheet(model).to(where))
    return {"sheet_ssqa": finite(predictor(at_16k(est, sr)), "SHEET-SSQA")}


def sheet_info(model: str = DEFAULT_MODEL, **_: Any) -> dict[str, Any]:
    config, checkpoint = model_files(model)
    return {
        "model": str(model),
        "architecture": "SHEET SSLMOS (s3prl wav2vec2 base, mean_net)",
        "config": str(config),
        "config_sha256": file_sha256(config),
        "checkpoint": str(checkpoint),
        "sha256": file_sha256(checkpoint),
    }
