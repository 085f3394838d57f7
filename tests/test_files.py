"""The ground helpers every writer of a run folder uses: atomic writes, named locks, locked JSON updates."""

from __future__ import annotations

import multiprocessing
import threading
import time
from pathlib import Path

import pytest

from codecstudy import files


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "meta.json"
    files.write_json_atomic(target, {"a": 1})
    with pytest.raises(RuntimeError), files.atomic_write(target) as handle:
        handle.write("{half")
        raise RuntimeError("killed")
    assert files.read_json_or_none(target) == {"a": 1}
    assert files.stale_temporaries(tmp_path) == []


def test_concurrent_writers_use_their_own_temporary_names(tmp_path: Path) -> None:
    target = tmp_path / "same.txt"
    names: list[str] = []

    def write(text: str) -> None:
        with files.atomic_path(target) as tmp:
            names.append(tmp.name)
            tmp.write_text(text * 1000, encoding="utf-8")
            time.sleep(0.05)

    threads = [threading.Thread(target=write, args=(c,)) for c in "abcd"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(names)) == 4 and all(files.TEMP_MARK in n and n.endswith(".txt") for n in names)
    assert target.read_text(encoding="utf-8") in {c * 1000 for c in "abcd"}  # one whole writer's text, no mix


def _hold(lock: str, ready: multiprocessing.synchronize.Event, release: multiprocessing.synchronize.Event) -> None:
    with files.file_lock(lock):
        ready.set()
        release.wait(20)


def test_a_long_wait_names_the_lock_and_its_holder(tmp_path: Path) -> None:
    lock = tmp_path / "item.lock"
    context = multiprocessing.get_context("spawn")
    ready, release = context.Event(), context.Event()
    holder = context.Process(target=_hold, args=(str(lock), ready, release))
    holder.start()
    try:
        assert ready.wait(60)
        reports: list[str] = []
        with pytest.raises(files.LockTimeout) as caught:
            with files.file_lock(lock, timeout=0.6, report_after=0.2, report=reports.append):
                pass
        assert reports and reports[0].startswith(f"waiting for {lock}: held by pid {holder.pid}")
        assert str(caught.value).startswith(f"{lock}: waited") and f"pid {holder.pid}" in str(caught.value)
    finally:
        release.set()
        holder.join(30)
    with files.file_lock(lock, timeout=5):  # released with its holder
        pass


def _add_keys(path: str, worker: int, rounds: int) -> None:
    for index in range(rounds):
        files.update_json(path, lambda data: {**(data or {}), f"{worker}-{index}": index})


def test_locked_updates_from_several_processes_lose_no_key(tmp_path: Path) -> None:
    path = tmp_path / "delay.json"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_add_keys, args=(str(path), w, 20)) for w in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert all(w.exitcode == 0 for w in workers)
    assert set(files.read_json_or_none(path)) == {f"{w}-{i}" for w in range(4) for i in range(20)}
