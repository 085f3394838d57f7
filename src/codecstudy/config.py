"""Typed configs loaded from YAML, with dotted overrides and errors that name the key.

Every config in codecstudy is a pydantic model. This module holds the generic plumbing: reading YAML,
applying ``key.sub=value`` overrides from the command line, and turning validation errors into one line
per problem that names the file and the dotted key. The JSON files codecstudy reads back (a listening test's
trials, the ratings listeners send) are pydantic models too; :func:`parse_input` words their shape errors in JSON's
terms (``ratings[2]: expected an object, got a string``), since their authors see JSON, not Python.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from codecstudy.errors import ConfigError

ModelT = TypeVar("ModelT", bound=BaseModel)


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping; a missing file, a syntax error or a non-mapping top level is a ConfigError."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}{where}: invalid YAML: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys, not {type(data).__name__}")
    return data


def parse_override(text: str) -> tuple[list[str], Any]:
    """``a.b.0.c=value`` -> (["a", "b", "0", "c"], parsed value); the value is read as YAML (1, true, [a, b])."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {text!r}: expected key=value, for example clips.min_duration=1.0")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return [part for part in key.strip().split(".")], value


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of ``data`` with each ``key.sub=value`` override set (list items by index)."""
    import copy

    result = copy.deepcopy(data)
    for text in overrides:
        keys, value = parse_override(text)
        node: Any = result
        for depth, key in enumerate(keys):
            last = depth == len(keys) - 1
            if isinstance(node, list):
                if not key.isdigit() or int(key) >= len(node):
                    raise ConfigError(f"override {text!r}: {'.'.join(keys[: depth + 1])} is not a valid list index")
                index = int(key)
                if last:
                    node[index] = value
                else:
                    node = node[index]
            elif isinstance(node, dict):
                if last:
                    node[key] = value
                else:
                    node = node.setdefault(key, {})
            else:
                raise ConfigError(f"override {text!r}: {'.'.join(keys[:depth])} is not a mapping")
    return result


def _location(loc: tuple[int | str, ...]) -> str:
    """``.a.b[0].c`` from pydantic's location; a key that does not print as itself (a control character, a line
    break) is quoted, so that the message stays one readable line."""
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" if str(p).isprintable() else f".{str(p)!r}"
                   for p in loc)


def format_validation_error(exc: ValidationError, prefix: str = "", file: str | Path | None = None) -> str:
    """One clause per problem, each naming the dotted key: ``study.yaml: corpus.sources[0].root: Field required``.

    ``prefix`` is the key the validated mapping sits under; ``file`` the YAML file it came from.
    """
    parts = []
    for err in exc.errors():
        key = f"{prefix}{_location(err['loc'])}".lstrip(".") or "(top level)"
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = "unknown key"
        elif err["type"] == "literal_error" and "expected" in err.get("ctx", {}):
            message = f"must be one of {err['ctx']['expected']}"
        elif err["type"] == "value_error":
            message = message.removeprefix("Value error, ")
            if not err["loc"] and not prefix:
                # a whole-model check that already names its keys (nested sections validated by their owner)
                parts.append(message)
                continue
        parts.append(f"{key}: {message}")
    text = "; ".join(parts)
    return f"{file}: {text}" if file else text


def validate(
    model: type[ModelT], data: dict[str, Any], prefix: str = "", file: str | Path | None = None
) -> ModelT:
    """Validate ``data`` as ``model``; errors become a ConfigError naming the file and the dotted key."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, prefix, file)) from None


#: What a pydantic type error expected, in JSON's words.
_EXPECTED = {
    "dict_type": "an object", "model_type": "an object", "model_attributes_type": "an object",
    "list_type": "a list", "string_type": "a string", "bool_type": "true or false",
    "int_type": "a whole number", "int_from_float": "a whole number", "float_type": "a number",
}
#: How many problems one line lists before it only counts the rest.
_SHOWN_PROBLEMS = 3


def json_kind(value: Any) -> str:
    """What a JSON value is, as its author would say it: ``an object``, ``a list``, ``a string``, ``null``..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "an object" if isinstance(value, dict) else type(value).__name__


def format_input_error(exc: ValidationError, file: str | Path) -> str:
    """One line for a JSON file of the wrong shape: the file, then each field at fault (``ratings[2].scores``) with
    what it should be and what it is; past a few problems, only their number."""
    parts = []
    for err in exc.errors():
        loc = _location(err["loc"]).lstrip(".") or "(top level)"
        if err["type"] == "missing":
            message = "missing"
        elif err["type"] in _EXPECTED:
            message = f"expected {_EXPECTED[err['type']]}, got {json_kind(err.get('input'))}"
        else:
            message = err["msg"].removeprefix("Value error, ")
        parts.append(f"{loc}: {message}")
    shown = "; ".join(parts[:_SHOWN_PROBLEMS])
    more = len(parts) - _SHOWN_PROBLEMS
    return f"{file}: {shown}" + (f" (and {more} more problem{'s' if more > 1 else ''})" if more > 0 else "")


def parse_input(model: type[ModelT], data: Any, file: str | Path) -> ModelT:
    """``data`` (parsed JSON) as ``model``; a shape error is a ConfigError of one line naming the file and field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_input_error(exc, file)) from None


def load_config(model: type[ModelT], path: str | Path, overrides: list[str] | None = None) -> ModelT:
    """Load a YAML file as ``model``, after applying overrides; errors start with the file name."""
    data = apply_overrides(load_yaml(path), overrides or [])
    return validate(model, data, file=path)


def dump_yaml(model: BaseModel) -> str:
    """The resolved config, every default filled in, as YAML (paths as strings)."""
    return yaml.safe_dump(model.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
