"""The report in a real browser (Debian's headless ``chromium``): it renders, its tables say what the CSVs say, and
every audio player loads its file from disk.

Skipped only when chromium is not installed; ``make test`` installs it (apt-get install chromium), so CI runs it.
The screenshot is saved in the test's tmp folder and copied to ``$CODECSTUDY_TEST_ARTIFACTS`` (default
``runs/test-artifacts/``) for a human to look at.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[3]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian `chromium` is not installed (`make test` installs it: apt-get install chromium)"
)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--mute-audio",
         "--autoplay-policy=no-user-gesture-required", "--allow-file-access-from-files"]


class _Dom(HTMLParser):
    """Collects the paper-table cells (attributes, text, bold/underline), count tables, audio elements, body."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: dict[tuple[str, str, str], dict[str, object]] = {}
        self.audio: list[dict[str, str | None]] = []
        self.body: dict[str, str | None] = {}
        self.tables: dict[str, list[list[str]]] = {}
        self._cell: dict[str, object] | None = None
        self._table: str | None = None
        self._row: list[str] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "body":
            self.body = a
        elif tag == "audio":
            self.audio.append(a)
        elif tag == "table" and a.get("id"):
            self._table = a["id"]
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self._row = []
        elif tag == "td" and "paper" in (a.get("class") or "").split():
            self._cell = {"attrs": a, "bold": False, "underline": False, "text": ""}
            self.cells[(a["data-metric"], a["data-group"], a["data-condition"])] = self._cell
        elif tag == "td":
            self._text = []
        elif tag == "b" and self._cell is not None:
            self._cell["bold"] = True
        elif tag == "u" and self._cell is not None:
            self._cell["underline"] = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None:
            self._cell = None
        elif tag == "td" and self._row is not None:
            self._row.append("".join(self._text).strip())
        elif tag == "tr" and self._row is not None and self._table:
            if self._row:
                self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell["text"] = str(self._cell["text"]) + data
        self._text.append(data)


def _chromium(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, *FLAGS, *args], capture_output=True, text=True, timeout=90)


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_report_renders_matches_the_csvs_and_plays_audio(tiny_run, tmp_path: Path) -> None:
    _, run, _ = tiny_run
    page = (run / "report" / "index.html").resolve()
    shot = tmp_path / "report.png"
    result = _chromium("--window-size=1280,2400", f"--screenshot={shot}", page.as_uri())
    assert shot.is_file(), result.stderr[-2000:]
    artifacts = Path(os.environ.get("CODECSTUDY_TEST_ARTIFACTS", REPO / "runs" / "test-artifacts"))
    artifacts.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, artifacts / "study-report.png")
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[:2] == (2400, 1280)
    assert float(np.std(pixels[..., :3])) > 0.05  # not a blank page: text, tables and figures were drawn

    dom_text = _chromium("--virtual-time-budget=8000", "--dump-dom", page.as_uri()).stdout
    dom = _Dom()
    dom.feed(dom_text)

    paper = _csv(run / "tables" / "paper.csv")
    assert paper and len(dom.cells) == len(paper)
    for row in paper:
        cell = dom.cells[(row["metric"], row["group"], row["condition"])]
        mean = f"{float(row['mean']):.3f}"
        assert cell["attrs"]["data-mean"] == mean
        assert str(cell["text"]).startswith(mean)
        assert cell["bold"] == (row["best"] == "True")
        assert cell["underline"] == (row["worst"] == "True")
        assert f"[{float(row['ci_low']):.3f}, {float(row['ci_high']):.3f}]" in str(cell["text"])
    assert any(c["bold"] for c in dom.cells.values()) and any(c["underline"] for c in dom.cells.values())

    counts = _csv(run / "tables" / "paper_counts.csv")
    assert dom.tables["paper-counts"] == [[r["condition"], r["best"], r["worst"], r["significant_best"]]
                                          for r in counts]
    set_counts = _csv(run / "tables" / "counts.csv")
    assert dom.tables["set-counts"] == [[r["condition"], r["best"], r["worst"], r["compared"]] for r in set_counts]

    # 3 sets x 2 clips x (reference + 2 codecs), all loaded from disk with their real duration
    assert len(dom.audio) == 18
    assert dom.body.get("data-audio-total") == "18" and dom.body.get("data-audio-ready") == "18"
    assert all(a.get("data-state") == "ready" and float(a["data-duration"]) > 0.2 for a in dom.audio)
    assert all((page.parent / str(a["src"])).is_file() for a in dom.audio)
