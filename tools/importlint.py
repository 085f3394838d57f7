"""An import-linter contract of our own: no module imports another module's underscore names.

A name that starts with one underscore is private to its module; importing it from elsewhere couples two modules
through something neither promised. The contract reads each module's source (the import graph alone does not say
which names an import takes) and lists every ``from codecstudy.x import _name`` that crosses a module boundary.
Tests may import private names; the package may not.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

from importlinter import Contract, ContractCheck, fields, output


def _source_path(module: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    return Path(spec.origin)


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _absolute(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def private_imports(module: str, path: Path, root: str) -> list[tuple[int, str, str]]:
    """(line, imported module, name) for each underscore name ``module`` takes from another module of ``root``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom):
            continue
        source = _absolute(module, path.name == "__init__.py", node)
        if source != root and not source.startswith(root + "."):
            continue
        for alias in node.names:
            name = alias.name
            if not name.startswith("_") or name.startswith("__") or source == module:
                continue
            if _is_module(f"{source}.{name}") and module.startswith(source + "."):
                continue  # a package's private submodule, used inside that package
            found.append((node.lineno, source, name))
    return found


class PrivateNamesContract(Contract):
    """Contract type ``private_names``: option ``root``, the package whose modules are checked."""

    root = fields.StringField()

    def check(self, graph, verbose: bool) -> ContractCheck:  # type: ignore[no-untyped-def]
        root = str(self.root)
        problems = []
        for module in sorted(m for m in graph.modules if m == root or m.startswith(root + ".")):
            path = _source_path(module)
            if path is None:
                continue
            problems += [(module, line, source, name) for line, source, name in private_imports(module, path, root)]
        return ContractCheck(kept=not problems, metadata={"problems": problems})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for module, line, source, name in check.metadata["problems"]:
            output.print_error(f"{module}:{line} imports {name} from {source}", bold=False)
            output.new_line()
