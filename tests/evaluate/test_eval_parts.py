"""Metric parts: an evaluation scored as a GPU part (a random-weight SpeechBERTScore, on the CPU here) and a DSP part,
joined by the readers, gives the lines, usage and tables of one run scoring every metric; a clip counts only once
every part has scored it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers.evalsignals import speech

from codecstudy import audio
from codecstudy.corpus.manifest import save_manifest
from codecstudy.corpus.records import Clip
from codecstudy.errors import CodecStudyError
from codecstudy.evaluate.aggregate import load_results, write_tables
from codecstudy.evaluate.outputs import done_clips, read_results
from codecstudy.evaluate.parts import join_lines, parts_of
from codecstudy.evaluate.registry import resolve_metrics
from codecstudy.evaluate.scorer import evaluate_codec
from codecstudy.evaluate.settings import EvalSettings

pytest.importorskip("transformers", reason="transformers is in the eval extra")

TEXTS = ["hello world", "codecs compress speech", "good morning"]
# model and DSP metrics interleaved: the joined line must keep this order (the tables list metrics by it)
METRICS = ["mel_distance", "speech_bert", "si_snr"]
N_QS = [1, 2]


@pytest.fixture(scope="module")
def eval_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("set")
    clips = []
    for i, text in enumerate(TEXTS):
        x = speech(text, 16000)
        path = audio.write(root / "wav" / f"c{i}.wav", x.astype(np.float32), 16000)
        clips.append(Clip(id=f"spk/c{i}", path=str(path), start=0.0, duration=x.size / 16000, sample_rate=16000,
                          language="en", domain="speech", speaker="espeak", text=text, source="test",
                          license="test", split="test"))
    return save_manifest(root / "speech-en.jsonl", clips)


@pytest.fixture(scope="module")
def wavlm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from helpers.randommodels import save_random_wavlm

    return save_random_wavlm(tmp_path_factory.mktemp("wavlm"))


def _settings(wavlm: Path, **changes: object) -> EvalSettings:
    base: dict[str, object] = dict(metrics=METRICS, mode="fast", ref_cache=None, threads=1,
                                   overrides={"speech_bert": {"model": str(wavlm), "layer": 3}})
    base.update(changes)
    return EvalSettings(**base)  # type: ignore[arg-type]


def _by_clip(folder: Path) -> dict[str, dict]:
    """Each clip's line without its timing (the only field two runs need not share)."""
    return {r["clip"]: {k: v for k, v in r.items() if k != "seconds"} for r in read_results(folder)}


def _score(eval_set: Path, out: Path, settings: EvalSettings) -> int:
    return evaluate_codec("soundstream-tiny", eval_set, out, N_QS, settings).scored


def test_two_parts_joined_equal_one_run_of_every_metric(eval_set: Path, wavlm: Path, tmp_path: Path) -> None:
    whole, split = tmp_path / "whole", tmp_path / "split"
    _score(eval_set, whole, _settings(wavlm))
    assert _score(eval_set, split, _settings(wavlm, part="gpu")) == len(TEXTS)
    for shard in range(2):  # the DSP part as two shards, as a job array runs it
        _score(eval_set, split, _settings(wavlm, part="cpu", shard=(shard, 2)))
    assert sorted(p.name for p in (split / "1").glob("results*")) == [
        "results.part-cpu.shard-0-of-2.jsonl", "results.part-cpu.shard-1-of-2.jsonl", "results.part-gpu.jsonl"]
    gpu_line = json.loads((split / "1" / "results.part-gpu.jsonl").read_text().splitlines()[0])
    assert list(gpu_line["metrics"]) == ["speech_bert", "speech_bert_recall", "speech_bert_f1"]
    assert gpu_line["part"] == {"name": "gpu", "parts": ["gpu", "cpu"], "metrics": METRICS}
    for n_q in N_QS:
        joined, one = _by_clip(split / str(n_q)), _by_clip(whole / str(n_q))
        assert sorted(joined) == sorted(one) == [f"spk/c{i}" for i in range(len(TEXTS))]
        assert joined == one
        for clip in one:  # the same order of values too: the tables list metrics in the order they first appear
            assert list(joined[clip]["metrics"]) == list(one[clip]["metrics"]) == [
                "mel_distance", "speech_bert", "speech_bert_recall", "speech_bert_f1", "si_snr"]
            assert joined[clip]["alignment"]["clip_lag_samples"] is not None  # measured by the DSP part
        assert 0.0 < one["spk/c0"]["metrics"]["speech_bert"] < 1.0
        assert json.loads((split / str(n_q) / "usage.json").read_text()) == json.loads(
            (whole / str(n_q) / "usage.json").read_text())
    meta_split, meta_whole = (json.loads((f / "meta.json").read_text()) for f in (split, whole))
    assert meta_split["metrics"].keys() == meta_whole["metrics"].keys() and list(meta_whole["metrics"]) == METRICS
    assert sorted(meta_split["device"]["parts"]) == ["cpu", "gpu"]
    tables = {name: write_tables(load_results([folder]), tmp_path / f"tables-{name}", n_boot=50)
              for name, folder in (("split", split), ("whole", whole))}
    for table in ("summary.csv", "summary.md", "counts.csv", "pairwise.csv"):
        assert tables["split"][table].read_text() == tables["whole"][table].read_text(), table
    assert "speech_bert" in tables["split"]["summary.csv"].read_text()


def test_a_clip_counts_only_once_every_part_scored_it(eval_set: Path, wavlm: Path, tmp_path: Path) -> None:
    out = tmp_path / "eval"
    _score(eval_set, out, _settings(wavlm, part="gpu"))
    folder = out / "1"
    assert read_results(folder) == [] and done_clips(folder) == set()
    assert done_clips(folder, "gpu") == {f"spk/c{i}" for i in range(len(TEXTS))} and done_clips(folder, "cpu") == set()
    assert _score(eval_set, out, _settings(wavlm, part="gpu")) == 0  # resumed: nothing left for this part
    _score(eval_set, out, _settings(wavlm, part="cpu", shard=(0, 2)))  # clips 0 and 2
    assert sorted(r["clip"] for r in read_results(folder)) == ["spk/c0", "spk/c2"]
    # a whole run scores only what no line covers yet, and its lines stand alone
    assert _score(eval_set, out, _settings(wavlm)) == 1
    assert sorted(r["clip"] for r in read_results(folder)) == [f"spk/c{i}" for i in range(len(TEXTS))]
    assert sorted(p.name for p in folder.glob("results*")) == [
        "results.jsonl", "results.part-cpu.shard-0-of-2.jsonl", "results.part-gpu.jsonl"]


def test_a_part_with_none_of_the_requested_metrics_is_refused(eval_set: Path, tmp_path: Path) -> None:
    settings = EvalSettings(metrics=["si_snr"], part="gpu", ref_cache=None, threads=1)
    with pytest.raises(CodecStudyError, match=r"metrics part gpu: none of the requested metrics \(si_snr\)"):
        _score(eval_set, tmp_path / "eval", settings)
    with pytest.raises(CodecStudyError, match="metrics part must be one of gpu, cpu, got 'tpu'"):
        EvalSettings(metrics=["si_snr"], part="tpu").scored_specs()
    assert parts_of(resolve_metrics(["si_snr", "utmos", "dnsmos", "spk_sim"])) == ["gpu", "cpu"]
    assert parts_of(resolve_metrics(["default"])) == ["cpu"]


def test_join_keeps_a_codec_failure_and_orders_errors_and_skip_notes_by_metric() -> None:
    head = {"clip": "a", "n_q": 1, "setting": "1"}
    gpu = {**head, "metrics": {"utmos": 3.0}, "errors": {}, "skipped": {"speech_bert": "not applicable: short"},
           "alignment": {"delay_samples": 5, "clip_lag_samples": None}, "seconds": 1.0, "part": {"name": "gpu"}}
    cpu = {**head, "metrics": {"pesq": 2.0}, "errors": {"stoi": "too short"}, "asr_text": "hi",
           "alignment": {"delay_samples": 5, "clip_lag_samples": 3}, "seconds": 0.5, "part": {"name": "cpu"}}
    joined = join_lines([gpu, cpu], ["pesq", "speech_bert", "stoi", "utmos"])
    assert list(joined) == ["clip", "n_q", "setting", "metrics", "errors", "alignment", "seconds", "asr_text",
                            "skipped"]
    assert list(joined["metrics"].items()) == [("pesq", 2.0), ("utmos", 3.0)]
    assert joined["errors"] == {"stoi": "too short"} and joined["alignment"]["clip_lag_samples"] == 3
    assert joined["seconds"] == 1.5 and joined["asr_text"] == "hi"
    failed = {**head, "error": "codec failed: boom", "metrics": {}, "errors": {}, "part": {"name": "cpu"}}
    assert join_lines([gpu, failed], ["pesq", "utmos"]) == {**head, "error": "codec failed: boom", "metrics": {},
                                                              "errors": {}}
