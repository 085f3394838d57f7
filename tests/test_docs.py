"""The documentation site: ``mkdocs build --strict`` passes (no broken link, no missing page, no API page whose
module is gone), and the command-line reference page covers every command of the parser.

The build runs only where the ``docs`` extra is installed (``make install`` and ``make test`` install it); elsewhere
it is skipped with one line.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HAS_MKDOCS = all(importlib.util.find_spec(name) for name in ("mkdocs", "material", "mkdocstrings_handlers"))


def _cli_reference():
    spec = importlib.util.spec_from_file_location("cli_reference", REPO / "scripts" / "cli_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_reference_has_a_section_and_the_help_of_every_command() -> None:
    reference = _cli_reference()
    parser = reference.codecstudy_parser()
    page = reference.cli_markdown(parser)
    progs = [command.prog for _depth, command in reference.walk(parser)]
    assert "codecstudy study run" in progs and "codecstudy listen import" in progs and "codecstudy codec info" in progs
    for depth, command in reference.walk(parser):
        assert f"{'#' * min(depth + 2, 6)} `{command.prog}`\n" in page
        assert f"usage: {command.prog} " in page
    assert page.count("```text") == len(progs)
    # the sub-command tables link to the sections by the ids the toc gives them
    assert "[`codecstudy study run`](#codecstudy-study-run)" in page


@pytest.mark.skipif(not HAS_MKDOCS, reason="mkdocs not installed (the docs extra: pip install -e '.[docs]')")
def test_site_builds_with_no_warning(tmp_path: Path) -> None:
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "WARNING" not in result.stderr, result.stderr[-4000:]
    cli = (site / "reference" / "cli" / "index.html").read_text(encoding="utf-8")
    assert "codecstudy study run" in cli and "--dry-run" in cli
    api = (site / "reference" / "api" / "codec-catalog" / "index.html").read_text(encoding="utf-8")
    assert "open_codec" in api and "adapter_kind" in api
    assert ":class:" not in api
    assert "stoi" in (site / "reference" / "api" / "metrics" / "intrusive" / "index.html").read_text(encoding="utf-8")


@pytest.mark.skipif(not HAS_MKDOCS, reason="mkdocs not installed (the docs extra: pip install -e '.[docs]')")
def test_sphinx_roles_become_code_on_the_api_pages() -> None:
    spec = importlib.util.spec_from_file_location("griffe_rst_roles", REPO / "scripts" / "griffe_rst_roles.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = "Wrapped in :class:`codecstudy.codec.native.NativeCodec`; see :func:`~a.b` and :py:meth:`C.d`, ``x``."
    assert module.plain_roles(text) == ("Wrapped in `codecstudy.codec.native.NativeCodec`; see `a.b` and `C.d`, "
                                        "``x``.")
