"""Performance harness for the scripts in ``benchmarks/``: timing, FLOP counts, the machine's matmul rate.

Kept inside the package (and tested) so that every benchmark measures the same way: warm-up, then the median
of interleaved repeats, wall and CPU time, FLOPs that include what ``FlopCounterMode`` misses (LSTMs).
"""

from codecstudy.bench.harness import (
    FlopCount,
    OtherLoad,
    Timing,
    busy_cpu_seconds,
    count_flops,
    load_average,
    lstm_flops,
    machine_info,
    matmul_gflops,
    num_threads,
    retain_freed_memory,
    time_call,
)

__all__ = [
    "FlopCount",
    "OtherLoad",
    "Timing",
    "busy_cpu_seconds",
    "count_flops",
    "load_average",
    "lstm_flops",
    "machine_info",
    "matmul_gflops",
    "num_threads",
    "retain_freed_memory",
    "time_call",
]
