"""YAML loading, dotted overrides and error messages that name the file and the key."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict

from codecstudy.config import apply_overrides, load_config, load_yaml, parse_override
from codecstudy.errors import ConfigError


class Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rate: float = 1.0


class Outer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    inner: Inner = Inner()
    items: list[int] = []


def test_override_values_are_parsed_as_yaml():
    assert parse_override("a.b=1.5") == (["a", "b"], 1.5)
    assert parse_override("a=[en, es]") == (["a"], ["en", "es"])
    assert parse_override("flag=true") == (["flag"], True)
    assert parse_override("s=hello world") == (["s"], "hello world")
    with pytest.raises(ConfigError, match="expected key=value"):
        parse_override("novalue")


def test_apply_overrides_sets_nested_keys_and_list_items():
    data = {"a": {"b": 1}, "l": [{"x": 1}, {"x": 2}]}
    result = apply_overrides(data, ["a.b=2", "a.c.d=3", "l.1.x=5"])
    assert result == {"a": {"b": 2, "c": {"d": 3}}, "l": [{"x": 1}, {"x": 5}]}
    assert data["a"]["b"] == 1  # the input is not modified
    with pytest.raises(ConfigError, match="l.7 is not a valid list index"):
        apply_overrides(data, ["l.7.x=1"])


def test_errors_name_file_and_key(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("name: x\ninner:\n  rate: fast\n  extra: 1\n")
    with pytest.raises(ConfigError) as info:
        load_config(Outer, path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert "inner.rate: Input should be a valid number" in message
    assert "inner.extra: unknown key" in message


def test_yaml_problems_are_one_clear_line(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_yaml(tmp_path / "none.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1, 2\nb: 3\n")
    with pytest.raises(ConfigError, match=r"bad.yaml \(line \d+, column \d+\): invalid YAML"):
        load_yaml(bad)
    listy = tmp_path / "list.yaml"
    listy.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_yaml(listy)


def test_overrides_apply_before_validation(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("name: x\n")
    assert load_config(Outer, path, ["inner.rate=2.5", "items=[1, 2]"]) == Outer(name="x", inner=Inner(rate=2.5),
                                                                                 items=[1, 2])
