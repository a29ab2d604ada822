"""kubectl's global flags, accepted anywhere after the plugin name.

kubectl refuses flags placed before a plugin's name and passes everything after it through, so users type
``kubectl edge token list --context prod``. The flags are taken out of argv before typer sees the rest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from kubectl_edge.cluster.kubeconfig import ConnectionOverrides
from kubectl_edge.errors import ConfigError

#: kubectl's global flags, each spelling -> the GlobalOptions field it sets (all take a value)
VALUE_FLAGS = {
    "--kubeconfig": "kubeconfig",
    "--context": "context",
    "--cluster": "cluster",
    "--user": "user",
    "-n": "namespace",
    "--namespace": "namespace",
    "--request-timeout": "request_timeout",
    "-v": "verbosity",
    "--v": "verbosity",
}
# client-go's ParseTimeout takes a whole number alone (strconv.ParseInt, sign allowed) as seconds.
_WHOLE_SECONDS = re.compile(r"\+?[0-9]+")

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


def parse_request_timeout(text: str) -> float | None:
    """Parse kubectl's ``--request-timeout``: seconds, or None for ``0`` (no timeout).

    As kubectl's (client-go's ``ParseTimeout``): a whole number alone counts seconds (``15``), anything else
    is a Go duration (``30s``, ``1m30s``, ``500ms``), read by the parser every other duration flag uses.

    Raises:
        ConfigError: The value is neither.
    """
    from edge_protocol.duration import parse_duration
    from edge_protocol.errors import DurationError

    try:
        seconds = parse_duration(f"{text}s" if _WHOLE_SECONDS.fullmatch(text) else text)
    except DurationError as exc:
        raise ConfigError(f"--request-timeout: {exc.message}", exc.hint) from None
    return seconds or None


def _apply(options: GlobalOptions, name: str, flag: str, value: str) -> GlobalOptions:
    if name == "verbosity":
        if not value.isdigit():
            raise ConfigError(f"invalid {flag} value {value!r}", "-v takes a whole number, e.g. -v=6")
        return replace(options, verbosity=int(value))
    if name == "request_timeout":
        return replace(options, request_timeout=parse_request_timeout(value))
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
        if flag in VALUE_FLAGS:
            if has_inline:
                value = inline
            elif index + 1 < len(argv):
                index += 1
                value = argv[index]
            else:
                raise ConfigError(f"flag {flag} needs a value", f"write {flag}=VALUE")
            options = _apply(options, VALUE_FLAGS[flag], flag, value)
        else:
            rest.append(argument)
        index += 1
    return options, rest
