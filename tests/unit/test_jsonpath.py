"""kubectl-style JSONPath templates for token list -o jsonpath."""

from __future__ import annotations

import pytest

from kubectl_edge.cli.jsonpath import parse_output, render
from kubectl_edge.errors import ConfigError

DOC = {"token": "abcdef.0123456789abcdef", "usages": ["authentication", "signing"],
       "items": [{"name": "a", "n": 1}, {"name": "b", "n": 2}], "meta": {"dotted.key": "x", "flag": True}}


@pytest.mark.parametrize(("template", "expected"), [
    ("{.token}", "abcdef.0123456789abcdef"),
    ('{.token}{"\\n"}', "abcdef.0123456789abcdef\n"),
    ("id={.usages[0]}", "id=authentication"),
    ("{.usages[-1]}", "signing"),
    ("{.usages[*]}", "authentication signing"),
    ("{.usages}", '["authentication","signing"]'),
    ("{range .items[*]}{.name}={.n};{end}", "a=1;b=2;"),
    ("{.meta['dotted.key']}", "x"),
    ("{.meta.flag}", "true"),
    ("{.missing}", ""),
    ("{$.token}", "abcdef.0123456789abcdef"),
])
def test_render(template: str, expected: str) -> None:
    assert render(template, DOC) == expected


@pytest.mark.parametrize("template", ["{.token", "{range .items[*]}{.name}", "{end}", "{..name}", '{"\\q}', "{.a b}"])
def test_bad_templates_are_refused(template: str) -> None:
    with pytest.raises(ConfigError):
        render(template, DOC)


def test_parse_output() -> None:
    assert parse_output("jsonpath={.token}") == "{.token}"
    assert parse_output("json") is None
    with pytest.raises(ConfigError):
        parse_output("jsonpath=")
