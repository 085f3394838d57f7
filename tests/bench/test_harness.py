"""The benchmark harness: FLOP counts (with the LSTM correction), timings, load and allocator helpers."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torch import nn

from codecstudy.bench import (
    OtherLoad,
    Timing,
    count_flops,
    lstm_flops,
    machine_info,
    matmul_gflops,
    num_threads,
    time_call,
)


def test_lstm_flops_by_hand() -> None:
    lstm = nn.LSTM(16, 32, num_layers=2)
    # layer 0: 2 * 4 * 32 * (16 + 32); layer 1: 2 * 4 * 32 * (32 + 32); per step and batch item
    assert lstm_flops(lstm, steps=10, batch=3) == (2 * 4 * 32 * 48 + 2 * 4 * 32 * 64) * 30
    bi = nn.LSTM(16, 32, bidirectional=True)
    assert lstm_flops(bi, steps=1, batch=1) == 2 * (2 * 4 * 32 * 48)


def test_count_flops_adds_what_the_counter_misses() -> None:
    conv = nn.Conv1d(4, 8, 3)
    lstm = nn.LSTM(8, 8, batch_first=True)
    x = torch.randn(2, 4, 12)

    def run() -> torch.Tensor:
        y = conv(x)  # [2, 8, 10]
        return lstm(y.transpose(1, 2))[0]

    count = count_flops(run)
    assert count.counted >= 2 * 2 * 8 * 4 * 3 * 10  # the conv, whatever else the counter sees
    expected_lstm = lstm_flops(lstm, steps=10, batch=2)
    assert count.lstm_added in (0, expected_lstm)  # 0 only if this torch counts LSTMs itself
    assert count.total == count.counted + count.lstm_added


def test_timing_and_threads() -> None:
    timing = Timing()
    for _ in range(3):
        result, wall, cpu = time_call(lambda: sum(range(1000)))
        timing.add(wall, cpu)
    assert result == 499500 and len(timing.wall) == 3
    assert timing.minimum <= timing.median and timing.as_dict()["median_s"] == timing.median
    before = torch.get_num_threads()
    with num_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    assert matmul_gflops(n=64, repeats=2, warmup=1) > 0


def test_other_load_and_machine_info() -> None:
    load = OtherLoad().start()
    sum(range(10000))
    value = load.stop()
    assert value is None or value >= 0.0
    info = machine_info()
    assert info["torch"] == torch.__version__ and info["logical_cpus"] >= 1


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_retain_freed_memory_in_a_separate_process() -> None:
    # Process-wide and one-way, so it must not run inside the test process.
    code = "from codecstudy.bench import retain_freed_memory; print(retain_freed_memory())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() in ("True", "False")
