"""A request to stop training at the next step boundary, with a checkpoint: what a cluster's preemption or time-limit
signal (Slurm's ``--signal=USR2@SECONDS``) asks of a training job, so that its requeued run resumes from that step
instead of the last periodic checkpoint.

The signal handler only sets a flag; the trainer looks at it after each whole step (never inside one), writes a
checkpoint there and raises :class:`TrainingInterrupted`.

Processes started by ``torchrun`` never see the job's signal (torchrun's agent would die of USR2 rather than pass it
on), so the process that launched them passes a request on as a file: ``CODECSTUDY_STOP_FILE`` names it, and
:func:`stop_requested` is true once it exists. The ranks then agree on the step with one all-reduce
(:func:`codecstudy.train.distributed.any_true`), so all of them checkpoint and stop after the same step.
"""

from __future__ import annotations

import os
import signal
import threading

from codecstudy.errors import CodecStudyError

_requested = threading.Event()
#: names a file whose existence asks this process to stop (how a launcher passes the request on to its ranks)
STOP_FILE_VARIABLE = "CODECSTUDY_STOP_FILE"


class TrainingInterrupted(CodecStudyError):
    """Training stopped on request after ``step`` (checkpointed there); running it again resumes from it."""

    def __init__(self, step: int) -> None:
        super().__init__(f"training stopped on request at step {step} (checkpoint written); run again to resume")
        self.step = step


def request_stop(*_: object) -> None:
    """Ask the running training to stop after its current step (usable as a signal handler)."""
    _requested.set()


def stop_requested() -> bool:
    """A stop was asked for by a signal to this process, or by its launcher's stop file."""
    if _requested.is_set():
        return True
    path = os.environ.get(STOP_FILE_VARIABLE)
    return bool(path) and os.path.exists(path)


def clear() -> None:
    _requested.clear()


def stop_on_signal(signum: int = signal.SIGUSR2) -> None:
    """Turn ``signum`` into a stop request (in the main thread, as Python's signal handlers must be)."""
    signal.signal(signum, request_stop)
