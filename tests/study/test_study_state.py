"""An evaluation's state when its GPU and DSP metrics are scored by separate jobs: each part has its own state (a
job's), and the evaluation is complete only once every part has scored every clip."""

from __future__ import annotations

from pathlib import Path

from codecstudy.files import write_json_atomic
from codecstudy.jsonl import JsonlAppender
from codecstudy.study.layout import RunLayout
from codecstudy.study.state import COMPLETE, MISSING, PARTIAL, eval_state

CLIPS = ["a", "b"]
FIELD = {"parts": ["gpu", "cpu"], "metrics": ["utmos", "si_snr"]}


def _score(layout: RunLayout, part: str, clips: list[str], n_q: int = 1) -> None:
    """Result lines of ``part`` for ``clips``, as a part's run appends them."""
    folder = layout.eval_setting_dir("codec", "set", n_q)
    metric = "utmos" if part == "gpu" else "si_snr"
    with JsonlAppender(folder / f"results.part-{part}.jsonl") as out:
        for clip in clips:
            out.write({"clip": clip, "n_q": n_q, "metrics": {metric: 1.0}, "errors": {},
                       "part": {"name": part, **FIELD}})
    write_json_atomic(layout.eval_usage("codec", "set", n_q), {"clips": len(clips)})


def _states(layout: RunLayout, identity: str = "x") -> list[tuple[str, str]]:
    """(status, detail) of the whole evaluation, its GPU part and its DSP part."""
    found = [eval_state("codec", "set", layout, [1], CLIPS, identity, None, part) for part in (None, "gpu", "cpu")]
    return [(s.status, s.detail) for s in found]


def test_an_evaluation_is_complete_once_every_part_scored_every_clip(tmp_path: Path) -> None:
    layout = RunLayout(tmp_path / "run")
    write_json_atomic(layout.eval_meta("codec", "set"), {"codec_identity": "x"})
    _score(layout, "gpu", CLIPS)
    assert _states(layout) == [(PARTIAL, "0/2 clip x n_q"), (COMPLETE, "gpu metrics, 2/2 clip x n_q"),
                               (PARTIAL, "cpu metrics, 0/2 clip x n_q")]
    _score(layout, "cpu", ["b"])
    assert _states(layout)[0] == (PARTIAL, "1/2 clip x n_q") and _states(layout)[2][0] == PARTIAL
    _score(layout, "cpu", ["a"])
    assert [status for status, _ in _states(layout)] == [COMPLETE, COMPLETE, COMPLETE]


def test_a_stale_evaluation_is_stale_for_every_part(tmp_path: Path) -> None:
    layout = RunLayout(tmp_path / "run")
    write_json_atomic(layout.eval_meta("codec", "set"), {"codec_identity": "old"})
    _score(layout, "gpu", CLIPS)
    _score(layout, "cpu", CLIPS)
    found = [eval_state("codec", "set", layout, [1], CLIPS, "new", None, part) for part in (None, "gpu", "cpu")]
    assert [(s.status, s.stale) for s in found] == [(PARTIAL, True)] * 3


def test_nothing_scored_is_missing_for_every_part(tmp_path: Path) -> None:
    assert [status for status, _ in _states(RunLayout(tmp_path / "run"))] == [MISSING] * 3
