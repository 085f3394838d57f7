"""The pieces every package's ``commands.py`` builds its sub-commands from, so that all help pages look alike."""

from __future__ import annotations

import argparse


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keep the hand-written layout of descriptions (examples, lists)."""


def add_parser(subparsers: argparse._SubParsersAction, name: str, summary: str,
               description: str) -> argparse.ArgumentParser:
    """A sub-command whose help line is ``summary`` and whose page starts with it, then ``description``."""
    return subparsers.add_parser(
        name, help=summary, description=f"{summary}\n\n{description}".strip(), formatter_class=HelpFormatter
    )
