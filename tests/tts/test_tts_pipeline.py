"""End to end on a few eSpeak-spoken clips and an untrained codec: train, save, load, synthesize, evaluate, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from codecstudy.corpus.records import Clip

pytest.importorskip("espeakng_loader", reason="the TTS needs espeakng-loader (tts extra)")

SENTENCES = [
    "Please enter your password.",
    "The conference is now locked.",
    "Thank you for calling.",
    "All circuits are busy now.",
    "You have one new message.",
    "Goodbye.",
]
TINY = [
    "model.dim=32",
    "model.heads=2",
    "model.encoder_layers=1",
    "model.decoder_layers=1",
    "model.ff_dim=64",
    "model.ff_kernel=3",
    "model.predictor_dim=32",
    "model.aligner_dim=32",
    "model.n_q=2",
    "train.steps=12",
    "train.warmup=4",
    "train.log_interval=4",
    "train.checkpoint_interval=6",
    "train.batch_frames=400",
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    from codecstudy.codec.registry import codec_from_preset, save_codec
    from codecstudy.corpus.espeak import synthesize

    folder = tmp_path_factory.mktemp("tts-corpus")
    lines = []
    for i, text in enumerate(SENTENCES):
        wave, rate = synthesize(text, "en-us")
        path = folder / f"s{i}.wav"
        sf.write(str(path), wave, rate)
        clip = Clip(id=f"t/{i}", path=str(path), start=0.0, duration=len(wave) / rate, sample_rate=rate,
                    language="en", domain="speech", speaker="espeak" if i % 2 else "espeak2", text=text,
                    source="test", license="CC0-1.0", split="train")
        lines.append(json.dumps(clip.to_json()))
    (folder / "train.jsonl").write_text("\n".join(lines) + "\n")
    save_codec(folder / "codec.pt", codec_from_preset("soundstream-tiny"))
    return folder


@pytest.fixture(scope="module")
def trained(corpus: Path) -> Path:
    from codecstudy.tts.config import load_tts_config
    from codecstudy.tts.train import train_tts

    out = corpus / "model"
    result = train_tts(corpus / "codec.pt", corpus / "train.jsonl", out, load_tts_config("tiny", TINY), False)
    assert result.steps == 12 and result.clips == len(SENTENCES)
    return out


def test_training_writes_a_self_contained_model(trained: Path) -> None:
    from codecstudy.tts.bundle import load_bundle

    summary = json.loads((trained / "summary.json").read_text())
    assert summary["steps"] == 12 and summary["speakers"] == ["espeak", "espeak2"] and summary["languages"] == ["en"]
    records = [json.loads(line) for line in (trained / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if r["kind"] == "train"] == [4, 8, 12]
    bundle = load_bundle(trained)
    assert bundle.step == 12 and bundle.model.n_q == 2 and bundle.codec.sample_rate == 16000
    assert any(s.startswith("en:") for s in bundle.table.symbols)


def test_resume_is_a_no_op_when_finished(trained: Path, corpus: Path) -> None:
    from codecstudy.tts.config import load_tts_config
    from codecstudy.tts.train import train_tts

    before = (trained / "model.pt").stat().st_mtime_ns
    result = train_tts(corpus / "codec.pt", corpus / "train.jsonl", trained, load_tts_config("tiny", TINY), False)
    assert result.steps == 12 and (trained / "model.pt").stat().st_mtime_ns == before


def test_synthesis_of_unseen_text_has_plausible_length(trained: Path) -> None:
    from codecstudy.tts.bundle import load_bundle
    from codecstudy.tts.synthesize import synthesize

    bundle = load_bundle(trained)
    out = synthesize(bundle, "Your call is important to us, please hold.", "en", speaker="espeak")
    hop = bundle.codec.hop_length
    assert out.codes.shape[0] == 2 and out.wave.shape[0] == out.codes.shape[1] * hop
    assert sum(out.durations) == out.codes.shape[1]
    assert all(d >= 1 for d in out.durations)  # every symbol, BOS/EOS included, gets at least one frame
    assert 0.1 < out.wave.shape[0] / out.sample_rate < 20.0 and np.isfinite(out.wave).all()
    again = synthesize(bundle, "Your call is important to us, please hold.", "en", speaker="espeak")
    assert np.array_equal(out.wave, again.wave)  # argmax decoding is deterministic


def test_cli_synthesize_and_evaluate_without_metrics(trained: Path, corpus: Path, tmp_path: Path) -> None:
    from codecstudy.cli import main
    from codecstudy.jsonl import read_jsonl

    wav = tmp_path / "x.wav"
    assert main(["tts", "synthesize", "--model", str(trained), "--text", "Hello there.", "--out", str(wav)]) == 0
    assert sf.info(str(wav)).samplerate == 16000
    out = tmp_path / "eval"
    args = ["tts", "evaluate", "--model", str(trained), "--data", str(corpus / "train.jsonl"), "--out", str(out),
            "--metrics", "", "--max-clips", "2", "--quiet"]
    assert main(args) == 0
    rows = list(read_jsonl(out / "results.jsonl"))
    assert sorted({r["system"] for r in rows}) == ["codec", "reference", "tts"] and len(rows) == 6
    assert (out / "table.md").read_text().count("| en |") == 3
    assert main(args) == 0 and len(list(read_jsonl(out / "results.jsonl"))) == 6  # resumed: nothing redone
    assert main(["tts", "synthesize", "--model", str(trained), "--text", "Hallo", "--language", "de",
                 "--out", str(wav)]) == 2
