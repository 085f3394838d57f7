"""`codecstudy evaluate` and `codecstudy aggregate` on the command line."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers.evalsignals import RATE, speech

from codecstudy import audio
from codecstudy.cli import main


def test_help_lists_metrics_and_modes(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    text = capsys.readouterr().out
    for word in ("mcd_dtw", "visqol_audio", "dnsmos", "spk_sim", "wer", "parity", "--pairs", "aggregate"):
        assert word in text


def test_usage_errors_are_one_line(capsys, tmp_path) -> None:
    assert main(["evaluate", "--codec", "soundstream-tiny", "--out", str(tmp_path)]) == 2
    assert "needs --set" in capsys.readouterr().err
    assert (
        main(["evaluate", "--pairs", str(tmp_path), str(tmp_path), "--out", str(tmp_path / "o"), "--metrics", "nope"])
        == 2
    )
    assert "unknown metric 'nope'" in capsys.readouterr().err
    assert (
        main(["evaluate", "--pairs", str(tmp_path), str(tmp_path), "--out", str(tmp_path / "o"), "--metric-set", "bad"])
        == 2
    )
    assert "METRIC.KEY=VALUE" in capsys.readouterr().err


def test_pairs_then_aggregate(tmp_path, capsys) -> None:
    pytest.importorskip("pesq")
    x = speech().astype(np.float32)
    rng = np.random.default_rng(0)
    for i in range(3):
        audio.write(tmp_path / "ref" / f"u{i}.wav", x, RATE)
        audio.write(tmp_path / "good" / f"u{i}.flac", x + 0.001 * rng.standard_normal(x.size).astype(np.float32), RATE)
        audio.write(tmp_path / "bad" / f"u{i}.wav", x + 0.05 * rng.standard_normal(x.size).astype(np.float32), RATE)
    for name in ("good", "bad"):
        code = main(
            [
                "evaluate",
                "--pairs",
                str(tmp_path / "ref"),
                str(tmp_path / name),
                "--out",
                str(tmp_path / "eval" / name),
                "--metrics",
                "pesq,si_snr",
                "--workers",
                "1",
                "--quiet",
                "--no-ref-cache",
                "--metric-set",
                "si_snr.clamp_db=60",
            ]
        )
        assert code == 0
    meta = json.loads((tmp_path / "eval" / "good" / "meta.json").read_text())
    assert meta["metrics"]["si_snr"]["settings"]["clamp_db"] == 60
    assert main(["aggregate", str(tmp_path / "eval"), "--out", str(tmp_path / "tables")]) == 0
    out = capsys.readouterr().out
    assert "good" in out and "bad" in out
    counts = (tmp_path / "tables" / "counts.csv").read_text()
    assert "good,2,0,2" in counts and "bad,0,2,2" in counts
