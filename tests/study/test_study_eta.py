"""The study's remaining-time estimate: calibrated step time x steps left, laid out on the runner's processes."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from types import SimpleNamespace

import pytest

from codecstudy.study.eta import Calibration, WorkEstimate, announcement
from codecstudy.study.layout import RunLayout
from codecstudy.study.parallel import Item, Plan
from codecstudy.study.spec import CodecRun
from codecstudy.study.stages import time_training_steps


def _noop(threads: int | None) -> str:
    return ""


def _items(codecs: list[str], sets: list[str], steps: int) -> list[Item]:
    items = [Item("train", c, partial(_noop), run=CodecRun(c, c, "soundstream", None, "tiny", ()), steps=steps)
             for c in codecs]
    items += [Item("evaluate", f"{c}/{s}", partial(_noop), after=(f"train {c}",), codec=c, eval_set=s)
              for s in sets for c in codecs]
    return items


def _spec(clips: int) -> SimpleNamespace:
    return SimpleNamespace(evaluate=SimpleNamespace(n_q=[1, 8]),
                           conditions=SimpleNamespace(eval_sets=[SimpleNamespace(name="en", max_clips=clips)]))


def test_remaining_time_follows_logged_steps_and_the_process_layout(tmp_path: Path) -> None:
    layout = RunLayout(tmp_path)
    items = _items(["a", "b", "c"], ["en"], steps=100)
    estimate = WorkEstimate(items, Calibration({"tiny": 1.0}, threads=1), _spec(clips=10), layout)
    per_eval = estimate.per_unit["evaluate a/en"] * 20  # 10 clips x 2 n_q
    assert estimate.total() == pytest.approx(300 + 3 * per_eval)
    # three 100 s codecs on two processes: a and b together, then c; c's scoring comes last
    assert estimate.wall_clock(2) == pytest.approx(200 + per_eval)
    assert estimate.wall_clock(1) == pytest.approx(300 + 3 * per_eval)
    folder = layout.codec_dir("a")
    folder.mkdir(parents=True)
    lines = [{"kind": "start", "step": 0}, {"kind": "train", "step": 40, "train/x": 1.0}]
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
    assert estimate.remaining(items[0]) == pytest.approx(60.0)
    assert estimate.done() == pytest.approx(40.0)
    text = announcement(estimate, Plan(2, 1))
    assert text.startswith("expected remaining time: about ") and "tiny 1.00 s/step" in text


def test_scoring_progress_counts_sharded_result_files(tmp_path: Path) -> None:
    """Results written by shards (``results-K-of-N.jsonl``) count as much as one ``results.jsonl``."""
    layout = RunLayout(tmp_path)
    items = _items(["a"], ["en"], steps=10)
    estimate = WorkEstimate(items, Calibration({"tiny": 1.0}, threads=1), _spec(clips=10), layout)
    evaluation = items[1]
    for n_q, name, lines in ((1, "results.jsonl", 3), (8, "results-0-of-2.jsonl", 2), (8, "results-1-of-2.jsonl", 4)):
        folder = layout.eval_setting_dir("a", "en", n_q)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("".join(json.dumps({"id": f"c{i}"}) + "\n" for i in range(lines)),
                                   encoding="utf-8")
    assert estimate.done_units(evaluation) == 3 + 2 + 4
    assert estimate.remaining(evaluation) == pytest.approx((20 - 9) * estimate.per_unit[evaluation.key])


def test_calibration_times_real_training_steps() -> None:
    from helpers.trainsetup import TINY

    from codecstudy.codec.presets import resolve_codec_config

    config = resolve_codec_config("soundstream-tiny", [*TINY, "train.steps=10"])
    seconds = time_training_steps(config, steps=2, threads=1)
    assert 0.0 < seconds < 10.0


def test_an_imported_checkpoint_costs_a_second_and_needs_no_calibration(tmp_path: Path) -> None:
    """A study with given codecs (``checkpoints:``) has import items instead of training ones."""
    items = [Item("import", "x", partial(_noop))]
    items += [Item("evaluate", "x/en", partial(_noop), after=("import x",), codec="x", eval_set="en")]
    estimate = WorkEstimate(items, Calibration({}, threads=1), _spec(clips=10), RunLayout(tmp_path))
    per_eval = estimate.per_unit["evaluate x/en"] * 20
    assert estimate.total() == pytest.approx(1.0 + per_eval)
    assert estimate.remaining(items[0]) == pytest.approx(1.0)


def test_study_bar_remaining_time_is_the_runs_average_rate_not_the_last_burst() -> None:
    """Progress arrives in bursts from parallel processes; the remaining time must come from all work done in this
    run over its elapsed time, so one quick burst does not swing it."""
    from codecstudy.study.eta import StudyProgress

    class Fixed:
        total_work, done_work = 1000.0, 0.0

        def total(self) -> float:
            return self.total_work

        def done(self) -> float:
            return self.done_work

    estimate = Fixed()
    with StudyProgress(estimate, enabled=True, interval=3600) as progress:  # type: ignore[arg-type]
        bar = progress.bar
        now = [bar.start_t]
        bar._time = lambda: now[0]
        for seconds, work in ((90.0, 100.0), (5.0, 100.0)):  # a slow stretch, then a quick burst
            now[0] += seconds
            estimate.done_work += work
            progress.refresh()
        meter = bar.format_meter(**bar.format_dict)
        # 200 s of work in 95 s: 800 s of work left takes 380 s (a burst-weighted rate would say far less)
        assert "<06:20 for the whole study" in meter, meter
