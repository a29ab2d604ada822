"""``kubectl edge node delete``: remove nodes from the cluster side (Node, CSRs, Lease, the node's token)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from kubectl_edge.cli.commands._common import duration, group, lines_text, open_cluster
from kubectl_edge.cli.output import OutputFormat, dump, emit
from kubectl_edge.cli.ui import progress

app = group("node", "kubectl edge node delete: remove edge nodes from the cluster side.")


@app.command("delete")
def delete(
    ctx: typer.Context,
    names: Annotated[list[str], typer.Argument(metavar="NAME...", help="the nodes to remove")],
    drain: Annotated[bool, typer.Option(
        "--drain", help="cordon the nodes and evict their pods first (DaemonSet and mirror pods stay)")] = False,
    timeout: Annotated[str, typer.Option(
        "--timeout", metavar="DURATION", help="how long --drain waits for the pods to go, e.g. 5m")] = "5m",
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask for confirmation")] = False,
    force: Annotated[bool, typer.Option("--force", help="also delete nodes without the edge labels")] = False,
    output: Annotated[OutputFormat, typer.Option("-o", "--output", help="text, json or yaml")] = OutputFormat.text,
) -> None:
    """Delete nodes and what blocks their re-join: Node, CSRs, Lease, and the bootstrap token made for each.

    Run edgeadm reset on the node as well (before or after): a kubelet that still runs registers again.
    """
    drain_timeout = duration("--timeout", timeout)

    from kubectl_edge.errors import Aborted
    from kubectl_edge.node.removal import plan_removal, remove_nodes

    with open_cluster(ctx) as cluster:
        plan = plan_removal(cluster, names, force=force)
        for node in plan.nodes:
            progress("plan", f"delete {node.describe()}" + ("" if node.edge else " (not an edge node: --force)"))
        if not yes and sys.stdin.isatty():
            what = "Drain and delete" if drain else "Delete"
            if not typer.confirm(f"{what} {len(plan.nodes)} node(s): {', '.join(n.name for n in plan.nodes)}?",
                                 default=False, err=True):
                raise Aborted("nothing was deleted", "pass --yes to delete without asking")
        report = remove_nodes(cluster, plan, progress, drain_timeout if drain else None)
    if output is not OutputFormat.text:
        emit(dump(report.to_json(), output))
        return
    lines = []
    for name, deleted in report.deleted.items():
        lines.append(f'node "{name}" deleted ({len(deleted)} object(s))')
        lines += [f"  kept {item}" for item in report.kept.get(name, [])]
    emit(lines_text(lines))
