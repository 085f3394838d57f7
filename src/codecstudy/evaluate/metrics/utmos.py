"""UTMOS: the metric, and the UTMOS22 strong learner (Saeki et al. 2022, the paper's UTMOS) from its published
state dict.

No wheel ships UTMOS weights: ``utmos.checkpoint=FILE`` takes the published state dict (below) or a TorchScript
export (:func:`load_utmos`, a module mapping ``[B, T]`` 16 kHz audio to ``[B]`` scores); ``utmos.checkpoint=published``
(or the hub name ``tarepan/SpeechMOS:v1.0.0``) downloads the published file once into the cache, where a network is
reachable (``codecstudy study fetch`` does it before a cluster's offline jobs run).

The published inference checkpoint is SpeechMOS's ``utmos22_strong_step7459_v1.pt`` (torch.hub
``tarepan/SpeechMOS:v1.0.0``, ``utmos22_strong``; what VERSA's ``pseudo_mos`` loads), a plain state dict converted
from sarulab-speech/UTMOS22's strong learner. Its architecture:

* a fairseq wav2vec 2.0 *base* (7 conv layers, group norm on the first, 512 channels; 768-d post-LN transformer,
  12 layers, 12 heads, 3072 FFN; convolutional positions, kernel 128, 16 groups, weight norm), keys
  ``wav2vec2.*``, run by transformers' ``Wav2Vec2Model`` after renaming (:mod:`codecstudy.evaluate.metrics.wav2vec2`);
* a fixed data-domain and judge embedding (128-d each, ``domain_emb``/``judge_emb``) appended to every frame;
* a bidirectional LSTM (512 per direction, ``blstm``) and a frame-wise projection 1024 -> 2048 -> 1
  (``projection.0``/``projection.2``); the utterance score is ``2 * mean(frames) + 3``.

Input: 16 kHz mono. The layer sizes are read from the checkpoint's shapes, so a small random checkpoint of the same
layout (the tests) loads the same way. A file that is not such a state dict is a one-line error naming the path
and what was expected. A TorchScript export (``torch.jit.save``) is still accepted (:func:`load_utmos`).
"""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from codecstudy.evaluate.base import MetricError, as_signal, finite
from codecstudy.evaluate.metrics.runtime import at_16k, cache_root, cached_model, file_sha256, torch_device
from codecstudy.evaluate.metrics.wav2vec2 import fairseq_wav2vec2
from codecstudy.hub import GITHUB_RELEASE, HubModel, files_present

EXPECTED = (
    "a UTMOS22 strong state dict (SpeechMOS utmos22_strong_step7459_v1.pt: wav2vec2.*, domain_emb, judge_emb, "
    "blstm.*, projection.*) or a TorchScript export"
)
# Published file, for the docs and error messages: torch.hub tarepan/SpeechMOS:v1.0.0 utmos22_strong.
PUBLISHED = "utmos22_strong_step7459_v1.pt (torch.hub tarepan/SpeechMOS:v1.0.0, utmos22_strong)"
#: ``utmos.checkpoint`` values that mean the published file; the release it is downloaded from (SpeechMOS hubconf).
HUB_NAMES = ("published", "tarepan/SpeechMOS:v1.0.0", "tarepan/SpeechMOS:v1.0.0:utmos22_strong")
RELEASE = "https://github.com/tarepan/SpeechMOS/releases/download/v1.0.0/"
RELEASE_FILE = "utmos22_strong_step7459_v1.pt"


def release_folder() -> Path:
    """Where the published checkpoint is kept: ``$CODECSTUDY_CACHE/models/utmos22-strong-v1.0.0``."""
    return cache_root() / "models" / "utmos22-strong-v1.0.0"


def _download_release() -> Path:
    """The published checkpoint in the cache (downloaded once, where a network is reachable)."""
    path = release_folder() / RELEASE_FILE
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        torch.hub.download_url_to_file(RELEASE + RELEASE_FILE, str(path), progress=False)
    except Exception as exc:
        raise MetricError(f"utmos checkpoint 'published': cannot download {RELEASE + RELEASE_FILE} "
                          f"({type(exc).__name__}); download it elsewhere and pass utmos.checkpoint=FILE") from None
    return path


def checkpoint_path(checkpoint: str | Path) -> Path:
    """The file ``utmos.checkpoint`` names: the published one (downloaded when missing) for a hub name."""
    return _download_release() if str(checkpoint) in HUB_NAMES else Path(checkpoint)


def utmos_models(checkpoint: str | None = None, **_: Any) -> list[HubModel]:
    """The published checkpoint, when ``utmos.checkpoint`` names it (a file downloads nothing)."""
    if str(checkpoint) not in HUB_NAMES:
        return []
    return [HubModel("UTMOS22 strong (utmos)", HUB_NAMES[1], GITHUB_RELEASE, str(release_folder()),
                     _download_release, lambda: files_present(release_folder(), [RELEASE_FILE]))]


class UTMOS22Strong:
    """Builds the network from a state dict's shapes; ``__call__`` maps ``[B, T]`` 16 kHz audio to ``[B]`` MOS."""

    def __init__(self, state: dict[str, Any], source: str = "checkpoint") -> None:
        ssl = {k[len("wav2vec2."):]: v for k, v in state.items() if k.startswith("wav2vec2.")}
        self.ssl = fairseq_wav2vec2(ssl, source, EXPECTED)
        hidden = self.ssl.config.hidden_size
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

    def to(self, device: Any) -> UTMOS22Strong:
        """Moves every part (the SSL model, the fixed embeddings, the BLSTM and the head) to ``device``."""
        self.ssl.to(device)
        self.blstm.to(device)
        self.projection.to(device)
        self.domain = self.domain.to(device)
        self.judge = self.judge.to(device)
        return self

    def __call__(self, wave: Any) -> Any:
        with torch.inference_mode():
            frames = self.ssl(wave.to(self.domain.device)).last_hidden_state
            batch, n, _ = frames.shape
            cat = torch.cat([frames, self.domain.expand(batch, n, -1), self.judge.expand(batch, n, -1)], dim=2)
            scores = self.projection(self.blstm(cat)[0])
            return scores.mean(dim=1).squeeze(1) * 2 + 3


def load_utmos22(path: str | Path) -> Any:
    """The model in ``path``: a UTMOS22 strong state dict, else a TorchScript export; otherwise one line naming the
    path and what was expected."""
    path = Path(path)
    if not path.is_file():
        raise MetricError(f"{path}: no such file; expected {EXPECTED}")
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            if any(name.endswith("constants.pkl") or "/code/" in name for name in archive.namelist()):
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


def load_utmos(checkpoint: str | Path) -> Any:
    """A TorchScript UTMOS model (``[B, T]`` 16 kHz -> ``[B]`` MOS), loaded on CPU in eval mode.

    UTMOS22 weights live on model hubs only; export them once where the hub is reachable, e.g.
    ``torch.jit.save(torch.jit.trace(model, torch.zeros(1, 16000)), "utmos.pt")``, and pass the file here.
    """
    path = Path(checkpoint)
    if not path.is_file():
        raise MetricError(f"UTMOS checkpoint not found: {path}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # torch 2.13 steers users to torch.export
            model = torch.jit.load(str(path), map_location="cpu")
    except Exception as exc:
        raise MetricError(f"{path}: not a TorchScript UTMOS export ({type(exc).__name__}: {exc})") from None
    return model.eval()


def utmos(
    ref: np.ndarray, est: np.ndarray, sr: int, *, checkpoint: str | None = None, device: str = "cpu", **_: Any
) -> dict[str, float]:
    """Predicted MOS of the estimate (non-intrusive, higher is better) from a UTMOS22 state dict or TorchScript."""
    if not checkpoint:
        raise MetricError(f"utmos needs settings utmos.checkpoint=PATH ({PUBLISHED}, or a TorchScript export) or "
                          "utmos.checkpoint=published")
    est = as_signal(est, "estimate", min_samples=int(0.1 * sr))
    where = torch_device(device)
    model = cached_model(("utmos", str(checkpoint), where),
                         lambda: load_utmos22(checkpoint_path(checkpoint)).to(where))
    with torch.inference_mode():
        score = model(torch.from_numpy(at_16k(est, sr)).float()[None].to(where))
    return {"utmos": finite(torch.as_tensor(score).float().mean().item(), "UTMOS")}


def utmos_info(checkpoint: str | None = None, **_: Any) -> dict[str, Any]:
    return {
        "format": "UTMOS22 strong state dict (SpeechMOS layout) or TorchScript",
        "checkpoint": checkpoint,
        "sha256": file_sha256(checkpoint_path(checkpoint)) if checkpoint else None,
    }
