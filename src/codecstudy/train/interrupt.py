"""A request to stop training at the next step boundary, with a checkpoint: what a cluster's preemption or time-limit
signal (Slurm's ``--signal=USR2@SECONDS``) asks of a training job, so that its requeued run resumes from that step
instead of the last periodic checkpoint.

The signal handler only sets a flag; the trainer looks at it after each whole step (never inside one), writes a
checkpoint there and raises :class:`TrainingInterrupted`. Single-process training only: ranks of a distributed run
would have to agree on the step first.
"""

from __future__ import annotations

import signal
import threading

from codecstudy.errors import CodecStudyError

_requested = threading.Event()


class TrainingInterrupted(CodecStudyError):
    """Training stopped on request after ``step`` (checkpointed there); running it again resumes from it."""

    def __init__(self, step: int) -> None:
        super().__init__(f"training stopped on request at step {step} (checkpoint written); run again to resume")
        self.step = step


def request_stop(*_: object) -> None:
    """Ask the running training to stop after its current step (usable as a signal handler)."""
    _requested.set()


def stop_requested() -> bool:
    return _requested.is_set()


def clear() -> None:
    _requested.clear()


def stop_on_signal(signum: int = signal.SIGUSR2) -> None:
    """Turn ``signum`` into a stop request (in the main thread, as Python's signal handlers must be)."""
    signal.signal(signum, request_stop)
