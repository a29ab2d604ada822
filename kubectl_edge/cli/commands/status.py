"""``kubectl edge status``: the addon, its prerequisites, tokens and edge nodes, and what to do about problems."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from kubectl_edge.cli.commands._common import lines_text, open_cluster, table
from kubectl_edge.cli.output import OutputFormat, dump, emit
from kubectl_edge.cli.ui import progress

if TYPE_CHECKING:
    from kubectl_edge.status.report import StatusReport


# Each section's table is indented under its title.
_INDENT = "  "


def _or(value: Any, absent: str = "<none>") -> str:
    return absent if value in (None, "", []) else str(value)


def render(report: StatusReport) -> str:
    """The human-readable status: one section per subject, problems last."""
    document = report.to_json()
    addon = document["addon"]
    lines = ["Addon:", f"  record:   {addon['record']} " + ("(addon ran)" if addon["ran"] else "(addon never ran)")]
    release = addon["release"]
    if release is None:
        lines.append("  release:  none (no Helm release superedge-addon in namespace edge-system)")
    else:
        lines.append(f"  release:  {release['namespace']}/{release['name']} revision {release['revision']}, "
                     f"{release['status']}, chart {release['chart']}-{release['chartVersion']} (app "
                     f"{_or(release['appVersion'])}), updated {_or(release['updated'])}")
    if addon["components"]:
        lines += table([["COMPONENT", "READY"]] + [[f"{c['kind'].lower()}/{c['name']}", f"{c['ready']}/{c['desired']}"]
                                                   for c in addon["components"]], _INDENT)
    lines.append(f"  server:   {document['serverVersion']}")
    lines.append("")
    lines.append("Prerequisites:")
    rows = [["OBJECT", "PRESENT", "CREATED BY", "PATCHED KEYS"]]
    for item in document["prerequisites"]:
        where = f"{item['namespace']}/" if item["namespace"] else ""
        rows.append([f"{item['kind'].lower()} {where}{item['name']}", "yes" if item["present"] else "no",
                     _or(item["createdBy"], "-"), ",".join(item["patchedKeys"]) or "-"])
    lines += table(rows, _INDENT)
    lines.append("")
    signing = document["signing"]
    lines.append("Signing and cleaning:")
    lines.append(f"  cluster-info signatures: {signing['signer']}")
    lines.append(f"  expired tokens deleted by: {signing['cleaner']}")
    lines.append("")
    lines.append(f"Bootstrap tokens: {len(document['tokens'])}")
    if document["tokens"]:
        lines += table([["ID", "TTL", "EXPIRES", "NODE", "DESCRIPTION"]] +
                       [[t["id"], _or(t["ttl"], "<forever>"), _or(t["expires"], "<never>"), _or(t["node"], "-"),
                         _or(t["description"])] for t in document["tokens"]], _INDENT)
    lines.append("")
    lines.append(f"Edge nodes: {len(document['edgeNodes'])}")
    if document["edgeNodes"]:
        readiness = {"True": "Ready", "False": "NotReady"}
        lines += table([["NAME", "STATUS", "KUBELET", "ARCH", "LAST HEARTBEAT", "INTERNAL-IP"]] +
                       [[n["name"], readiness.get(n["ready"], "Unknown"), _or(n["kubeletVersion"]),
                         _or(n["architecture"]), _or(n["lastHeartbeat"], "<never>"), _or(n["internalIP"])]
                        for n in document["edgeNodes"]], _INDENT)
    lines.append("")
    if not document["problems"]:
        lines.append("No problems found.")
    else:
        lines.append(f"Problems: {len(document['problems'])}")
        for problem in document["problems"]:
            lines.append(f"  - {problem['message']}")
            lines.append(f"    what to do: {problem['hint']}")
    return lines_text(lines)


def status(
    ctx: typer.Context,
    output: Annotated[OutputFormat, typer.Option("-o", "--output", help="text, json or yaml")] = OutputFormat.text,
) -> None:
    """Show the addon release, prerequisites, signer and cleaner, tokens, edge nodes, and problems to fix."""
    from kubectl_edge.status.run import run_status

    with open_cluster(ctx) as cluster:
        report = run_status(cluster, progress)
    if output is OutputFormat.text:
        emit(render(report))
    else:
        emit(dump(report.to_json(), output))
