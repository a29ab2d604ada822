"""kubectl's global flags, accepted anywhere after the plugin name.

kubectl refuses flags placed before a plugin's name and passes everything after it through, so users type
``kubectl edge token list --context prod``. The flags are taken out of argv before typer sees the rest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from kubectl_edge.cluster.kubeconfig import ConnectionOverrides
from kubectl_edge.errors import ConfigError

# flag spellings -> GlobalOptions field
_VALUE_FLAGS = {
    "--kubeconfig": "kubeconfig",
    "--context": "context",
    "--cluster": "cluster",
    "--user": "user",
    "--namespace": "namespace",
    "-n": "namespace",
    "--request-timeout": "request_timeout",
    "--v": "verbosity",
    "-v": "verbosity",
}
_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)(h|ms|m|s)?)+$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s)?")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, "": 1.0}

GLOBAL_FLAGS_HELP = (
    "Global flags (anywhere after 'kubectl edge'): --kubeconfig FILE, --context NAME, --cluster NAME, "
    "--user NAME, -n/--namespace NS, --request-timeout DURATION (0 = none), -v/--v N (log level: 2 steps, "
    "4 debug, 6 requests)."
)


@dataclass(frozen=True)
class GlobalOptions:
    """What the global flags asked for."""

    connection: ConnectionOverrides = field(default_factory=ConnectionOverrides)
    request_timeout: float | None = None
    verbosity: int = 0


def parse_duration(text: str) -> float | None:
    """Parse a kubectl ``--request-timeout`` value (``30s``, ``1m30s``, bare seconds); ``0`` means none."""
    if not _DURATION.match(text):
        raise ConfigError(f"invalid --request-timeout value {text!r}",
                          "use a duration such as 30s, 2m or 1m30s (0 for no timeout)")
    seconds = sum(float(number) * _UNIT_SECONDS[unit] for number, unit in _DURATION_PART.findall(text))
    return seconds or None


def _apply(options: GlobalOptions, name: str, flag: str, value: str) -> GlobalOptions:
    if name == "verbosity":
        if not value.isdigit():
            raise ConfigError(f"invalid {flag} value {value!r}", "-v takes a whole number, e.g. -v=6")
        return replace(options, verbosity=int(value))
    if name == "request_timeout":
        return replace(options, request_timeout=parse_duration(value))
    if not value:
        raise ConfigError(f"{flag} needs a value", f"write {flag}=VALUE or {flag} VALUE")
    return replace(options, connection=replace(options.connection, **{name: value}))


def split_global_flags(argv: list[str]) -> tuple[GlobalOptions, list[str]]:
    """Take kubectl's global flags out of ``argv``; return them and the remaining arguments.

    Accepts ``--flag value``, ``--flag=value``, and ``-v6``/``-n ns``; stops at ``--``.
    """
    options = GlobalOptions()
    rest: list[str] = []
    index = 0
    while index < len(argv):
        argument = argv[index]
        if argument == "--":
            rest.extend(argv[index:])
            break
        flag, equals, inline = argument.partition("=")
        has_inline = bool(equals)
        if argument[:2] in ("-v", "-n") and len(argument) > 2 and argument[2] != "=":
            flag, inline, has_inline = argument[:2], argument[2:], True  # -v6, -nkube-system
        if flag in _VALUE_FLAGS:
            if has_inline:
                value = inline
            elif index + 1 < len(argv):
                index += 1
                value = argv[index]
            else:
                raise ConfigError(f"flag {flag} needs a value", f"write {flag}=VALUE")
            options = _apply(options, _VALUE_FLAGS[flag], flag, value)
        else:
            rest.append(argument)
        index += 1
    return options, rest
