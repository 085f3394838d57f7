"""The command-line reference page of the documentation site, generated from the argparse parsers.

``codecstudy.cli.build_parser()`` is the one source of the CLI's commands, options and help texts; this module
walks it (every sub-command, at every depth) and writes one Markdown page with each command's ``--help``, so the
site cannot drift from the code. It is an MkDocs hook (``hooks:`` in ``mkdocs.yml``): at build time it adds the
page ``reference/cli.md`` to the site's files. ``python scripts/cli_reference.py`` prints the page.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from pathlib import Path

PAGE = "reference/cli.md"
HELP_COLUMNS = 100  # argparse wraps help to the terminal's width: a fixed width gives the same page everywhere
ROOT = Path(__file__).resolve().parent.parent


def _subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, str, argparse.ArgumentParser]]:
    """(name, one-line summary, parser) of each sub-command of ``parser``, in the order they were added."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            summaries = {choice.dest: choice.help or "" for choice in action._choices_actions}
            found += [(name, summaries.get(name, ""), sub) for name, sub in action.choices.items()]
    return found


def walk(parser: argparse.ArgumentParser, depth: int = 0) -> Iterator[tuple[int, argparse.ArgumentParser]]:
    """Every parser below ``parser`` (itself first), depth first, with its depth."""
    yield depth, parser
    for _name, _summary, sub in _subcommands(parser):
        yield from walk(sub, depth + 1)


def _help_text(parser: argparse.ArgumentParser) -> str:
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(HELP_COLUMNS)
    try:
        return parser.format_help().rstrip()
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous


def anchor(prog: str) -> str:
    """The heading id Python-Markdown's toc gives the heading `` `prog` ``: words joined by hyphens."""
    return "-".join(prog.lower().split())


def cli_markdown(parser: argparse.ArgumentParser) -> str:
    """The reference page: for every command a heading, a table of its sub-commands and its ``--help`` text."""
    lines = [
        "# Command line",
        "",
        "Generated from `codecstudy.cli.build_parser()` when the site is built: each section is what",
        "`codecstudy ... --help` prints. Examples by task: [Commands by task](commands.md).",
        "",
    ]
    for depth, command in walk(parser):
        lines += [f"{'#' * min(depth + 2, 6)} `{command.prog}`", ""]
        subcommands = _subcommands(command)
        if subcommands:
            lines += ["| command | what it does |", "|---|---|"]
            lines += [
                f"| [`{sub.prog}`](#{anchor(sub.prog)}) | {summary.replace('|', '&#124;')} |"
                for _name, summary, sub in subcommands
            ]
            lines.append("")
        lines += ["```text", _help_text(command), "```", ""]
    return "\n".join(lines)


def codecstudy_parser() -> argparse.ArgumentParser:
    """The CLI's parser, imported from this checkout's ``src/`` (not from whatever codecstudy is installed)."""
    source = str(ROOT / "src")
    if source not in sys.path:
        sys.path.insert(0, source)
    from codecstudy.cli import build_parser

    return build_parser()


def on_files(files, config):  # MkDocs hook: mkdocs.structure.files.Files, MkDocsConfig
    """Add the generated page to the site before the navigation is built."""
    from mkdocs.structure.files import File  # mkdocs: only present where the docs extra is installed

    files.append(File.generated(config, PAGE, content=cli_markdown(codecstudy_parser())))
    return files


if __name__ == "__main__":
    print(cli_markdown(codecstudy_parser()))
