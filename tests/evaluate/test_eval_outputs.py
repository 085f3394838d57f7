"""The evaluation folder under concurrency: shards of one run merge meta.json and delay.json at once."""

from __future__ import annotations

import multiprocessing
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from codecstudy.errors import CodecStudyError
from codecstudy.evaluate.delay import CALIBRATION, CodecDelay
from codecstudy.evaluate.outputs import read_results, results_name, stored_delays, write_delays, write_fad, write_meta
from codecstudy.files import read_json_or_none

PROCESSES = 8
ROUNDS = 50
KEY = {"for": "codec-identity", "alignment": {"rule": "test"}}


def _meta(name: str, n_q: int) -> dict[str, Any]:
    return {"kind": "codec", "created": name, "mode": "parity", "metrics": {}, "alignment": {}, "codec_identity": "x",
            "n_q": [n_q], "settings": [name], "delay": {name: {"samples": n_q}}}


def _merge_rounds(out: Path, index: int, start: Any, errors: Any, write_meta_fn: Callable[..., Any],
                  write_delays_fn: Callable[..., Any]) -> None:
    """One shard: ROUNDS merges of its own new setting into meta.json and delay.json."""
    try:
        start.wait()
        for r in range(ROUNDS):
            name = f"p{index}-r{r}"
            write_meta_fn(out, _meta(name, index * 1000 + r), False)
            write_delays_fn(out, KEY, {name: CodecDelay(r, CALIBRATION, "test", sample_rate=16000)}, {})
    except BaseException:  # noqa: BLE001 - reported to the parent, which fails the test with it
        errors.put(traceback.format_exc())
        raise


def merge_concurrently(out: Path, write_meta_fn: Callable[..., Any] = write_meta,
                       write_delays_fn: Callable[..., Any] = write_delays) -> list[str]:
    """Run PROCESSES shards at once; the errors they raised (empty when none)."""
    context = multiprocessing.get_context("fork")  # the shards need nothing but this module's functions
    start, errors = context.Barrier(PROCESSES), context.Queue()
    shards = [context.Process(target=_merge_rounds, args=(out, i, start, errors, write_meta_fn, write_delays_fn))
              for i in range(PROCESSES)]
    for shard in shards:
        shard.start()
    for shard in shards:
        shard.join(timeout=600)
    found = []
    while not errors.empty():
        found.append(errors.get())
    found += [f"shard exited with {s.exitcode}" for s in shards if s.exitcode != 0 and not found]
    return found


def test_concurrent_shards_never_lose_a_key_of_meta_or_delay(tmp_path: Path) -> None:
    errors = merge_concurrently(tmp_path)
    assert errors == []
    names = {f"p{i}-r{r}" for i in range(PROCESSES) for r in range(ROUNDS)}
    meta = read_json_or_none(tmp_path / "meta.json")
    assert set(meta["settings"]) == names and len(meta["settings"]) == len(names)
    assert set(meta["delay"]) == names
    assert meta["n_q"] == sorted(i * 1000 + r for i in range(PROCESSES) for r in range(ROUNDS))
    delays = stored_delays(tmp_path, KEY)
    assert set(delays) == names and delays["p3-r7"].samples == 7
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*.tmp"))  # no temporary file left


def test_meta_merges_settings_and_refuses_other_definitions(tmp_path: Path) -> None:
    write_meta(tmp_path, _meta("a", 1), False)
    merged = write_meta(tmp_path, {**_meta("b", 2), "created": "later"}, False)
    assert merged["settings"] == ["a", "b"] and merged["n_q"] == [1, 2] and merged["created"] == "a"
    assert set(merged["delay"]) == {"a", "b"}
    with pytest.raises(CodecStudyError, match="mode differ"):
        write_meta(tmp_path, {**_meta("c", 3), "mode": "fast"}, False)
    assert read_json_or_none(tmp_path / "meta.json")["settings"] == ["a", "b"]  # a refused run writes nothing
    assert write_meta(tmp_path, {**_meta("c", 3), "mode": "fast"}, True)["settings"] == ["c"]


def test_delays_of_another_codec_are_replaced_not_merged(tmp_path: Path) -> None:
    write_delays(tmp_path, KEY, {"1": CodecDelay(5, CALIBRATION, "t", sample_rate=16000)}, {})
    write_delays(tmp_path, {**KEY, "for": "other"}, {"2": CodecDelay(6, CALIBRATION, "t", sample_rate=16000)}, {})
    assert stored_delays(tmp_path, KEY) == {}
    assert set(stored_delays(tmp_path, {**KEY, "for": "other"})) == {"2"}


def test_fad_without_embeddings_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / results_name((0, 1))).write_text('{"clip": "a"}\n')
    assert [r["clip"] for r in read_results(tmp_path)] == ["a"]
    assert write_fad(tmp_path) is None and not (tmp_path / "fad.json").exists()
