"""The house's layers (pyproject.toml, [tool.importlinter]): a new cycle, upward import or private import fails CI."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tools/ (the private-names contract) is imported from the repository root

importlint = pytest.importorskip("tools.importlint", reason="import-linter is not installed (the dev extra)")


def _lint_imports() -> str:
    found = Path(sys.executable).parent / "lint-imports"
    return str(found) if found.is_file() else shutil.which("lint-imports") or ""


def test_import_contracts_are_kept() -> None:
    command = _lint_imports()
    if not command:
        pytest.skip("lint-imports is not on PATH (pip install -e '.[dev]')")
    result = subprocess.run([command, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "Contracts: 4 kept, 0 broken." in result.stdout


def test_private_names_contract_finds_an_underscore_import(tmp_path: Path) -> None:
    module = tmp_path / "mod.py"
    module.write_text("from codecstudy.study.state import _hidden, public\n"
                      "from codecstudy.files import __all__\n"
                      "from .sibling import _mine\n", encoding="utf-8")
    found = importlint.private_imports("codecstudy.study.mod", module, "codecstudy")
    assert found == [(1, "codecstudy.study.state", "_hidden"), (3, "codecstudy.study.sibling", "_mine")]


def test_a_package_may_use_its_own_private_submodule(tmp_path: Path) -> None:
    module = tmp_path / "audioset.py"
    module.write_text("from codecstudy.corpus.sources import _layout\n", encoding="utf-8")
    assert importlint.private_imports("codecstudy.corpus.sources.audioset", module, "codecstudy") == []
    assert importlint.private_imports("codecstudy.study.mod", module, "codecstudy") == [
        (1, "codecstudy.corpus.sources", "_layout")]
