"""`codec list`, `codec info` and `evaluate --codec` with codecs codecstudy does not train."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from codecstudy.cli import main
from codecstudy.codec.external import KINDS


def test_codec_list_names_every_kind_and_the_presets(capsys) -> None:
    assert main(["codec", "list"]) == 0
    out = capsys.readouterr().out
    assert "soundstream-tiny" in out and "espnet:PATH" in out
    for kind in KINDS:
        assert f"\n{kind} " in out


def test_codec_info_says_rate_settings_delay_and_weights(capsys) -> None:
    assert main(["codec", "info", "opus:6kbps"]) == 0
    out = capsys.readouterr().out
    assert "16000 Hz" in out and "50 frames/s" in out and "6kbps = 6 kbps" in out
    assert "104 samples" in out and "libopus" in out
    assert main(["codec", "info", "codec2"]) == 0
    out = capsys.readouterr().out
    assert "8000 Hz" in out and "3200 = 3.2 kbps" in out and "calibrated by the scorer" in out


def test_bad_names_are_one_line_errors(capsys, monkeypatch) -> None:
    assert main(["codec", "info", "opus:5kbps"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "offers: 6kbps" in err
    monkeypatch.setitem(sys.modules, "pycodec2", None)
    assert main(["evaluate", "--codec", "codec2:3200", "--set", "x.jsonl", "--out", "o"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "pycodec2" in err and "classic" in err


def test_evaluate_a_classic_codec_from_the_command_line(tmp_path: Path, capsys, write_wav) -> None:
    from codecstudy.corpus.manifest import save_manifest
    from codecstudy.corpus.records import Clip

    t = np.arange(16000) / 16000
    path = write_wav("a.wav", (0.3 * np.sin(2 * np.pi * 200 * t) * (1 + np.sin(2 * np.pi * 2 * t))).astype(np.float32))
    clip = Clip(id="a", path=str(path), start=0.0, duration=1.0, sample_rate=16000, language="en", domain="speech",
                speaker="s", text=None, source="t", license="t", split="test")
    manifest = save_manifest(tmp_path / "set.jsonl", [clip])
    out = tmp_path / "eval"
    args = ["evaluate", "--codec", "opus:6kbps", "--set", str(manifest), "--out", str(out), "--metrics", "si_snr",
            "--mode", "fast", "--workers", "1", "--no-ref-cache", "--quiet"]
    assert main(args) == 0
    assert "1 clips scored" in capsys.readouterr().out
    from codecstudy.evaluate.outputs import read_results

    (record,) = read_results(out / "6kbps")
    assert record["condition"] == "opus-6kbps" and record["measured_bitrate_bps"] > 5000
