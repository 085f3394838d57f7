"""A Griffe extension for the API pages: Sphinx roles in docstrings (``:class:`Codec```) shown as code.

The docstrings are written for ``help()`` and Sphinx alike; the API pages render them as Markdown, where a role would
stay as literal text. Named in ``mkdocs.yml`` (mkdocstrings' ``extensions`` option).
"""

from __future__ import annotations

import re
from typing import Any

import griffe  # griffe: installed with mkdocstrings-python (the docs extra)

ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|data|obj|exc|const|ref):`~?([^`]+)`")


def plain_roles(text: str) -> str:
    """``:class:`~a.B``` -> ```a.B``` (code), for every Sphinx role."""
    return ROLE.sub(r"`\1`", text)


class RstRoles(griffe.Extension):
    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = plain_roles(obj.docstring.value)
