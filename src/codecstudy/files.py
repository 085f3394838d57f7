"""Files shared between processes: atomic writes, named locks, locked read-modify-write, digests.

A run folder is written by many processes at once (parallel study items, torchrun-sharded evaluation, cluster
jobs on several nodes). Every whole-file write goes through :func:`atomic_write` (a temporary name unique to the
process and thread, in the same folder, fsynced, then renamed over the target), so a reader sees the old file or
the new one, never a mix; every read-modify-write of a shared file holds :func:`file_lock` on it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import filelock

from codecstudy.errors import CodecStudyError

#: Every temporary file of :func:`atomic_path` is named ``.NAME.tmp-PID-THREAD-RANDOM.SUFFIX``.
TEMP_MARK = ".tmp-"
# A lock still held after this long is reported once (who holds it); after `timeout` the waiter gives up.
LOCK_REPORT_AFTER = 30.0
LOCK_TIMEOUT = 6 * 3600.0


class LockTimeout(CodecStudyError):
    """Waited longer than the lock's timeout; the message names the lock and its holder."""


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A private temporary path beside ``path`` (same suffix, so writers that go by the extension still work) that
    replaces ``path`` once the block ends without error; a failure removes it and leaves the old file in place.

    The temporary name is unique per process and thread, so concurrent writers never share one; the file is
    fsynced before the rename, so a crash leaves the old file or the new one, never half of one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}{TEMP_MARK}{os.getpid()}-{threading.get_ident()}-",
                                suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with tmp.open("rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "w") -> Iterator[IO[Any]]:
    """Write ``path`` as a whole through :func:`atomic_path`: text (UTF-8, newlines as given) or bytes."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write mode must be 'w' or 'wb', not {mode!r}")
    with atomic_path(path) as tmp, tmp.open(mode, **({"encoding": "utf-8", "newline": ""} if mode == "w" else {})) \
            as handle:
        yield handle


def stale_temporaries(folder: str | Path) -> list[Path]:
    """Temporary files that writes killed mid-way left in ``folder`` (never valid; safe to delete when no writer
    of the folder runs)."""
    folder = Path(folder)
    return sorted(folder.glob(f".*{TEMP_MARK}*")) if folder.is_dir() else []


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    with atomic_write(path, "wb") as handle:
        handle.write(data)
    return Path(path)


def write_text_atomic(path: str | Path, text: str) -> Path:
    with atomic_write(path, "w") as handle:
        handle.write(text)
    return Path(path)


def json_text(data: Any) -> str:
    """The one JSON layout of the run folder's documents (indented, UTF-8 kept, a final newline)."""
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def write_json_atomic(path: str | Path, data: Any) -> Path:
    return write_text_atomic(path, json_text(data))


def read_json_or_none(path: str | Path) -> Any:
    """A JSON document, or None where the file is missing or unreadable (a state check, not a parse error)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ----------------------------------------------------------------------------------------------------------- locks
def _holder_path(lock: Path) -> Path:
    # filelock truncates the lock file on every attempt, so who holds it is kept beside it.
    return lock.with_name(lock.name + ".holder")


def _describe_holder(lock: Path) -> str:
    holder = read_json_or_none(_holder_path(lock))
    if not isinstance(holder, dict):
        return "holder unknown"
    since = holder.get("since")
    age = f", for {time.time() - since:.0f} s" if isinstance(since, (int, float)) else ""
    return f"held by pid {holder.get('pid')} on {holder.get('host')} ({holder.get('command')}{age})"


@contextlib.contextmanager
def file_lock(path: str | Path, *, timeout: float | None = LOCK_TIMEOUT, report_after: float = LOCK_REPORT_AFTER,
              report: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the exclusive lock ``path`` (a flock, released by the kernel however the holder ends).

    A wait longer than ``report_after`` is reported once through ``report`` (stderr by default), naming the lock
    and its holder; a wait longer than ``timeout`` (None: no limit, for locks held by long work such as a study
    item) raises :class:`LockTimeout` with the same words.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(str(path))
    limit = math.inf if timeout is None else timeout
    started = time.monotonic()
    reported = False
    while True:
        waited = time.monotonic() - started
        until = limit if reported else min(limit, report_after)
        try:
            lock.acquire(timeout=max(until - waited, 0.0) if math.isfinite(until) else -1, poll_interval=0.02)
            break
        except filelock.Timeout:
            waited = time.monotonic() - started
            if waited >= limit:
                raise LockTimeout(f"{path}: waited {waited:.1f} s for this lock, {_describe_holder(path)}") from None
            if not reported and waited >= report_after:
                (report or _to_stderr)(f"waiting for {path}: {_describe_holder(path)}")
                reported = True
    try:
        with contextlib.suppress(OSError):
            write_json_atomic(_holder_path(path), {"pid": os.getpid(), "host": socket.gethostname(),
                                                   "command": " ".join(sys.argv[:3]), "since": time.time()})
        yield
    finally:
        lock.release()


def _to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def update_json(path: str | Path, change: Callable[[Any], Any], *, timeout: float = LOCK_TIMEOUT) -> Any:
    """Read ``path`` (None when missing), apply ``change`` and write the result, all under the file's lock.

    Concurrent updaters of one file (evaluation shards merging meta.json, delay.json or fad.json) each see the
    other's keys: no update is lost.
    """
    path = Path(path)
    with file_lock(path.with_name(f".{path.name}.lock"), timeout=timeout):
        data = change(read_json_or_none(path))
        write_json_atomic(path, data)
    return data
