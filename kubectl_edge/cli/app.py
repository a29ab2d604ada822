"""The root command ``kubectl edge``: global flags, command groups, the error funnel.

Only the command that was asked for is imported and built: typer inspects every registered function's
signature each time it builds the click command tree, and the command modules import the domain layer, so
building all of them for every call would cost more than the command itself for ``--help``. The others stand
in as one-line entries, which is all the root help and click's "No such command" need of them.
"""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass
from typing import Any

import typer

from edge_protocol import exitcodes
from kubectl_edge.cli.errors import run_guarded
from kubectl_edge.cli.options import GLOBAL_FLAGS_HELP, GlobalOptions, split_global_flags

ROOT_HELP = "kubectl edge: manage edge nodes and edge applications in an existing Kubernetes cluster."


@dataclass(frozen=True)
class CommandEntry:
    """A top-level command: where its definition lives and its line in the root help."""

    name: str
    module: str  # under kubectl_edge.cli.commands
    attribute: str
    help: str

    @property
    def is_group(self) -> bool:
        """Whether the definition is a ``typer.Typer`` of sub-commands rather than a function."""
        return self.attribute == "app"


COMMANDS = (
    CommandEntry("version", "version", "version", "kubectl edge version: print the client and server versions."),
    CommandEntry("addon", "addon", "addon", "kubectl edge addon [edge-apps]: prepare the cluster for edge nodes."),
    CommandEntry("detach", "addon", "detach", "kubectl edge detach [edge-apps]: undo addon, exactly."),
    CommandEntry("token", "token", "app", "kubectl edge token create|list|delete: bootstrap tokens and join lines."),
    CommandEntry("status", "status", "status",
                 "kubectl edge status: the addon, prerequisites, tokens, edge nodes and problems."),
    CommandEntry("node", "node", "app", "kubectl edge node delete: remove edge nodes from the cluster side."),
    CommandEntry("installer", "installer", "installer",
                 "kubectl edge installer -o FILE: write edgeadm, the edge-node installer."),
    CommandEntry("package", "package", "app", "kubectl edge package build: the static install package for edgeadm."),
    CommandEntry("completion", "completion", "app", "kubectl edge completion install: complete 'kubectl edge <TAB>'."),
)


def _stand_in() -> None:
    """Never runs: click only invokes the command that was asked for, which is always the real one."""


def build_app(wanted: str | None = None, *, every_command: bool = False) -> typer.Typer:
    """The root ``typer.Typer`` with the real definition of ``wanted`` (of all commands if ``every_command``)."""
    app = typer.Typer(
        name="kubectl edge",
        help=ROOT_HELP,
        epilog=f"{GLOBAL_FLAGS_HELP}\n\n{exitcodes.EPILOG}",
        context_settings={"help_option_names": ["-h", "--help"]},
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        pretty_exceptions_show_locals=False,
        rich_markup_mode=None,
    )
    app.callback()(_root)
    for entry in COMMANDS:
        if not (every_command or entry.name == wanted):
            app.command(entry.name, help=entry.help, add_help_option=False)(_stand_in)
            continue
        definition: Any = getattr(importlib.import_module(f"kubectl_edge.cli.commands.{entry.module}"), entry.attribute)
        if entry.is_group:
            app.add_typer(definition, name=entry.name, help=entry.help)
        else:
            app.command(entry.name, help=entry.help)(definition)
    return app


def _root() -> None:
    """kubectl edge: manage edge nodes and edge applications in an existing Kubernetes cluster."""


def invoked_command(arguments: list[str]) -> str | None:
    """The top-level command named in ``arguments`` (global flags already removed), if any.

    The root takes no option except ``--help``, so the first word that is not an option names it.
    """
    return next((word for word in arguments if not word.startswith("-")), None)


def configure_logging(verbosity: int) -> None:
    """Send the program's log lines to stderr at the level ``-v`` asked for (2 and up).

    Below that nothing is configured, so ``logging`` is not even imported on the start-up path: the program
    logs steps and requests only, at INFO and DEBUG, and user-facing warnings go through the CLI's output.
    """
    if verbosity < 2:
        return
    import logging

    level = logging.INFO if verbosity < 4 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname).1s %(name)s: %(message)s"))
    logger = logging.getLogger("kubectl_edge")
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``kubectl-edge`` executable."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if os.environ.get("NO_COLOR") or not sys.stderr.isatty():
        os.environ.setdefault("TYPER_USE_RICH", "0")
    options = GlobalOptions()  # the defaults until the global flags are parsed (and if that fails)

    def invoke() -> None:
        nonlocal options
        options, rest = split_global_flags(arguments)
        configure_logging(options.verbosity)
        build_app(invoked_command(rest))(args=rest, prog_name="kubectl edge", obj=options)

    # The funnel reads the level when something failed, by which time -v has been parsed.
    sys.exit(run_guarded(invoke, lambda: options.verbosity))
