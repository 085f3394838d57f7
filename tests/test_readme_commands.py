"""Every command the README and the getting-started page mark runnable works as shown.

A fenced ``bash`` block preceded by the line ``<!-- runnable -->`` is runnable: each of its commands is run through
the CLI (``python -m codecstudy`` with this checkout's ``src/``) and must exit 0 and print something. Only cheap
commands may be marked (``--help``, ``--version``, ``--dry-run``, ``codec info``, ``codec list``); a block that needs
a corpus or trains stays unmarked, and marking one is a test failure. A ``yaml`` block preceded by
``<!-- study-file -->`` must be a valid study file.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from codecstudy.study.spec import load_study

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
FRONT_DOOR = [REPO / "README.md", REPO / "docs" / "getting-started.md"]
FENCE = re.compile(r"^(?P<marker><!-- (?P<kind>runnable|study-file) -->\n)?```(?P<lang>\w*)\n(?P<body>.*?)^```$",
                   re.MULTILINE | re.DOTALL)


def marked_blocks(text: str, kind: str, language: str) -> list[str]:
    """Bodies of the ``language`` fences that directly follow a ``<!-- kind -->`` line."""
    return [m["body"] for m in FENCE.finditer(text) if m["kind"] == kind and m["lang"] == language]


def commands(block: str) -> list[list[str]]:
    """The shell commands of a block as argument lists: continuations joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", block)
    return [words for line in joined.splitlines() if (words := shlex.split(line, comments=True))]


def is_cheap(words: list[str]) -> bool:
    return (words[0] == "codecstudy" and (
        bool({"--help", "-h", "--version", "--dry-run"} & set(words)) or words[1:3] in (["codec", "info"],
                                                                                          ["codec", "list"])))


def runnable() -> dict[str, list[str]]:
    """Each marked command once (as written, normalised), with the pages that show it."""
    found: dict[str, list[str]] = {}
    for page in PAGES:
        for block in marked_blocks(page.read_text(encoding="utf-8"), "runnable", "bash"):
            for words in commands(block):
                found.setdefault(shlex.join(words), []).append(page.relative_to(REPO).as_posix())
    return found


RUNNABLE = runnable()


def test_blocks_are_found_and_marked_where_they_must_be() -> None:
    text = "intro\n<!-- runnable -->\n```bash\ncodecstudy --help   # all\ncodecstudy codec info \\\n    opus\n```\n" \
           "\n```bash\nmake demo\n```\n<!-- study-file -->\n```yaml\ncorpus: {}\n```\n"
    assert [commands(b) for b in marked_blocks(text, "runnable", "bash")] == [
        [["codecstudy", "--help"], ["codecstudy", "codec", "info", "opus"]]]
    assert marked_blocks(text, "study-file", "yaml") == ["corpus: {}\n"]
    assert not is_cheap(["codecstudy", "study", "run", "demo.yaml"]) and is_cheap(["codecstudy", "codec", "list"])
    shown = {page for pages in RUNNABLE.values() for page in pages}
    for page in FRONT_DOOR:
        assert page.relative_to(REPO).as_posix() in shown, f"{page}: no runnable command"


@pytest.mark.parametrize("command", sorted(RUNNABLE))
def test_runnable_command(command: str) -> None:
    page = ", ".join(RUNNABLE[command])
    words = shlex.split(command)
    assert is_cheap(words), f"{page}: `{command}` is marked runnable but may need a corpus or train: unmark it"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    result = subprocess.run([sys.executable, "-m", "codecstudy", *words[1:]], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{page}: `{command}` exited {result.returncode}: {result.stderr[-2000:]}"
    assert result.stdout.strip(), f"{page}: `{command}` printed nothing"


@pytest.mark.parametrize("page", [p for p in PAGES if "<!-- study-file -->" in p.read_text(encoding="utf-8")],
                         ids=lambda p: p.relative_to(REPO).as_posix())
def test_study_file_snippet_is_a_valid_study(page: Path, tmp_path: Path) -> None:
    for number, block in enumerate(marked_blocks(page.read_text(encoding="utf-8"), "study-file", "yaml")):
        path = tmp_path / f"study-{number}.yaml"
        path.write_text(block, encoding="utf-8")
        study = load_study(path)
        assert study.condition_names and study.eval_set_names, f"{page}: a study needs conditions and eval sets"
