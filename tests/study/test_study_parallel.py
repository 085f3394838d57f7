"""Concurrent study items: the process plan, and runs whose codecs, tables and report equal a one-at-a-time run."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from helpers.tables import csv_cells

from codecstudy.jsonl import read_jsonl
from codecstudy.study.layout import RunLayout
from codecstudy.study.parallel import BY_ANOTHER, Item, Outcome, Plan, Scheduler, plan
from codecstudy.study.runner import StudyRunner
from codecstudy.study.spec import load_study

CODECS = ["english-soundstream", "multilingual_audio-soundstream"]
REPO = Path(__file__).resolve().parents[2]


def test_plan_splits_the_cores_and_says_when_it_cannot_do_what_was_asked() -> None:
    assert plan("auto", 15, cores=2) == Plan(2, 1)
    assert plan("auto", 15, cores=8) == Plan(8, 1)
    assert plan("auto", 2, cores=8) == Plan(2, 4)  # no more processes than items: the rest become threads
    assert plan(1, 15, cores=8) == Plan(1, 8)
    more = plan(6, 15, cores=2)
    assert (more.processes, more.threads) == (2, 1)
    assert more.note == "parallel: 6 asked, but this machine has 2 cores: running 2 at a time"
    single = plan("auto", 15, cores=1)
    assert (single.processes, single.threads) == (1, 1) and "1 core" in single.note
    assert plan(3, 15, cores=1).note.startswith("parallel: 3 asked, but this machine has 1 core")


def _record(log: list[str]):
    def begin(item: Item, state: object) -> bool:
        log.append(f"begin {item.key}")
        return True

    def finish(item: Item, state: object, outcome: Outcome) -> None:
        log.append(f"end {item.key} {outcome.detail}")

    return begin, finish


def _work(name: str, threads: int | None) -> str:
    return f"{name}:{threads}"


def test_sequential_scheduler_keeps_the_study_order_and_the_process_threads(tmp_path: Path) -> None:
    from functools import partial

    log: list[str] = []
    items = [Item("train", "a", partial(_work, "a")), Item("evaluate", "a/x", partial(_work, "ax"), after=("train a",))]
    Scheduler(Plan(1, 4), lambda item: RunLayout(tmp_path).item_lock(item.stage, item.item)).run(items, *_record(log))
    assert log == ["begin train a", "end train a a:None", "begin evaluate a/x", "end evaluate a/x ax:None"]


def test_an_item_another_runner_finished_while_this_one_waited_is_not_run(tmp_path: Path) -> None:
    """Two runners on one folder: the one that waited for the item's lock finds it complete and says so."""
    import threading
    from types import SimpleNamespace

    from codecstudy.files import file_lock

    layout = RunLayout(tmp_path)
    done = tmp_path / "done"

    def state() -> SimpleNamespace:
        return SimpleNamespace(status="complete" if done.exists() else "missing")

    def work(threads: int | None) -> str:
        raise AssertionError("the item was run twice")

    item = Item("train", "a", work, state=state)
    held, release = threading.Event(), threading.Event()

    def other_runner() -> None:
        with file_lock(layout.item_lock("train", "a")):
            held.set()
            release.wait(10)
            done.write_text("", encoding="utf-8")

    thread = threading.Thread(target=other_runner)
    thread.start()
    held.wait(10)
    outcomes: list[Outcome] = []
    timer = threading.Timer(0.3, release.set)
    timer.start()
    Scheduler(Plan(1, 1), lambda i: layout.item_lock(i.stage, i.item)).run(
        [item], begin=lambda i, s: s.status != "complete", finish=lambda i, s, o: outcomes.append(o))
    thread.join()
    assert outcomes == [Outcome(BY_ANOTHER, 0.0, by_another=True)]


def test_parallel_scheduler_runs_items_after_what_they_wait_for(tmp_path: Path) -> None:
    from functools import partial

    log: list[str] = []
    items = [Item("train", "a", partial(_work, "a")), Item("train", "b", partial(_work, "b")),
             Item("evaluate", "a/x", partial(_work, "ax"), after=("train a",))]
    lock_of = lambda item: RunLayout(tmp_path).item_lock(item.stage, item.item)  # noqa: E731
    Scheduler(Plan(2, 1), lock_of).run(items, *_record(log))
    assert sorted(log) == sorted(["begin train a", "begin train b", "end train a a:1", "end train b b:1",
                                  "begin evaluate a/x", "end evaluate a/x ax:1"])
    assert log.index("begin evaluate a/x") > log.index("end train a a:1")
    assert (tmp_path / ".locks" / "train-a.lock").is_file()


def _weights(run: Path, codec: str) -> dict[str, torch.Tensor]:
    payload = torch.load(RunLayout(run).codec_file(codec), map_location="cpu", weights_only=True)
    return payload["state_dict"]


def _fresh_copy(run: Path, target: Path) -> Path:
    """The finished tiny run without what training and scoring made (corpus and conditions kept)."""
    shutil.copytree(run, target)
    for name in ("codecs", "eval", "tables", "report", "stages.jsonl", "cache"):
        path = target / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    return target


def _same_tables(ours: Path, alone: Path) -> None:
    names = sorted(p.name for p in alone.iterdir())
    assert sorted(p.name for p in ours.iterdir()) == names
    for name in names:
        a, b = (ours / name).read_text(encoding="utf-8"), (alone / name).read_text(encoding="utf-8")
        if name.endswith(".csv"):
            assert csv_cells(a) == csv_cells(b, approx=True), name
        else:
            assert a == b, name


def _report_text(run: Path) -> str:
    """The report without what differs between any two runs: its folder, training minutes, the time written, and
    whether the source tree had uncommitted changes."""
    import re

    text = (run / "report" / "index.html").read_text(encoding="utf-8").replace(str(run), "RUN")
    text = re.sub(r'data-col="minutes">[0-9.]*<', 'data-col="minutes"><', text)
    text = re.sub(r"\b([0-9a-f]{10,40})-dirty\b", r"\1", text)
    text = re.sub(r'data-col="RTF 10 s">[0-9.]*<', 'data-col="RTF 10 s"><', text)  # a timing of this machine
    return re.sub(r"written(&quot;|&#34;)?: ?(&quot;|&#34;)?[0-9T:+-]+", "written", text)


@pytest.mark.slow
def test_parallel_run_trains_the_same_codecs_and_writes_the_same_tables_and_report(tiny_run, tmp_path) -> None:
    """Two processes x one thread (the tiny study's codecs set train.threads=1, as one-at-a-time runs here)."""
    study, run, _ = tiny_run
    copy = _fresh_copy(run, tmp_path / "run")
    notes: list[str] = []
    records = StudyRunner(load_study(study), copy, progress=False, echo=notes.append, parallel=2).run()
    assert any(n.startswith("parallel: 2 processes x 1 thread") for n in notes)
    assert {(r.stage, r.action) for r in records if r.stage in ("train", "evaluate")} == {("train", "ran"),
                                                                                          ("evaluate", "ran")}
    pids = {r["pid"] for r in read_jsonl(RunLayout(copy).stages_log)}
    assert len(pids) == 1  # the runner records every item; the workers only compute
    for codec in CODECS:
        ours, alone = _weights(copy, codec), _weights(run, codec)
        assert ours.keys() == alone.keys()
        assert all(torch.equal(ours[k], alone[k]) for k in ours), codec
    _same_tables(copy / "tables", run / "tables")
    assert _report_text(copy) == _report_text(run)


@pytest.mark.slow
def test_partial_training_resumes_in_a_worker_and_is_not_redone(run_copy) -> None:
    study, run = run_copy
    folder = RunLayout(run).codec_dir("multilingual_audio-soundstream")
    for name in ("summary.json", "codec.pt", "checkpoints/step-00000006.pt"):
        (folder / name).unlink()
    records = StudyRunner(load_study(study), run, progress=False, echo=lambda _: None, parallel=2).run()
    actions = {(r.stage, r.item): r.action for r in records}
    assert actions[("train", "multilingual_audio-soundstream")] == "resumed"
    assert actions[("train", "english-soundstream")] == "skipped"
    events = [r["kind"] for r in read_jsonl(folder / "metrics.jsonl") if r.get("kind") in ("start", "resume")]
    assert events == ["start", "resume"]  # steps 1-3 were trained once, by the first run


@pytest.mark.slow
def test_killed_parallel_run_resumes_every_item_without_training_twice(tiny_run, tmp_path) -> None:
    """SIGKILL the runner once a checkpoint exists: its workers die with it, and the rerun resumes each codec."""
    study, run, _ = tiny_run
    copy = _fresh_copy(run, tmp_path / "run")
    longer = ["--set", "codec.overrides=[" + ",".join(_overrides(study) + ["train.steps=40"]) + "]"]
    command = [sys.executable, "-m", "codecstudy", "study", "run", str(study), "--out", str(copy), "--quiet",
               "--parallel", "2", *longer]
    proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=_env())
    layout = RunLayout(copy)
    deadline = time.monotonic() + 300
    try:
        while not all(list((layout.codec_dir(c) / "checkpoints").glob("step-*.pt")) for c in CODECS):
            assert proc.poll() is None, "the run ended before both codecs wrote a checkpoint"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    time.sleep(1.0)
    steps_at_kill = {c: _last_step(layout.codec_dir(c)) for c in CODECS}
    again = subprocess.run(command, cwd=REPO, capture_output=True, text=True, env=_env(), timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    for codec in CODECS:
        kinds = [(r["kind"], r["step"]) for r in read_jsonl(layout.codec_dir(codec) / "metrics.jsonl")
                 if r.get("kind") in ("start", "resume")]
        assert kinds[0] == ("start", 0) and len([k for k in kinds if k[0] == "start"]) == 1, kinds
        assert kinds[-1][0] == "resume" and kinds[-1][1] >= steps_at_kill[codec] > 0, kinds


def _overrides(study: Path) -> list[str]:
    return list(load_study(study).codec.overrides)


def _last_step(folder: Path) -> int:

    return RunLayout(folder.parent.parent).last_checkpoint_step(folder.name) or 0


def _env() -> dict[str, str]:
    import os

    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO / "src") + os.pathsep + env.get("PYTHONPATH", "")
    return env
