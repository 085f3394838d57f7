"""`codecstudy corpus build|stats|conditions` end to end on a tiny generated corpus, and its error lines."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml
from helpers.audio import tone

from codecstudy.cli import main
from codecstudy.corpus.manifest import load_manifest
from codecstudy.corpus.sources import SOURCE_CLASSES


@pytest.fixture
def study(tmp_path, write_wav, monkeypatch):
    """A study file over a ListSource: two languages with several speakers each, plus music."""
    monkeypatch.setitem(SOURCE_CLASSES, "list", "helpers.listsource:ListSource")
    entries = []
    for lang in ("en", "es"):
        for i in range(12):
            path = write_wav(f"{lang}/{i}.wav", tone(1.0, freq=150 + 10 * i))
            entries.append(dict(path=str(path), source=f"list/{lang}", domain="speech", license="CC0", language=lang,
                                speaker=f"list:{lang}{i}", text="words", item_id=f"list/{lang}/{i}"))
    for i in range(12):
        path = write_wav(f"music/{i}.wav", tone(2.0, freq=440 + 20 * i))
        entries.append(dict(path=str(path), source="list/music", domain="music", license="CC0",
                            item_id=f"list/music/{i}"))
    entries.append(dict(path=str(tmp_path / "gone.wav"), source="list/en", domain="speech", license="CC0",
                        language="en", text="lost", item_id="list/en/gone"))
    data = {
        "name": "tiny",
        "corpus": {"sources": [{"kind": "list", "entries": entries}], "splits": {"valid": 0.2, "test": 0.2}},
        "conditions": [
            {"name": "english", "languages": ["en"], "domains": ["speech"]},
            {"name": "multilingual", "languages": ["en", "es"], "domains": ["speech"]},
            {"name": "multilingual_audio", "languages": ["en", "es", "none"]},
        ],
        "eval_sets": [{"name": "en", "languages": ["en"]}, {"name": "music", "domains": ["music"]}],
    }
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_build_stats_conditions(study, tmp_path, capsys):
    out = tmp_path / "corpus"
    assert main(["corpus", "build", "--config", str(study), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "36 clips" in printed and "skipped: 1 (file not found: 1)" in printed
    assert (out / "stats.png").stat().st_size > 1000
    clips = load_manifest(out)
    assert len(clips) == 36

    assert main(["corpus", "conditions", str(study), "--corpus", str(out)]) == 0
    printed = capsys.readouterr().out
    english = load_manifest(out / "conditions" / "english.jsonl")
    audio = load_manifest(out / "conditions" / "multilingual_audio.jsonl")
    assert sum(c.duration for c in english) == pytest.approx(sum(c.duration for c in audio), abs=2.0)
    assert "leakage" in printed and "LEAK" not in printed

    assert main(["corpus", "stats", "--corpus", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "training data per condition" in printed and "multilingual_audio" in printed
    en_row = next(line for line in printed.splitlines() if line.startswith("en ") and "speech" in line)
    assert float(en_row.split()[-1]) == pytest.approx(12.0 / 60, abs=0.05)  # 12 one-second clips, in minutes


def test_overrides_reach_the_config(study, tmp_path, capsys):
    out = tmp_path / "c2"
    code = main(["corpus", "build", "--config", str(study), "--out", str(out), "--quiet", "--workers", "1",
                 "--set", "clips.min_duration=1.5"])
    assert code == 0
    assert "too short: 24" in capsys.readouterr().out  # the 1-second speech clips


@pytest.mark.parametrize(
    "argv, message",
    [
        (["corpus", "build"], "name a --source"),
        (["corpus", "build", "--source", "ljspeech"], "--source ljspeech needs a dataset folder: add --root PATH"),
        (["corpus", "build", "--source", "ljspeech", "--root", "/nonexistent/lj"], "/nonexistent/lj"),
        (["corpus", "build", "--source", "bogus"], "unknown source kind 'bogus'"),
        (["corpus", "stats", "--corpus", "/nonexistent"], "manifest not found"),
        (["corpus", "conditions", "/nonexistent.yaml"], "/nonexistent.yaml: config file not found"),
    ],
)
def test_errors_are_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("codecstudy: error: ") and message in err and "\n" not in err


def test_bad_study_key_names_file_and_key(study, capsys):
    text = study.read_text().replace("match_volume", "match_volumes") + "match_volumez: true\n"
    study.write_text(text)
    assert main(["corpus", "conditions", str(study)]) == 2
    assert f"{study}: match_volumez: unknown key" in capsys.readouterr().err


def test_no_traceback_in_a_real_process(tmp_path):
    result = subprocess.run([sys.executable, "-m", "codecstudy.cli", "corpus", "build", "--source", "nope"],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "unknown source kind 'nope'" in result.stderr
    helped = subprocess.run([sys.executable, "-m", "codecstudy.cli", "corpus", "build", "--help"],
                            capture_output=True, text=True)
    assert helped.returncode == 0 and "resumes where a killed build stopped" in helped.stdout
