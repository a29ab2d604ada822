"""kubectl's global flags are taken from anywhere after the plugin name."""

from __future__ import annotations

import pytest

from kubectl_edge.cli.options import parse_duration, split_global_flags
from kubectl_edge.errors import ConfigError


def test_flags_anywhere_in_both_spellings() -> None:
    options, rest = split_global_flags(
        ["token", "--context", "prod", "list", "--kubeconfig=/k", "-n", "ns", "-o", "json", "--v=6"])
    assert rest == ["token", "list", "-o", "json"]
    assert options.connection.context == "prod"
    assert options.connection.kubeconfig == "/k"
    assert options.connection.namespace == "ns"
    assert options.verbosity == 6


@pytest.mark.parametrize("argv", [["-v", "4"], ["-v4"], ["-v=4"], ["--v", "4"], ["--v=4"]])
def test_verbosity_spellings(argv: list[str]) -> None:
    assert split_global_flags(["version", *argv])[0].verbosity == 4


def test_double_dash_stops_parsing() -> None:
    options, rest = split_global_flags(["x", "--", "--context", "c"])
    assert options.connection.context is None
    assert rest == ["x", "--", "--context", "c"]


def test_errors() -> None:
    with pytest.raises(ConfigError, match="needs a value"):
        split_global_flags(["version", "--context"])
    with pytest.raises(ConfigError, match="invalid -v value"):
        split_global_flags(["-v", "loud"])
    with pytest.raises(ConfigError, match="request-timeout"):
        split_global_flags(["--request-timeout", "soon"])


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("1m30s", 90), ("2h", 7200), ("15", 15),
                                                ("500ms", 0.5), ("0", None), ("0s", None)])
def test_durations(text: str, seconds: float | None) -> None:
    assert parse_duration(text) == seconds
