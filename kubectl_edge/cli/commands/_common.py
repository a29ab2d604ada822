"""What every command module shares: its typer group, the cluster it opens, parameter errors, tables, files.

Imported by every command module, so it stays light: typer and the standard library at import time, the
cluster layer only inside :func:`open_cluster`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, ParamSpec, TypeVar

import typer

from edge_protocol.errors import ProtocolError
from kubectl_edge.errors import ConfigError

if TYPE_CHECKING:
    from kubectl_edge.cli.options import GlobalOptions
    from kubectl_edge.cluster.client import Cluster

P = ParamSpec("P")
T = TypeVar("T")

#: Columns are padded as kubectl's and kubeadm's tabwriter pads them.
COLUMN_GAP = "   "


def group(name: str, help: str) -> typer.Typer:
    """A command group (``kubectl edge NAME SUB``): ``-h`` as well as ``--help``, help when no sub-command."""
    return typer.Typer(
        name=name,
        help=help,
        context_settings={"help_option_names": ["-h", "--help"]},
        no_args_is_help=True,
        add_completion=False,
        rich_markup_mode=None,
    )


def global_options(ctx: typer.Context) -> GlobalOptions:
    """The global flags (``--kubeconfig``, ``--request-timeout``, ...) the root parsed for this command."""
    options: GlobalOptions = ctx.obj
    return options


@contextmanager
def open_cluster(ctx: typer.Context) -> Iterator[Cluster]:
    """The cluster the global flags select, open for the ``with`` block and closed afterwards."""
    from kubectl_edge.cluster.client import connect  # deferred: the client costs more than --help

    options = global_options(ctx)
    with connect(options.connection, options.request_timeout) as cluster:
        yield cluster


def usage_error(param: str, error: ProtocolError | ConfigError) -> typer.BadParameter:
    """A usage error (exit code 2) for ``param`` that says what is wrong and, in brackets, what to do."""
    hint = f" ({error.hint})" if error.hint else ""
    return typer.BadParameter(f"{error.message}{hint}", param_hint=param)


def checked(param: str, parse: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``parse(*args, **kwargs)``, with bad input reported as a usage error of ``param`` (hint kept)."""
    try:
        return parse(*args, **kwargs)
    except (ProtocolError, ConfigError) as exc:
        raise usage_error(param, exc) from None


def duration(param: str, text: str) -> float:
    """A ``--timeout``/``--ttl`` value in seconds, written as Go durations are (``5m``, ``1h30m``, ``0``)."""
    from edge_protocol.duration import parse_duration

    return checked(param, parse_duration, text)


def table(rows: Sequence[Sequence[str]], indent: str = "") -> list[str]:
    """The rows (the first is the header) as aligned lines, trailing blanks removed."""
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return [indent + COLUMN_GAP.join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            for row in rows]


def lines_text(lines: Sequence[str]) -> str:
    """The lines joined for stdout, each ended by a newline."""
    return "".join(f"{line}\n" for line in lines)


def write_atomically(target: Path, stage: Callable[[Path], None], hint: str) -> None:
    """Make ``target`` in one step: ``stage`` writes a scratch path beside it, which then replaces it.

    A reader never sees half a file and a failure leaves what was there before. ``stage`` gets a path that
    does not exist yet and may write a file or a symbolic link there.

    Raises:
        ConfigError: The directory is not writable (``hint`` says what to do).
    """
    try:
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=".kubectl-edge-") as scratch:
            staged = Path(scratch) / target.name
            stage(staged)
            os.replace(staged, target)
    except OSError as exc:
        raise ConfigError(f"cannot write {target}: {exc.strerror}", hint) from exc
