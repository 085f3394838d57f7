"""What this process may use of the machine: cores from the allocation, never from the node.

Inside a container, under ``taskset`` or in a Slurm job, ``os.cpu_count()`` is the whole node; the affinity mask
and ``SLURM_CPUS_PER_TASK`` say what this process was given. Every worker and thread count starts here.
"""

from __future__ import annotations

import os


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
