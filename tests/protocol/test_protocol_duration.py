"""Go-style durations for --ttl: parsing as time.ParseDuration, formatting as time.Duration.String."""

from __future__ import annotations

import pytest

from edge_protocol.duration import format_duration, parse_duration, short_human_duration
from edge_protocol.errors import DurationError

MAX_NS = 2**63 - 1


# Cases from Go's own ParseDuration tests (src/time/time_test.go), non-negative ones only.
@pytest.mark.parametrize(
    ("text", "nanoseconds"),
    [
        ("0", 0),
        ("+0", 0),
        ("5s", 5 * 10**9),
        ("30s", 30 * 10**9),
        ("1478s", 1478 * 10**9),
        ("+5s", 5 * 10**9),
        ("5.0s", 5 * 10**9),
        ("5.6s", 5600 * 10**6),
        ("5.s", 5 * 10**9),
        (".5s", 500 * 10**6),
        ("1.004s", 1004 * 10**6),
        ("1.0040s", 1004 * 10**6),
        ("100.00100s", 100001 * 10**6),
        ("10ns", 10),
        ("11us", 11 * 10**3),
        ("12\u00b5s", 12 * 10**3),
        ("12\u03bcs", 12 * 10**3),
        ("13ms", 13 * 10**6),
        ("14s", 14 * 10**9),
        ("15m", 15 * 60 * 10**9),
        ("16h", 16 * 3600 * 10**9),
        ("3h30m", 210 * 60 * 10**9),
        ("10.5s4m", (4 * 60 + 10) * 10**9 + 500 * 10**6),
        ("1h2m3s4ms5us6ns", 3723004005006),
        ("39h9m14.425s", (39 * 3600 + 9 * 60 + 14) * 10**9 + 425 * 10**6),
        ("52763797000ns", 52763797000),
        ("0.3333333333333333333h", 20 * 60 * 10**9),
        ("0.100000000000000000000h", 6 * 60 * 10**9),
        ("0.9223372036854775809s", 922337203),
        ("24h", 86400 * 10**9),
        ("1h30m", 5400 * 10**9),
        ("90s", 90 * 10**9),
    ],
)
def test_parse_like_go(text: str, nanoseconds: int) -> None:
    assert round(parse_duration(text) * 10**9) == nanoseconds


@pytest.mark.parametrize("text", ["9223372036854775807ns", "9223372036854775.807us", "9223372036s854ms775us807ns"])
def test_parse_the_largest_go_duration(text: str) -> None:
    assert parse_duration(text) == pytest.approx(MAX_NS / 10**9)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty"),
        ("+", "empty"),
        ("3", "no unit"),
        ("1h30", "no unit"),
        ("-5s", "negative"),
        ("-0", "negative"),
        ("s", "expected a number"),
        ("h1", "expected a number"),
        (".", "no digits"),
        (".s", "no digits"),
        ("+.s", "no digits"),
        ("1d", "unknown unit 'd'"),
        ("1w", "unknown unit 'w'"),
        ("1H", "unknown unit 'H'"),
        ("1h 30m", "unknown unit 'h '"),
        (" 1h", "expected a number"),
        ("1.5.5h", "no unit"),
        ("\x85\x85", "expected a number"),
        ("\u0661h", "expected a number"),
        ("9223372036854775808ns", "292 years"),
        ("9223372036854775.808us", "292 years"),
        ("9223372036854ms775us808ns", "292 years"),
        ("2562048h", "292 years"),
    ],
)
def test_parse_refuses(text: str, problem: str) -> None:
    with pytest.raises(DurationError) as info:
        parse_duration(text)
    assert problem in info.value.message
    assert info.value.message.startswith(f"invalid duration {text!r}")
    assert info.value.hint


def test_days_get_a_specific_hint() -> None:
    with pytest.raises(DurationError) as info:
        parse_duration("7d")
    assert info.value.hint is not None and "168h" in info.value.hint


# Cases from Go's Duration.String tests.
@pytest.mark.parametrize(
    ("nanoseconds", "text"),
    [
        (0, "0s"),
        (1, "1ns"),
        (1100, "1.1\u00b5s"),
        (2200 * 10**3, "2.2ms"),
        (3300 * 10**6, "3.3s"),
        ((4 * 60 + 5) * 10**9, "4m5s"),
        (4 * 60 * 10**9 + 5001 * 10**6, "4m5.001s"),
        ((5 * 3600 + 6 * 60) * 10**9 + 7001 * 10**6, "5h6m7.001s"),
        (8 * 60 * 10**9 + 1, "8m0.000000001s"),
        (-1100, "-1.1\u00b5s"),
        (-(4 * 60 + 5) * 10**9, "-4m5s"),
        (86400 * 10**9, "24h0m0s"),
        (5400 * 10**9, "1h30m0s"),
        (90 * 10**9, "1m30s"),
        (999, "999ns"),
        (10**6, "1ms"),
        (10**3, "1\u00b5s"),
    ],
)
def test_format_like_go(nanoseconds: int, text: str) -> None:
    assert format_duration(nanoseconds / 10**9) == text


@pytest.mark.parametrize("text", ["24h0m0s", "1h30m0s", "1m30s", "1.5s", "300ms", "2h0m0.5s", "0s"])
def test_format_and_parse_round_trip(text: str) -> None:
    assert format_duration(parse_duration(text)) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-5, "<invalid>"),
        (-1.5, "0s"),
        (0, "0s"),
        (59.9, "59s"),
        (60, "1m"),
        (3599, "59m"),
        (3600, "1h"),
        (86399, "23h"),
        (86400, "1d"),
        (364 * 86400 + 86399, "364d"),
        (365 * 86400, "1y"),
        (3 * 365 * 86400 + 5, "3y"),
    ],
)
def test_short_human_duration_like_kubeadm_token_list(seconds: float, text: str) -> None:
    assert short_human_duration(seconds) == text
