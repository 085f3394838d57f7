"""What a training run reports: a progress bar, ``train.log``, ``metrics.jsonl`` and TensorBoard.

* The tqdm bar shows the step, the ETA, steps/s and the main losses, refreshed every step.
* ``train.log`` gets one plain-text line per log interval and per validation, readable with ``tail -f`` and in
  CI logs where a progress bar is noise.
* ``metrics.jsonl`` gets the same numbers as JSON, appended and flushed line by line (a kill loses at most the
  line being written). After a resume the steps after the checkpoint appear again; readers keep the last record
  per ``(kind, step)`` (:func:`read_metrics` does).
* TensorBoard (``torch.utils.tensorboard``, from the ``tensorboard`` package) gets every scalar and the validation
  audio. Without the package the run goes on with one warning. A resumed run purges the events logged after the
  checkpoint, so curves do not fold back.

Only rank 0 creates a logger; the other processes get :class:`NullLogger`.
"""

from __future__ import annotations

import re
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from codecstudy.jsonl import JsonlAppender, read_jsonl

LOG_NAME = "train.log"
METRICS_NAME = "metrics.jsonl"
TENSORBOARD_DIR = "tensorboard"
_PER_CODEBOOK = re.compile(r"/q\d+$")
_BAR_KEYS = (("g", "train/generator/total"), ("mel", "train/generator/mel"), ("d", "train/discriminator/total"))


def _summary_writer(folder: Path, purge_step: int | None) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter  # tensorboard: heavy, and the run goes on without it
    except ImportError:
        warnings.warn(
            "tensorboard is not installed: no TensorBoard logs (train.log and metrics.jsonl are still written); "
            "`pip install tensorboard` to get them",
            stacklevel=3,
        )
        return None
    return SummaryWriter(str(folder), purge_step=purge_step)


def _format_value(value: float) -> str:
    if value == 0 or 1e-3 <= abs(value) < 1e4:
        return f"{value:.4g}"
    return f"{value:.3e}"


def format_line(step: int, total: int, values: Mapping[str, float], prefix: str) -> str:
    """``step 100/3000 train | generator/total 1.23 | ...`` with the prefix stripped from the keys.

    Per-codebook values (``.../q3``) stay out of the text line, which would otherwise wrap several times; they are
    in metrics.jsonl and TensorBoard.
    """
    parts = [f"step {step}/{total} {prefix.rstrip('/')}"]
    for key, value in values.items():
        if _PER_CODEBOOK.search(key):
            continue
        name = key[len(prefix):] if key.startswith(prefix) else key
        parts.append(f"{name} {_format_value(float(value))}")
    return " | ".join(parts)


class TrainLogger:
    """Rank 0's reporting; every method is cheap enough to call each step."""

    def __init__(self, out_dir: Path, total_steps: int, start_step: int, show_progress: bool = True) -> None:
        self.out_dir = out_dir
        self.total = total_steps
        self.log = open(out_dir / LOG_NAME, "a", encoding="utf-8")
        self.metrics = JsonlAppender(out_dir / METRICS_NAME)
        self.writer = _summary_writer(out_dir / TENSORBOARD_DIR, purge_step=start_step + 1 if start_step else None)
        self.bar = tqdm(
            total=total_steps,
            initial=start_step,
            unit="step",
            dynamic_ncols=True,
            disable=not show_progress,
            smoothing=0.05,
        )
        self._last_time = time.perf_counter()
        self._last_step = start_step

    # ------------------------------------------------------------------------------------------------ text
    def message(self, text: str) -> None:
        """A line in train.log, printed above the progress bar."""
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        self.log.write(f"{stamp} {text}\n")
        self.log.flush()
        self.bar.write(text)

    def step(self, step: int, values: Mapping[str, float]) -> None:
        """Advance the bar to ``step`` (1-based count of finished steps) and show the main losses."""
        self.bar.update(step - self.bar.n)
        shown = {name: values[key] for name, key in _BAR_KEYS if key in values}
        if shown:
            self.bar.set_postfix({k: f"{v:.3g}" for k, v in shown.items()}, refresh=False)

    def steps_per_second(self, step: int) -> float:
        now = time.perf_counter()
        rate = (step - self._last_step) / max(now - self._last_time, 1e-9)
        self._last_time, self._last_step = now, step
        return rate

    # --------------------------------------------------------------------------------------------- metrics
    def scalars(self, step: int, kind: str, values: Mapping[str, float], line: bool = True) -> None:
        """One record in metrics.jsonl, TensorBoard scalars and (``line``) one line in train.log."""
        record: dict[str, Any] = {"kind": kind, "step": step, "time": round(time.time(), 3)}
        record.update({k: float(v) for k, v in values.items()})
        self.metrics.write(record)
        if self.writer is not None:
            for key, value in values.items():
                if np.isfinite(value):
                    self.writer.add_scalar(key, float(value), step)
        if line:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            self.log.write(f"{stamp} {format_line(step, self.total, values, prefix=kind + '/')}\n")
            self.log.flush()

    def event(self, step: int, kind: str, **fields: Any) -> None:
        """A non-numeric record (start, resume, stop) in metrics.jsonl."""
        self.metrics.write({"kind": kind, "step": step, "time": round(time.time(), 3), **fields})

    def audio(self, step: int, tag: str, samples: np.ndarray, sample_rate: int) -> None:
        if self.writer is not None:
            self.writer.add_audio(tag, np.clip(samples, -1.0, 1.0)[None, :], step, sample_rate=sample_rate)

    def flush(self) -> None:
        if self.writer is not None:
            self.writer.flush()

    def close(self) -> None:
        self.bar.close()
        if self.writer is not None:
            self.writer.close()
        self.metrics.close()
        self.log.close()


class NullLogger(TrainLogger):
    """What ranks other than 0 use: the same calls, no output."""

    def __init__(self) -> None:  # noqa: D107 - nothing to set up
        pass

    def message(self, text: str) -> None:
        pass

    def step(self, step: int, values: Mapping[str, float]) -> None:
        pass

    def steps_per_second(self, step: int) -> float:
        return 0.0

    def scalars(self, step: int, kind: str, values: Mapping[str, float], line: bool = True) -> None:
        pass

    def event(self, step: int, kind: str, **fields: Any) -> None:
        pass

    def audio(self, step: int, tag: str, samples: np.ndarray, sample_rate: int) -> None:
        pass

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def read_metrics(path: str | Path, kind: str) -> list[dict[str, Any]]:
    """The records of one kind (``train``, ``valid``), the last one per step, in step order."""
    latest: dict[int, dict[str, Any]] = {}
    for record in read_jsonl(path):
        if record.get("kind") == kind:
            latest[int(record["step"])] = record
    return [latest[s] for s in sorted(latest)]
