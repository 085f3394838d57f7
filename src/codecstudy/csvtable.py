"""CSV tables: written whole (one header from the first row's keys) and read back as strings.

The report reads the tables back as written, so that what it shows and what the CSV says cannot disagree.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from codecstudy.files import atomic_write


def write_csv(path: str | Path, rows: list[dict[str, Any]]) -> Path:
    """``rows`` under the first row's keys; no rows is an empty file (the table exists, with nothing in it)."""
    with atomic_write(path, "w") as handle:
        if rows:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\r\n")
            writer.writeheader()
            writer.writerows(rows)
    return Path(path)


def read_csv(path: str | Path) -> list[dict[str, str]]:
    """A table back as strings; a missing file is an empty table."""
    path = Path(path)
    if not path.is_file():
        return []
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))
