"""What this process may use of the machine: cores from the allocation, never from the node.

Inside a container, under ``taskset`` or in a Slurm job, ``os.cpu_count()`` is the whole node; the affinity mask
and ``SLURM_CPUS_PER_TASK`` say what this process was given. Every worker and thread count starts here.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
from collections.abc import Iterator

#: The native thread pools a worker process limits (OpenMP, MKL, OpenBLAS, numba), through their variables.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")


def available_cores() -> int:
    """Cores this process may run on: the affinity mask, narrowed by Slurm's per-task CPU count when set."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    slurm = os.environ.get("SLURM_CPUS_PER_TASK", "")
    if slurm.isdigit() and int(slurm) > 0:
        cores = min(cores, int(slurm))
    return max(1, cores)


def die_with_parent() -> None:
    """Ask Linux to kill this process when its parent dies (a SIGKILLed runner leaves no orphan workers)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


@contextlib.contextmanager
def child_thread_limits(threads: int) -> Iterator[None]:
    """Processes started inside the block inherit these thread limits in their environment.

    OpenBLAS and OpenMP read their variables once, when they load, and a spawned worker loads numpy while it
    imports its parent's main module, before any code of ours runs in it: a limit set there comes too late, and a
    dot product then sums in as many chunks as the node has cores, which changes the last bits of a result with the
    machine. So the limits travel in the environment the worker starts with; this process's own libraries are
    loaded already and keep theirs.
    """
    before = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    os.environ.update({name: str(threads) for name in THREAD_VARIABLES})
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def init_worker(threads: int) -> None:
    """A worker process's first step: die with its parent, and torch's own thread pool at ``threads``."""
    die_with_parent()
    import torch  # torch only in the worker, after its start (this module stays free of heavy imports)

    torch.set_num_threads(threads)
