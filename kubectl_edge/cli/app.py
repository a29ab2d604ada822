"""The root command ``kubectl edge``: global flags, command groups, the error funnel."""

from __future__ import annotations

import logging
import os
import sys

import typer

from edge_protocol import exitcodes
from kubectl_edge.cli.commands import addon, completion, installer, node, package, status, token, version
from kubectl_edge.cli.errors import run_guarded
from kubectl_edge.cli.options import GLOBAL_FLAGS_HELP, GlobalOptions, split_global_flags

app = typer.Typer(
    name="kubectl edge",
    help="kubectl edge: manage edge nodes and edge applications in an existing Kubernetes cluster.",
    epilog=f"{GLOBAL_FLAGS_HELP}\n\n{exitcodes.EPILOG}",
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)
app.command("version", help="kubectl edge version: print the client and server versions.")(version.version)
app.command("addon", help="kubectl edge addon [edge-apps]: prepare the cluster for edge nodes.")(addon.addon)
app.command("detach", help="kubectl edge detach [edge-apps]: undo addon, exactly.")(addon.detach)
app.add_typer(token.app, name="token", help="kubectl edge token create|list|delete: bootstrap tokens and join lines.")
app.command("status", help="kubectl edge status: the addon, prerequisites, tokens, edge nodes and problems.")(
    status.status)
app.add_typer(node.app, name="node", help="kubectl edge node delete: remove edge nodes from the cluster side.")
app.command("installer", help="kubectl edge installer -o FILE: write edgeadm, the edge-node installer.")(
    installer.installer)
app.add_typer(package.app, name="package", help="kubectl edge package build: the static install package for edgeadm.")
app.add_typer(completion.app, name="completion", help="kubectl edge completion install: complete 'kubectl edge <TAB>'.")


@app.callback()
def root() -> None:
    """kubectl edge: manage edge nodes and edge applications in an existing Kubernetes cluster."""


def configure_logging(verbosity: int) -> None:
    """Send the program's log lines to stderr at the level ``-v`` asked for."""
    level = logging.WARNING if verbosity < 2 else logging.INFO if verbosity < 4 else logging.DEBUG
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
    options = GlobalOptions()

    def invoke() -> None:
        nonlocal options
        options, rest = split_global_flags(arguments)
        configure_logging(options.verbosity)
        app(args=rest, prog_name="kubectl edge", obj=options)

    sys.exit(run_guarded(invoke, options.verbosity))
