"""Hypothesis strategies for input files: arbitrary JSON, and arbitrary mutations of a valid document.

A mutation picks one place in the document (a key of a mapping or an item of a list, at any depth) and replaces
its value with arbitrary JSON, deletes it, or adds a key that is not there; several may be applied in turn. That
reaches the shape errors a hand-edited or truncated file has (a string where an object belongs, a missing section)
far more often than arbitrary JSON alone, which is rejected at its first check.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import strategies as st

#: Scalars as JSON has them (finite and non-finite floats: Python's json reads NaN and Infinity).
json_scalars = st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats() | st.text(max_size=12)
#: Any JSON value, a few levels deep.
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def _places(data: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path of ``data`` (the top level is ``()``)."""
    found = [path]
    if isinstance(data, dict):
        for key, value in data.items():
            found += _places(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += _places(value, (*path, index))
    return found


def _mutate(data: Any, draw: Any) -> Any:
    places = _places(data)
    path = draw(st.sampled_from(places))
    action = draw(st.sampled_from(["replace", "delete", "add"]))
    if not path:
        return draw(json_values) if action == "replace" else data
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    last = path[-1]
    if action == "replace":
        parent[last] = draw(json_values)
    elif action == "delete":
        del parent[last]
    elif isinstance(parent, dict):
        parent[draw(st.text(min_size=1, max_size=8))] = draw(json_values)
    else:
        parent.insert(last, draw(json_values))
    return data


@st.composite
def mutations(draw: Any, document: Any, max_changes: int = 3) -> Any:
    """A copy of ``document`` with one to ``max_changes`` mutations."""
    data = copy.deepcopy(document)
    for _ in range(draw(st.integers(1, max_changes))):
        data = _mutate(data, draw)
    return data
