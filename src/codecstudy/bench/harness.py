"""Measurement primitives shared by the benchmark scripts.

Why these and not ``timeit``: the benchmarks compare models whose cost is dominated by a few large kernels, on a
small machine that other work may share. So a timing keeps every repeat (wall and CPU time) and reports medians,
callers interleave the models being compared (a burst of background load then hits all of them), and compute is
related to what this machine can do at best (:func:`matmul_gflops`) rather than to a datasheet.
"""

from __future__ import annotations

import ctypes
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, TypeVar

import torch
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

T = TypeVar("T")


@dataclass
class Timing:
    """Repeated measurements of one thing; ``cpu`` is process CPU time (all threads), ``wall`` elapsed time."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def add(self, wall: float, cpu: float) -> None:
        self.wall.append(wall)
        self.cpu.append(cpu)

    @property
    def median(self) -> float:
        return statistics.median(self.wall)

    @property
    def minimum(self) -> float:
        return min(self.wall)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu)

    def as_dict(self) -> dict[str, Any]:
        return {
            "median_s": self.median,
            "min_s": self.minimum,
            "cpu_median_s": self.cpu_median,
            "wall_s": self.wall,
            "cpu_s": self.cpu,
        }


def speechy_batch(batch: int, samples: int, sample_rate: int, seed: int = 0) -> Tensor:
    """``[batch, 1, samples]`` harmonic tones with a syllable-rate envelope and a little noise: no silence, a
    speech-like spectrum, so a codec's training step costs what it costs on speech, without a corpus."""
    import math

    gen = torch.Generator().manual_seed(seed)
    t = torch.arange(samples) / sample_rate
    f0 = 100 + 150 * torch.rand(batch, 1, 1, generator=gen)
    wave = sum(torch.sin(2 * math.pi * k * f0 * t) / k for k in range(1, 8))
    envelope = 0.5 + 0.5 * torch.sin(2 * math.pi * 4.0 * t + 6.28 * torch.rand(batch, 1, 1, generator=gen))
    return (0.1 * wave * envelope + 0.005 * torch.randn(batch, 1, samples, generator=gen)).float()


def time_call(fn: Callable[[], T]) -> tuple[T, float, float]:
    """Run ``fn`` once; returns its result, the wall seconds and the process CPU seconds it took."""
    wall0, cpu0 = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall0, time.process_time() - cpu0


@contextmanager
def num_threads(n: int) -> Iterator[None]:
    """``torch.set_num_threads(n)`` for the block, restoring the previous setting afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def matmul_gflops(n: int = 2048, repeats: int = 5, warmup: int = 2) -> float:
    """Median float32 ``torch.mm`` rate (GFLOP/s) of two ``n x n`` matrices at the current thread setting.

    The practical peak that dense layers can approach here; a model's achieved rate is judged against it.
    """
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=gen)
    b = torch.randn(n, n, generator=gen)
    out = torch.empty(n, n)
    for _ in range(warmup):
        torch.mm(a, b, out=out)
    times = [time_call(lambda: torch.mm(a, b, out=out))[1] for _ in range(repeats)]
    return 2.0 * n**3 / statistics.median(times) / 1e9


def lstm_flops(lstm: nn.LSTM, steps: int, batch: int) -> int:
    """Multiply-add FLOPs (2 per MAC) of the LSTM's matrix products over ``steps`` x ``batch``.

    Per step, layer and direction: the four gates read the layer input and the recurrent state
    (``2 * 4H * (I + R)``), plus the projection when ``proj_size`` is set. Elementwise gate arithmetic is left out,
    as ``FlopCounterMode`` leaves it out for every other layer.
    """
    hidden, proj = lstm.hidden_size, lstm.proj_size
    recurrent = proj or hidden
    directions = 2 if lstm.bidirectional else 1
    total = 0
    for layer in range(lstm.num_layers):
        inputs = lstm.input_size if layer == 0 else recurrent * directions
        per_step = 2 * 4 * hidden * (inputs + recurrent) + (2 * hidden * proj if proj else 0)
        total += per_step * directions
    return total * steps * batch


@lru_cache(maxsize=1)
def flop_counter_sees_lstm() -> bool:
    """Whether this torch's ``FlopCounterMode`` counts ``nn.LSTM`` (2.13 on CPU does not: fused RNN kernels)."""
    lstm = nn.LSTM(4, 4)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        lstm(torch.zeros(3, 1, 4))
    return counter.get_total_flops() > 0


@dataclass(frozen=True)
class FlopCount:
    """FLOPs of one call: what ``FlopCounterMode`` counted plus the LSTM products it cannot see."""

    counted: int
    lstm_added: int

    @property
    def total(self) -> int:
        return self.counted + self.lstm_added


def _lstm_call_shape(module: nn.LSTM, args: tuple[Any, ...]) -> tuple[int, int] | None:
    if not args or not isinstance(args[0], Tensor):
        return None  # packed sequences: not used by the codecs
    x = args[0]
    if x.dim() == 2:
        return x.shape[0], 1
    return (x.shape[1], x.shape[0]) if module.batch_first else (x.shape[0], x.shape[1])


def count_flops(fn: Callable[[], Any]) -> FlopCount:
    """FLOPs of ``fn()`` (run once under ``torch.no_grad``), with LSTMs added analytically where needed.

    ``no_grad`` rather than ``inference_mode``: with parametrized weight norm, ``FlopCounterMode`` under inference
    mode fails (torch 2.13); callers whose code enters inference mode itself are unaffected by this choice.
    """
    add_lstm = not flop_counter_sees_lstm()
    lstm_total = 0

    def hook(module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        nonlocal lstm_total
        if add_lstm and isinstance(module, nn.LSTM):
            shape = _lstm_call_shape(module, args)
            if shape is not None:
                lstm_total += lstm_flops(module, *shape)

    handle = nn.modules.module.register_module_forward_hook(hook)
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            fn()
    finally:
        handle.remove()
    return FlopCount(counted=int(counter.get_total_flops()), lstm_added=lstm_total)


def retain_freed_memory() -> bool:
    """Ask glibc to keep freed memory for reuse instead of returning it to the kernel; False where unsupported.

    By default glibc serves large blocks with fresh ``mmap`` pages and gives them back on free, so a model that
    allocates tens of MB per layer pays a page fault per 4 KiB touched, on every call (costly in VMs). With mmap
    off and trimming disabled the process reuses its heap instead. This is process-wide and cannot be undone
    cleanly, so benchmarks measure the default first and this setting after.
    """
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    m_trim_threshold, m_mmap_max = -1, -4  # from <malloc.h>
    return bool(libc.mallopt(m_mmap_max, 0)) and bool(libc.mallopt(m_trim_threshold, 2**31 - 1))


def busy_cpu_seconds() -> float | None:
    """CPU seconds all processes have spent busy since boot (Linux ``/proc/stat``); None elsewhere.

    The difference over a measurement, minus this process's own CPU time, is the work other processes did
    meanwhile: :class:`OtherLoad` turns it into "cores used by others", which flags contended measurements.
    """
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            fields = fh.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class OtherLoad:
    """Average number of cores that other processes kept busy between :meth:`start` and :meth:`stop`."""

    def __init__(self) -> None:
        self._busy0: float | None = None
        self._own0 = 0.0
        self._wall0 = 0.0

    def start(self) -> OtherLoad:
        self._busy0, self._own0, self._wall0 = busy_cpu_seconds(), time.process_time(), time.perf_counter()
        return self

    def stop(self) -> float | None:
        busy1 = busy_cpu_seconds()
        if self._busy0 is None or busy1 is None:
            return None
        wall = time.perf_counter() - self._wall0
        own = time.process_time() - self._own0
        return max(0.0, (busy1 - self._busy0 - own) / wall) if wall > 0 else None


def load_average() -> tuple[float, float, float] | None:
    """1-, 5- and 15-minute load averages, to tell a quiet machine from a shared one in the results."""
    try:
        return os.getloadavg()
    except (AttributeError, OSError):
        return None


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict[str, Any]:
    """What the numbers depend on: CPU, cores, torch build and the SIMD level it dispatches to."""
    return {
        "cpu": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "mkldnn": torch.backends.mkldnn.is_available(),
        "mkl": torch.backends.mkl.is_available(),
    }
