"""Reading a table back for a comparison between two runs of one study."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest


def csv_cells(text: str, approx: bool = False) -> list[list[object]]:
    """CSV cells, numbers as floats (``approx``: as pytest.approx, since a metric summed with 1 or 2 torch threads
    differs in its last digit)."""

    def cell(value: str) -> object:
        try:
            number = float(value)
        except ValueError:
            return value
        return pytest.approx(number, rel=1e-9, abs=1e-12, nan_ok=True) if approx else number

    return [[cell(v) for v in row] for row in csv.reader(io.StringIO(text))]


def table_cells(path: Path) -> list[list[object]]:
    """A table file's cells, numbers as pytest.approx."""
    return csv_cells(path.read_text(encoding="utf-8"), approx=True)
