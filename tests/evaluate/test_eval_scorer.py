"""The scorer end to end: codec mode, resume after a crash or SIGKILL, shards, pairs mode, bad inputs, meta."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers.evalsignals import RATE, speech

from codecstudy import audio
from codecstudy.codec.interface import Codec, RoundTrip, Setting
from codecstudy.corpus.manifest import save_manifest
from codecstudy.corpus.records import Clip
from codecstudy.errors import CodecStudyError
from codecstudy.evaluate import scorer
from codecstudy.evaluate.outputs import read_results
from codecstudy.evaluate.pairs import evaluate_pairs
from codecstudy.evaluate.scorer import evaluate_codec
from codecstudy.evaluate.settings import EvalSettings, parse_shard

pytest.importorskip("pyworld", reason="pyworld is in the eval extra")

TEXTS = ["hello world", "the quick brown fox", "codecs compress speech", "one two three", "good morning", "yes no"]
FAST = ["si_snr", "mel_distance", "mcd", "f0_corr", "pesq"]


@pytest.fixture(scope="module")
def eval_set(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("set")
    clips = []
    for i, text in enumerate(TEXTS):
        x = speech(text, 22050)
        path = audio.write(root / "wav" / f"c{i}.wav", x.astype(np.float32), 22050)
        clips.append(
            Clip(
                id=f"spk/c{i}",
                path=str(path),
                start=0.0,
                duration=x.size / 22050,
                sample_rate=22050,
                language="en",
                domain="speech",
                speaker="espeak",
                text=text,
                source="test",
                license="test",
                split="test",
            )
        )
    return save_manifest(root / "speech-en.jsonl", clips)


def settings(tmp: Path, **kw) -> EvalSettings:
    base = dict(metrics=FAST, mode="fast", ref_cache=tmp / "cache", threads=1)
    base.update(kw)
    return EvalSettings(**base)


def comparable(folder: Path) -> dict[tuple[str, int], dict]:
    out = {}
    for record in read_results(folder):
        record = dict(record)
        record.pop("seconds", None)
        out[(record["clip"], record["n_q"])] = record
    return out


def test_codec_mode_writes_results_usage_and_meta(eval_set: Path, tmp_path: Path) -> None:
    out = tmp_path / "eval" / "soundstream-tiny" / "speech-en"
    summary = evaluate_codec("soundstream-tiny", eval_set, out, [1, 4], settings(tmp_path))
    assert summary.scored == len(TEXTS) and summary.skipped == 0
    for n_q in (1, 4):
        records = read_results(out / str(n_q))
        assert sorted(r["clip"] for r in records) == sorted(f"spk/c{i}" for i in range(len(TEXTS)))
        for r in records:
            assert r["condition"] == "soundstream-tiny" and r["set"] == "speech-en" and r["n_q"] == n_q
            assert r["sample_rate"] == 16000 and r["bitrate_bps"] == n_q * 8 * 50
            assert set(r["metrics"]) >= {"si_snr", "mel_distance", "mcd", "pesq"}
            assert all(v is None or np.isfinite(v) for v in r["metrics"].values())
            assert r["alignment"]["length_ref"] == r["alignment"]["length_est"]
        usage = json.loads((out / str(n_q) / "usage.json").read_text())
        assert usage["n_q"] == n_q and usage["clips"] == len(TEXTS) and usage["codebook_size"] == 256
    meta = json.loads((out / "meta.json").read_text())
    assert meta["mode"] == "fast" and meta["metrics"]["mcd"]["settings"]["f0_method"] == "dio"
    assert meta["metrics"]["pesq"]["versions"]["pesq"]
    assert len(meta["codec_identity"]) == 64 and meta["n_q"] == [1, 4]
    # a rerun does nothing; adding an n_q scores only that one
    assert evaluate_codec("soundstream-tiny", eval_set, out, [1, 4], settings(tmp_path)).scored == 0
    assert evaluate_codec("soundstream-tiny", eval_set, out, [1, 4, 8], settings(tmp_path)).scored == len(TEXTS)
    assert len(read_results(out / "4")) == len(TEXTS)
    assert json.loads((out / "meta.json").read_text())["n_q"] == [1, 4, 8]


def test_resume_after_crash_scores_each_clip_once(eval_set: Path, tmp_path: Path, monkeypatch) -> None:
    reference = tmp_path / "uninterrupted"
    evaluate_codec("encodec-tiny", eval_set, reference, [2, 8], settings(tmp_path))

    out = tmp_path / "crashed"
    real = scorer.score_clip
    calls = {"n": 0}

    def crashing(worker, job):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(worker, job)

    monkeypatch.setattr(scorer, "score_clip", crashing)
    with pytest.raises(KeyboardInterrupt):
        evaluate_codec("encodec-tiny", eval_set, out, [2, 8], settings(tmp_path))
    assert len(read_results(out / "2")) == 2
    # a torn half line, as a kill during a write would leave
    with (out / "2" / "results.jsonl").open("a") as handle:
        handle.write('{"clip": "spk/c2", "n_q": 2, "metr')
    monkeypatch.setattr(scorer, "score_clip", real)
    seen = []
    monkeypatch.setattr(scorer, "score_clip", lambda worker, job: seen.append(job.clip["id"]) or real(worker, job))
    summary = evaluate_codec("encodec-tiny", eval_set, out, [2, 8], settings(tmp_path))
    assert summary.skipped == 2 and sorted(seen) == [f"spk/c{i}" for i in range(2, len(TEXTS))]
    assert comparable(out / "2") == comparable(reference / "2")
    assert comparable(out / "8") == comparable(reference / "8")


def test_sigkill_then_rerun_equals_uninterrupted_run(eval_set: Path, tmp_path: Path) -> None:
    cmd = [
        sys.executable,
        "-m",
        "codecstudy.cli",
        "evaluate",
        "--codec",
        "soundstream-tiny",
        "--set",
        str(eval_set),
        "--n-q",
        "2",
        "--metrics",
        "mcd,si_snr",
        "--mode",
        "parity",
        "--workers",
        "1",
        "--quiet",
        "--ref-cache",
        str(tmp_path / "cache"),
    ]
    out = tmp_path / "killed"
    proc = subprocess.Popen([*cmd, "--out", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results = out / "2" / "results.jsonl"
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        if results.is_file() and results.read_text().count("\n") >= 2:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = len(read_results(out / "2"))
    assert 2 <= partial < len(TEXTS)
    subprocess.run([*cmd, "--out", str(out)], check=True, capture_output=True)
    subprocess.run([*cmd, "--out", str(tmp_path / "whole")], check=True, capture_output=True)
    clips = [r["clip"] for r in read_results(out / "2")]
    assert len(clips) == len(set(clips)) == len(TEXTS)
    assert comparable(out / "2") == comparable(tmp_path / "whole" / "2")


def test_shards_split_the_clips(eval_set: Path, tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "sharded"
    for i in range(2):
        evaluate_codec("soundstream-tiny", eval_set, out, [1], settings(tmp_path, metrics=["si_snr"], shard=(i, 2)))
    files = sorted(p.name for p in (out / "1").glob("results*.jsonl"))
    assert files == ["results.shard-0-of-2.jsonl", "results.shard-1-of-2.jsonl"]
    clips = [r["clip"] for r in read_results(out / "1")]
    assert sorted(clips) == sorted(f"spk/c{i}" for i in range(len(TEXTS)))
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "3")
    assert parse_shard(None) == (1, 3)
    assert parse_shard("2/4") == (2, 4)
    with pytest.raises(CodecStudyError):
        parse_shard("4/4")


def test_limit_and_decoded_audio(eval_set: Path, tmp_path: Path) -> None:
    out = tmp_path / "audio"
    evaluate_codec(
        "soundstream-tiny",
        eval_set,
        out,
        [2],
        settings(tmp_path, metrics=["si_snr"], save_audio=True),
        limit=2,
        name="mycodec",
        set_name="myset",
    )
    records = read_results(out / "2")
    assert len(records) == 2 and {r["condition"] for r in records} == {"mycodec"} and records[0]["set"] == "myset"
    wavs = sorted((out / "2" / "audio").glob("*.wav"))
    assert len(wavs) == 2
    samples, rate = audio.read(wavs[0])
    assert rate == 16000 and samples.size in {r["alignment"]["length_est"] for r in records}


def test_process_pool_gives_the_same_results(eval_set: Path, tmp_path: Path) -> None:
    single = tmp_path / "one"
    pooled = tmp_path / "two"
    evaluate_codec("dac-tiny", eval_set, single, [4], settings(tmp_path, metrics=["si_snr", "mcd"], workers=1))
    evaluate_codec("dac-tiny", eval_set, pooled, [4], settings(tmp_path, metrics=["si_snr", "mcd"], workers=2))
    assert comparable(single / "4") == comparable(pooled / "4")


def test_settings_change_is_refused(eval_set: Path, tmp_path: Path) -> None:
    out = tmp_path / "meta"
    evaluate_codec("soundstream-tiny", eval_set, out, [1], settings(tmp_path, metrics=["si_snr"]))
    with pytest.raises(CodecStudyError, match="other settings"):
        evaluate_codec(
            "soundstream-tiny",
            eval_set,
            out,
            [1],
            settings(tmp_path, metrics=["si_snr"], mode="parity", overrides={"si_snr": {"zero_mean": True}}),
        )
    summary = evaluate_codec(
        "soundstream-tiny",
        eval_set,
        out,
        [1],
        settings(tmp_path, metrics=["si_snr"], overrides={"si_snr": {"zero_mean": True}}),
        force=True,
    )
    assert summary.scored == len(TEXTS)


def test_reference_features_are_cached_across_codecs(eval_set: Path, tmp_path: Path) -> None:
    from codecstudy.evaluate.cache import FeatureCache

    cache_dir = tmp_path / "refcache"
    evaluate_codec(
        "soundstream-tiny", eval_set, tmp_path / "a", [1], settings(tmp_path, metrics=["mcd"], ref_cache=cache_dir)
    )
    entries = list((cache_dir / "world").rglob("*.npz"))
    assert len(entries) == len(TEXTS)
    mtimes = {p: p.stat().st_mtime_ns for p in entries}
    evaluate_codec(
        "encodec-tiny", eval_set, tmp_path / "b", [1], settings(tmp_path, metrics=["mcd"], ref_cache=cache_dir)
    )
    assert {p: p.stat().st_mtime_ns for p in (cache_dir / "world").rglob("*.npz")} == mtimes
    cache = FeatureCache(cache_dir)
    value = cache.get("world", entries[0].stem, lambda: pytest.fail("should come from disk"))
    assert set(value) == {"f0", "mcep", "npow"}


def _write(path: Path, x: np.ndarray, rate: int = RATE) -> None:
    audio.write(path, np.asarray(x, dtype=np.float32), rate, subtype="FLOAT")  # float WAV keeps NaN


def test_pairs_mode_with_bad_inputs(tmp_path: Path) -> None:
    ref_dir, dec_dir = tmp_path / "ref", tmp_path / "dec"
    x = speech()
    _write(ref_dir / "a" / "good.wav", x)
    _write(ref_dir / "a" / "silent.wav", x)
    _write(ref_dir / "short.wav", x[:800])
    _write(ref_dir / "nan.wav", x)
    _write(ref_dir / "long.wav", x)
    _write(ref_dir / "delayed.wav", x)
    _write(dec_dir / "a" / "good.wav", x + 0.0005 * np.random.default_rng(0).standard_normal(x.size))
    _write(dec_dir / "a" / "silent.wav", np.zeros_like(x))
    _write(dec_dir / "short.wav", x[:800])
    bad = x.copy()
    bad[1000:1010] = np.nan
    _write(dec_dir / "nan.wav", bad)
    _write(dec_dir / "long.wav", np.concatenate([x, x]))
    _write(dec_dir / "delayed.wav", np.concatenate([np.zeros(160), x[:-160]]))
    _write(dec_dir / "orphan.wav", x)
    out = tmp_path / "out"
    metrics = ["pesq", "stoi", "si_snr", "mcd", *(["dnsmos"] if _has("speechmos") else [])]
    summary = evaluate_pairs(
        ref_dir,
        dec_dir,
        out,
        settings(tmp_path, metrics=metrics),
    )
    assert summary.scored == 6
    records = {r["clip"]: r for r in read_results(out)}
    assert set(records) == {"a/good", "a/silent", "short", "nan", "long", "delayed"}
    assert json.loads((out / "meta.json").read_text())["unmatched"] == ["orphan"]
    good = records["a/good"]
    assert not good["errors"] and good["metrics"]["pesq"] > 3
    silent = records["a/silent"]
    assert "silent" in silent["errors"]["pesq"] and "silent" in silent["errors"]["si_snr"]
    assert silent["metrics"].get("pesq") is None
    assert "mcd" in silent["metrics"]  # defined on silence: a (very bad) distance, not an error
    short = records["short"]  # 0.05 s: below PESQ's and STOI's minimum, a skip (not applicable), not a failure
    assert short["skipped"]["pesq"] == "not applicable: shorter than 0.25 s (clip is 0.050 s)"
    assert short["skipped"]["stoi"] == "not applicable: shorter than 0.5121 s (clip is 0.050 s)"
    assert "pesq" not in short["errors"] and "stoi" not in short["errors"]
    assert "non-finite" in (records["nan"]["errors"].get("si_snr") or ""), records["nan"]
    assert "length mismatch" in records["long"]["errors"]["si_snr"]
    assert "pesq" in records["long"]["metrics"]  # PESQ aligns by itself and is not subject to the 10 % rule
    # one delay for the folder: the consensus of its pairs (0); the odd clip's own lag is recorded, not applied
    assert json.loads((out / "meta.json").read_text())["delay"]["all"]["samples"] == 0
    delayed = records["delayed"]
    assert delayed["alignment"]["delay_samples"] == 0 and delayed["alignment"]["clip_lag_samples"] == 160
    assert delayed["metrics"]["si_snr"] < 0
    for record in records.values():
        for value in record["metrics"].values():
            assert value is None or np.isfinite(value)
        for metric in record["errors"]:
            assert record["metrics"].get(metric) is None
    again = evaluate_pairs(
        ref_dir,
        dec_dir,
        out,
        settings(tmp_path, metrics=metrics),
    )
    assert again.scored == 0 and again.skipped == 6


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def test_missing_library_names_the_extra(monkeypatch) -> None:
    import importlib.util

    from codecstudy.evaluate.base import MissingDependency
    from codecstudy.evaluate.dependencies import check_available
    from codecstudy.evaluate.registry import resolve_metrics

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pesq" else real(name, *a))
    with pytest.raises(MissingDependency, match=r"codecstudy\[eval\]"):
        check_available(resolve_metrics(["pesq"]))


def test_pairs_mode_pool_equals_single_process(tmp_path: Path) -> None:
    x = speech()
    rng = np.random.default_rng(5)
    for i in range(3):
        _write(tmp_path / "ref" / f"u{i}.wav", x)
        _write(tmp_path / "dec" / f"u{i}.wav", x + 0.002 * (i + 1) * rng.standard_normal(x.size))
    runs = {}
    for workers in (1, 2):
        out = tmp_path / f"w{workers}"
        evaluate_pairs(
            tmp_path / "ref", tmp_path / "dec", out, settings(tmp_path, metrics=["pesq", "si_snr"], workers=workers)
        )
        runs[workers] = {k[0]: v for k, v in comparable(out).items()}
    assert runs[1] == runs[2] and len(runs[1]) == 3


def test_pairs_mode_calibrates_one_delay_for_the_folder(tmp_path: Path) -> None:
    ref_dir, dec_dir = tmp_path / "ref", tmp_path / "dec"
    for i, text in enumerate(TEXTS):
        x = speech(text)
        _write(ref_dir / f"c{i}.wav", x)
        _write(dec_dir / f"c{i}.wav", np.concatenate([np.zeros(160), x[:-160]]))
    out = tmp_path / "out"
    evaluate_pairs(ref_dir, dec_dir, out, settings(tmp_path, metrics=["si_snr"]))
    delay = json.loads((out / "delay.json").read_text())["settings"]["all"]
    assert delay["delay"]["samples"] == 160 and delay["delay"]["source"] == "calibration"
    assert delay["agreement"]["clear_matches"] == len(TEXTS) and not delay["agreement"]["flag"]
    for record in read_results(out):
        assert record["alignment"]["delay_samples"] == 160 and record["metrics"]["si_snr"] > 30
    given = tmp_path / "given"
    evaluate_pairs(ref_dir, dec_dir, given, settings(tmp_path, metrics=["si_snr"], delay_samples=0))
    assert all(r["alignment"]["delay_samples"] == 0 and r["metrics"]["si_snr"] < 0 for r in read_results(given))
    assert json.loads((given / "meta.json").read_text())["delay"]["all"]["source"] == "given"


class _DelayLine(Codec):
    """A stand-in codec whose output is its input ``shift`` samples late; ``declared`` is what it says of that."""

    kind = "delay-line"

    def __init__(self, shift: int, declared: int | None) -> None:
        super().__init__("delay-line")
        self.shift, self.declared = shift, declared

    @property
    def sample_rate(self) -> int:
        return 16000

    def settings(self) -> list[Setting]:
        return [Setting("1", 800.0, 1), Setting("8", 6400.0, 8)]

    def delay_samples(self, setting: str) -> int | None:
        return self.declared

    def roundtrip(self, wave: np.ndarray, setting: str) -> RoundTrip:
        return RoundTrip(np.concatenate([np.zeros(self.shift, np.float32), wave]), n_bytes=100)


@pytest.mark.parametrize("declared", [240, None], ids=["declared", "calibrated"])
def test_codec_mode_shifts_every_clip_by_the_codec_delay(eval_set: Path, tmp_path: Path, monkeypatch, declared) -> None:
    from codecstudy.evaluate import pool

    for module in (scorer, pool):  # the run opens the codec, and so does each worker
        monkeypatch.setattr(module, "open_codec", lambda source: _DelayLine(240, declared))
    out = tmp_path / "out"
    evaluate_codec("delay-line", eval_set, out, [1, 8], settings(tmp_path, metrics=["si_snr", "stoi"]))
    meta = json.loads((out / "meta.json").read_text())
    assert meta["delay"]["8"]["samples"] == 240
    assert meta["delay"]["8"]["source"] == ("structure" if declared else "calibration")
    for n_q in (1, 8):
        for record in read_results(out / str(n_q)):
            assert record["alignment"]["delay_samples"] == 240 and record["alignment"]["clip_lag_samples"] == 240
            assert record["metrics"]["si_snr"] > 30 and record["metrics"]["stoi"] > 0.99


def test_a_delay_calibrated_on_too_few_clips_shows_its_confidence_and_warns(eval_set: Path, tmp_path: Path,
                                                                           monkeypatch, capsys) -> None:
    """AMR-WB on a 2-clip set: both clips lag, but two clips are fewer than the three a calibration needs."""
    from codecstudy.evaluate import pool

    for module in (scorer, pool):
        monkeypatch.setattr(module, "open_codec", lambda source: _DelayLine(94, None))
    out = tmp_path / "out"
    evaluate_codec("delay-line", eval_set, out, [8], settings(tmp_path, metrics=["si_snr"]), limit=2)
    delay = json.loads((out / "meta.json").read_text())["delay"]["8"]
    assert delay["samples"] == 0 and delay["clips"] == 2 and delay["confidence"] == pytest.approx(0.6667)
    assert delay["method"] == "too few clips (2 of the 3 needed): not shifted"
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert warnings == ["warning: codec delay-line at 8: delay calibration on too few clips (2 of the 3 needed): "
                        "not shifted (confidence 0.67)"]


def test_a_clip_scores_the_same_alone_and_inside_its_set(eval_set: Path, tmp_path: Path) -> None:
    from codecstudy.corpus.manifest import load_manifest

    clips = load_manifest(eval_set)
    alone = save_manifest(tmp_path / "alone.jsonl", clips[2:3])
    evaluate_codec("soundstream-tiny", eval_set, tmp_path / "set", [2], settings(tmp_path))
    evaluate_codec("soundstream-tiny", alone, tmp_path / "alone", [2], settings(tmp_path))
    in_set = {r["clip"]: r for r in read_results(tmp_path / "set" / "2")}[clips[2].id]
    (only,) = read_results(tmp_path / "alone" / "2")
    assert only["metrics"] == in_set["metrics"] and only["alignment"] == in_set["alignment"]
    assert json.loads((tmp_path / "set" / "delay.json").read_text())["settings"]["2"]["delay"]["source"] == "structure"


def test_metric_kept_to_some_numbers_of_codebooks(eval_set: Path, tmp_path: Path) -> None:
    """A study's ``validity: {metric: {n_q: [...]}}``: computed at those settings only, a skip note elsewhere."""
    out = tmp_path / "eval"
    kept = settings(tmp_path, metrics=["si_snr", "mel_distance"], validity={"mel_distance": {"n_q": [4]}})
    evaluate_codec("soundstream-tiny", eval_set, out, [1, 4], kept)
    records = {**comparable(out / "1"), **comparable(out / "4")}
    assert len(records) == 2 * len(TEXTS)
    for (clip, n_q), record in records.items():
        assert "si_snr" in record["metrics"], clip
        if n_q == 4:
            assert np.isfinite(record["metrics"]["mel_distance"]) and "skipped" not in record
        else:
            assert "mel_distance" not in record["metrics"]
            assert record["skipped"] == {"mel_distance": "not computed at 1 codebooks (the study asks for 4 only)"}
