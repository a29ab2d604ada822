"""kubectl's global flags are taken from anywhere after the plugin name."""

from __future__ import annotations

import pytest

from kubectl_edge.cli.options import parse_request_timeout, split_global_flags
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


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("1m30s", 90), ("2h", 7200), ("15", 15), ("+15", 15),
                                                ("500ms", 0.5), ("1.5s", 1.5), ("0", None), ("0s", None)])
def test_request_timeouts(text: str, seconds: float | None) -> None:
    # As kubectl's: a whole number alone counts seconds, anything else is a Go duration; 0 is no timeout.
    assert parse_request_timeout(text) == seconds
    assert split_global_flags([f"--request-timeout={text}"])[0].request_timeout == seconds


@pytest.mark.parametrize(("text", "reason"), [("soon", "expected a number"), ("1.5", "no unit"), ("1m30", "no unit"),
                                              ("-1", "negative"), ("-5s", "negative"), ("", "empty")])
def test_bad_request_timeouts_say_why(text: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason) as caught:
        parse_request_timeout(text)
    assert caught.value.message.startswith("--request-timeout: ")
    assert caught.value.hint


def test_request_timeout_in_days_gets_the_days_hint() -> None:
    with pytest.raises(ConfigError) as caught:
        split_global_flags(["--request-timeout", "1d"])
    assert caught.value.hint is not None and "168h" in caught.value.hint
