"""What a study asks of the scorer: the robust frame rule by default (``evaluate.frames``), parity when asked,
and ``codecstudy evaluate`` alone keeping the metrics' parity default."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers.evalsignals import RATE, lowpass, padded, speech, with_noise
from helpers.studysetup import tiny_study, write_study

from codecstudy.evaluate.pair import PairScorer
from codecstudy.evaluate.settings import EvalSettings
from codecstudy.study.settings import eval_settings
from codecstudy.study.spec import load_study


def _spec(tmp_path: Path, **evaluate):
    study = tiny_study(tmp_path, tmp_path / "synth")
    study["evaluate"] = {**study["evaluate"], "metrics": ["mcd", "f0_corr", "pesq", "mel_distance"], **evaluate}
    return load_study(write_study(tmp_path / "s.yaml", study))


def test_the_study_default_is_the_robust_frame_rule(tmp_path: Path) -> None:
    settings = eval_settings(_spec(tmp_path)).metric_settings()
    assert {m: s.get("frames") for m, s in settings.items()} == {
        "mcd": "robust", "f0_corr": "robust", "pesq": None, "mel_distance": "robust"}
    parity = eval_settings(_spec(tmp_path, frames="parity")).metric_settings()
    assert parity["mcd"]["frames"] == "parity" and "frames" not in parity["pesq"]
    own = eval_settings(_spec(tmp_path, metric_settings={"mcd": {"frames": "parity"}})).metric_settings()
    assert own["mcd"]["frames"] == "parity" and own["f0_corr"]["frames"] == "robust"  # a metric's own setting wins
    assert "frames" not in EvalSettings(metrics=["mcd"]).metric_settings()["mcd"]  # `codecstudy evaluate`: parity


def test_robust_default_reaches_the_scorer_zero_padding_leaves_mcd(tmp_path: Path) -> None:
    """Through the study's settings, a clip padded with digital zeros (start, middle, end) scores the MCD of the
    unpadded clip within 0.1 dB; the parity definition (codecstudy evaluate's default) does not."""
    pytest.importorskip("pyworld", reason="pyworld is in the eval extra")
    x = speech()
    y = with_noise(lowpass(x, 5000.0), 25, seed=4)
    gaps = [(x.size, 8000), (24000, 4000), (0, 8000)]
    rng = np.random.default_rng(7)
    x_pad, y_pad = padded(x, gaps), padded(y, gaps, lambda n: 3e-3 * rng.standard_normal(n))
    study = eval_settings(_spec(tmp_path, metrics=["mcd"]))
    robust = PairScorer(study)
    plain = robust.score("plain", x, y, RATE, {"domain": "speech"})["metrics"]
    pad = robust.score("padded", x_pad, y_pad, RATE, {"domain": "speech"})["metrics"]
    assert abs(pad["mcd"] - plain["mcd"]) < 0.1
    assert pad["mcd_frames_dropped"] >= 240 + plain["mcd_frames_dropped"]  # 250 padded frames
    parity = PairScorer(EvalSettings(metrics=["mcd"], mode="fast")).score("padded", x_pad, y_pad, RATE)["metrics"]
    assert parity["mcd"] > pad["mcd"] + 10 and "mcd_frames_dropped" not in parity


def test_the_tables_name_the_frame_rule_and_the_metrics_that_differ(tmp_path: Path) -> None:
    from codecstudy.study.robust_tables import definition_line
    from codecstudy.study.settings import frame_rules

    spec = _spec(tmp_path, metric_settings={"mcd": {"frames": "parity"}})
    assert frame_rules(spec) == {"mcd": "parity", "f0_corr": "robust", "mel_distance": "robust"}
    line = definition_line("robust", "median", frame_rules(spec))
    assert line.startswith("Frame rule: robust (") and "; mcd: parity)" in line and "compare medians" in line
