"""Durations written the way Go's ``time.ParseDuration`` reads them (``24h``, ``1h30m``, ``90s``, ``0``).

kubeadm's ``--ttl`` and kubectl's ``--timeout`` use this syntax, so kubectl-edge and the installer accept the
same strings. Durations are handled as integer nanoseconds internally (Go's ``time.Duration``) and exchanged as
float seconds.
"""

from __future__ import annotations

from typing import Tuple

from edge_protocol.errors import DurationError

_NANOSECONDS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,  # micro sign
    "\u03bcs": 1_000,  # Greek small letter mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3600 * 1_000_000_000,
}
# Go's time.Duration is an int64 of nanoseconds (about 292 years).
_MAX_NANOSECONDS = 2**63 - 1
_DIGITS = "0123456789"
_HINT = "write a number followed by a unit (h, m, s, ms, us, ns), e.g. 24h, 1h30m, 90s; 0 means never"


def parse_duration(text: str) -> float:
    """Parse a non-negative Go duration and return it in seconds.

    Args:
        text: A sequence of decimal numbers, each with an optional fraction and a unit (``ns``, ``us``,
            ``µs``, ``ms``, ``s``, ``m``, ``h``), such as ``24h``, ``1h30m``, ``1.5h`` or ``300ms``; ``0`` alone
            needs no unit. A leading ``+`` is allowed.

    Returns:
        The duration in seconds (0.0 for ``0``).

    Raises:
        DurationError: The text is not a duration, has an unknown unit (days are not a unit), is negative,
            or exceeds Go's limit of about 292 years.
    """
    rest = text
    if rest[:1] == "-":
        raise DurationError(f"invalid duration {text!r}: it must not be negative", _HINT)
    if rest[:1] == "+":
        rest = rest[1:]
    if rest == "0":
        return 0.0
    if not rest:
        raise DurationError(f"invalid duration {text!r}: it is empty", _HINT)
    total = 0
    while rest:
        if rest[0] != "." and rest[0] not in _DIGITS:
            raise DurationError(f"invalid duration {text!r}: expected a number at {rest!r}", _HINT)
        whole, rest = _take_digits(rest)
        fraction = ""
        if rest[:1] == ".":
            fraction, rest = _take_digits(rest[1:])
        if not whole and not fraction:
            raise DurationError(f"invalid duration {text!r}: a '.' has no digits around it", _HINT)
        end = 0
        while end < len(rest) and rest[end] != "." and rest[end] not in _DIGITS:
            end += 1
        unit, rest = rest[:end], rest[end:]
        if not unit:
            raise DurationError(f"invalid duration {text!r}: a number has no unit", _HINT)
        scale = _NANOSECONDS.get(unit)
        if scale is None:
            hint = "days are not a unit: use hours, e.g. 168h for a week" if unit == "d" else _HINT
            raise DurationError(f"invalid duration {text!r}: unknown unit {unit!r}", hint)
        total += int(whole or "0") * scale + _fraction_nanoseconds(fraction, scale)
        if total > _MAX_NANOSECONDS:
            raise DurationError(f"invalid duration {text!r}: it is longer than about 292 years", _HINT)
    return total / 1_000_000_000


def _fraction_nanoseconds(digits: str, unit: int) -> int:
    # Go's leadingFraction: stop taking digits before the value overflows int64, then scale in float64;
    # Python floats are the same IEEE doubles, so the truncated result matches Go to the nanosecond.
    value, scale = 0, 1.0
    for digit in digits:
        if value > _MAX_NANOSECONDS // 10:
            break
        candidate = value * 10 + int(digit)
        if candidate > _MAX_NANOSECONDS + 1:
            break
        value, scale = candidate, scale * 10
    return int(float(value) * (float(unit) / scale)) if value else 0


def _take_digits(text: str) -> Tuple[str, str]:
    end = 0
    while end < len(text) and text[end] in _DIGITS:
        end += 1
    return text[:end], text[end:]


def _fraction(value: int, precision: int) -> Tuple[int, str]:
    whole, part = divmod(value, 10**precision)
    digits = str(part).rjust(precision, "0").rstrip("0") if precision else ""
    return whole, "." + digits if digits else ""


def format_duration(seconds: float) -> str:
    """Format seconds as Go's ``time.Duration.String`` does: ``24h0m0s``, ``1m30s``, ``1.5s``, ``300ms``, ``0s``.

    Args:
        seconds: The duration; rounded to whole nanoseconds.
    """
    nanoseconds = round(seconds * 1_000_000_000)
    sign = "-" if nanoseconds < 0 else ""
    left = abs(nanoseconds)
    if left == 0:
        return "0s"
    if left < 1_000_000_000:
        # Below a second Go switches to the largest unit that keeps the integer part non-zero.
        if left < 1_000:
            return f"{sign}{left}ns"
        unit, precision = ("\u00b5s", 3) if left < 1_000_000 else ("ms", 6)
        whole, fraction = _fraction(left, precision)
        return f"{sign}{whole}{fraction}{unit}"
    whole_seconds, fraction = _fraction(left, 9)
    text = f"{whole_seconds % 60}{fraction}s"
    minutes = whole_seconds // 60
    if minutes:
        text = f"{minutes % 60}m{text}"
        # Go stops at hours because days differ in length.
        if minutes // 60:
            text = f"{minutes // 60}h{text}"
    return sign + text


def short_human_duration(seconds: float) -> str:
    """Format a remaining time the way ``kubeadm token list`` shows a TTL: ``59s``, ``23h``, ``6d``, ``2y``.

    A value more than a second in the past is ``<invalid>``, as in apimachinery's ``ShortHumanDuration``.

    Args:
        seconds: The remaining time.
    """
    whole = int(seconds)
    if whole < -1:
        return "<invalid>"
    if whole < 0:
        return "0s"
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m"
    hours = whole // 3600
    if hours < 24:
        return f"{hours}h"
    if hours < 24 * 365:
        return f"{hours // 24}d"
    return f"{hours // (24 * 365)}y"
