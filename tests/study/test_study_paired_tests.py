"""The study's paired tests resample as often as ``report.n_boot`` says, in ``pairwise`` and ``groups_pairwise``."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from helpers.studysetup import tiny_study, write_study

from codecstudy.study.layout import RunLayout
from codecstudy.study.spec import load_study
from codecstudy.study.tables import write_study_tables


@pytest.mark.parametrize(("n_boot", "p"), [(99, 0.01), (199, 0.005)])
def test_study_tables_use_report_n_boot_for_the_paired_tests(tmp_path: Path, n_boot: int, p: float) -> None:
    study = tiny_study(tmp_path, tmp_path / "synth")
    study["report"] = {"n_q": 2, "audio_clips": 2, "n_boot": n_boot, "test": "bootstrap"}
    spec = load_study(write_study(tmp_path / "tiny.yaml", study))
    layout = RunLayout(tmp_path / "run")
    for k, codec in enumerate(r.name for r in spec.codec_runs()):
        folder = layout.eval_dir(codec, "en")
        folder.mkdir(parents=True)
        # 30 clips (above the exact enumeration's 16), the second codec better on every one
        lines = [{"condition": codec, "set": "en", "n_q": 2, "clip": f"c{i:02d}", "language": "en",
                  "domain": "speech", "metrics": {"si_snr": 1.0 + k + 0.01 * i}} for i in range(30)]
        (folder / "results.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    write_study_tables(spec, layout)
    for name in ("pairwise.csv", "groups_pairwise.csv"):
        with (layout.tables / name).open(encoding="utf-8") as handle:
            (row,) = list(csv.DictReader(handle))
        # no random sign pattern is as extreme as the observed one: p = 1 / (n_boot + 1), never 0
        assert (row["n"], float(row["p"]), row["significant"]) == ("30", p, "True"), name
