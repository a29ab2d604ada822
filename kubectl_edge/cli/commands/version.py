"""``kubectl edge version``."""

from __future__ import annotations

import platform
from typing import Annotated, Any

import typer

from edge_protocol.platforms import go_arch
from kubectl_edge import __version__
from kubectl_edge.cli.commands._common import open_cluster
from kubectl_edge.cli.output import OutputFormat, dump, emit


def client_version() -> dict[str, str]:
    """The plugin's own version record."""
    return {
        "gitVersion": f"v{__version__}",
        "pythonVersion": platform.python_version(),
        "platform": f"{platform.system().lower()}/{go_arch(platform.machine())}",
    }


def version(
    ctx: typer.Context,
    output: Annotated[OutputFormat, typer.Option("-o", "--output", help="text, json or yaml")] = OutputFormat.text,
    client_only: Annotated[bool, typer.Option("--client", help="print the client version only; no cluster")] = False,
) -> None:
    """Print the client version and, unless --client, the API server's."""
    document: dict[str, Any] = {"clientVersion": client_version()}
    failure: Exception | None = None
    if not client_only:
        from kubectl_edge.errors import EdgeError

        try:
            with open_cluster(ctx) as cluster:
                document["serverVersion"] = cluster.server_version()
        except EdgeError as exc:
            failure = exc
    if output is OutputFormat.text:
        lines = [f"Client Version: {document['clientVersion']['gitVersion']}"]
        if "serverVersion" in document:
            lines.append(f"Server Version: {document['serverVersion'].get('gitVersion', 'unknown')}")
        emit("\n".join(lines) + "\n")
    else:
        emit(dump(document, output))
    if failure is not None:
        raise failure
