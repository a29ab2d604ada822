"""``kubectl edge addon`` and ``kubectl edge detach``."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from kubectl_edge.cli.output import OutputFormat, dump, emit
from kubectl_edge.cli.ui import progress

EDGE_APPS = "edge-apps"


def _seconds(text: str) -> float:
    from edge_protocol.duration import parse_duration
    from edge_protocol.errors import ProtocolError

    try:
        return parse_duration(text)
    except ProtocolError as exc:
        raise typer.BadParameter(exc.message, param_hint="--timeout") from exc


def _check_target(target: str | None) -> None:
    if target not in (None, EDGE_APPS):
        raise typer.BadParameter(f"unknown target {target!r}; the only one is {EDGE_APPS}", param_hint="TARGET")


def addon(
    ctx: typer.Context,
    target: Annotated[str | None, typer.Argument(metavar="[edge-apps]", help="what to add (only edge-apps)")] = None,
    public_address: Annotated[str | None, typer.Option(
        "--public-address", "--master-public-addr", metavar="HOST[:PORT]",
        help="address edge nodes use to reach kube-apiserver; remembered for token create")] = None,
    ca_cert: Annotated[str | None, typer.Option(
        "--ca-cert", "--ca.cert", metavar="FILE", help="cluster CA certificate (default: from the kubeconfig)")] = None,
    ca_key: Annotated[str | None, typer.Option(
        "--ca-key", "--ca.key", metavar="FILE", help="cluster CA key, for certificates that must chain to it")] = None,
    skip_phases: Annotated[str, typer.Option(
        "--skip-phases", metavar="PHASE,...", help="phases to skip: preflight, prerequisites, components")] = "",
    reprobe: Annotated[bool, typer.Option("--reprobe", help="measure preflight again instead of reusing it")] = False,
    values: Annotated[list[str] | None, typer.Option(
        "--values", "-f", metavar="FILE", help="Helm values for the edge components (repeatable)")] = None,
    set_values: Annotated[list[str] | None, typer.Option(
        "--set", metavar="KEY=VALUE", help="a Helm value for the edge components (repeatable)")] = None,
    chart_dir: Annotated[str | None, typer.Option("--chart", metavar="DIR", help="another chart directory")] = None,
    helm: Annotated[str | None, typer.Option("--helm", metavar="PATH", help="the helm to use (default: helm)")
                    ] = None,
    wait: Annotated[bool, typer.Option("--wait", help="wait until the edge components roll out")] = False,
    timeout: Annotated[str, typer.Option("--timeout", metavar="DURATION", help="how long --wait waits")] = "5m",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the plan; change nothing")] = False,
    output: Annotated[OutputFormat, typer.Option("-o", "--output", help="text, json or yaml")] = OutputFormat.text,
) -> None:
    """Prepare the cluster for edge nodes: preflight, join prerequisites, edge components."""
    _check_target(target)
    from kubectl_edge.addon.components import ComponentsOptions
    from kubectl_edge.addon.facts import AddonInputs
    from kubectl_edge.addon.run import AddonOptions, run_addon
    from kubectl_edge.cluster.client import connect

    options = AddonOptions(
        inputs=AddonInputs(public_address, ca_cert, ca_key),
        skip_phases=frozenset(p.strip() for p in skip_phases.split(",") if p.strip()),
        dry_run=dry_run, reprobe=reprobe,
        components=ComponentsOptions(values_files=tuple(values or ()), set_values=tuple(set_values or ()),
                                     chart_dir=chart_dir, helm=helm, wait=wait, timeout=_seconds(timeout),
                                     ca_key_file=ca_key))
    with connect(ctx.obj.connection, ctx.obj.request_timeout) as cluster:
        report = run_addon(cluster, options, progress)
    document = report.to_json()
    if output is not OutputFormat.text:
        emit(dump(document, output))
        return
    if dry_run:
        lines = []
        for item in document["objects"]:
            where = f"{item['namespace']}/" if item["namespace"] else ""
            lines.append(f"{item['action']} {item['kind'].lower()} {where}{item['name']}: {item['note']}")
            if "patch" in item:
                lines.append(f"  patch: {json.dumps(item['patch'])}")
        if "helmValues" in document:
            lines.append("helm values:")
            lines.extend(f"  {line}" for line in dump(document["helmValues"], OutputFormat.yaml).splitlines())
        if "rendered" in document:
            lines.append("rendered objects:")
            lines.extend(document["rendered"].splitlines())
    else:
        counts = {verb: sum(1 for item in document["objects"] if item["action"] == verb)
                  for verb in ("create", "patch", "keep")}
        lines = [f"addon: {counts['create']} created, {counts['patch']} patched, {counts['keep']} kept "
                 f"({document['writeRequests']} write requests)"]
    lines.extend(f"note: {note}" for note in document["notes"])
    emit("".join(f"{line}\n" for line in lines))


def detach(
    ctx: typer.Context,
    target: Annotated[str | None, typer.Argument(metavar="[edge-apps]", help="what to remove (only edge-apps)")] = None,
    force: Annotated[bool, typer.Option("--force", help="detach even while nodes carry the edge labels")] = False,
    keep_tokens: Annotated[bool, typer.Option("--keep-tokens", help="keep the bootstrap tokens kubectl-edge made")
                           ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print what would be undone; change nothing")] = False,
    helm: Annotated[str | None, typer.Option("--helm", metavar="PATH", help="the helm to use (default: helm)")
                    ] = None,
    timeout: Annotated[str, typer.Option("--timeout", metavar="DURATION",
                                         help="how long to wait for the edge components to go")] = "5m",
    output: Annotated[OutputFormat, typer.Option("-o", "--output", help="text, json or yaml")] = OutputFormat.text,
) -> None:
    """Return the cluster to its state before addon: revert recorded patches, delete what addon created."""
    _check_target(target)
    from kubectl_edge.addon.detach import DetachOptions, run_detach
    from kubectl_edge.cluster.client import connect

    with connect(ctx.obj.connection, ctx.obj.request_timeout) as cluster:
        report = run_detach(cluster, DetachOptions(force, keep_tokens, dry_run, helm, _seconds(timeout)), progress)
    if output is not OutputFormat.text:
        emit(dump(report.to_json(), output))
        return
    if dry_run:
        lines = [f"revert {item}" for item in report.reverted] + [f"delete {item}" for item in report.deleted]
    else:
        lines = [f"detach: {len(report.reverted)} reverted, {len(report.deleted)} deleted, {len(report.left)} left "
                 f"as the owner changed them ({report.writes} write requests)"]
    lines += [f"left: {item}" for item in report.left]
    emit("".join(f"{line}\n" for line in lines))
