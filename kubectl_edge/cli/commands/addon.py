"""``kubectl edge addon`` and ``kubectl edge detach``."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from edge_protocol.contract import DEFAULT_EDGE_VIRTUAL_ADDR
from kubectl_edge.cli.commands._common import checked, duration, lines_text, open_cluster
from kubectl_edge.cli.output import OutputFormat, dump, emit
from kubectl_edge.cli.ui import progress

EDGE_APPS = "edge-apps"


def _split(values: list[str] | None) -> tuple[str, ...]:
    """``--certSANs a,b --certSANs c`` -> ``(a, b, c)``, as SuperEdge's string-array flag reads them."""
    return tuple(part.strip() for value in values or () for part in value.split(",") if part.strip())


def _edge_virtual_addr(text: str) -> str:
    import ipaddress

    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not an IP address", param_hint="--edge-virtual-addr") from None
    if address.version != 4 or address.is_unspecified or address.is_loopback or address.is_multicast:
        raise typer.BadParameter(f"{text} cannot be an edge node's interface address; pass a link-local IPv4 "
                                 f"address such as SuperEdge's {DEFAULT_EDGE_VIRTUAL_ADDR}",
                                 param_hint="--edge-virtual-addr")
    return str(address)


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
    cert_sans: Annotated[list[str] | None, typer.Option(
        "--certSANs", "--cert-sans", metavar="NAME,...",
        help="extra DNS names or IPs for tunnel-cloud's certificate (repeatable)")] = None,
    edge_version: Annotated[str | None, typer.Option(
        "--edge-version", metavar="VERSION", help="tag of SuperEdge's images, e.g. v0.9.0 (default: the chart's)")
    ] = None,
    edge_image_repository: Annotated[str | None, typer.Option(
        "--edge-image-repository", metavar="REPOSITORY",
        help="registry path of SuperEdge's images (default: superedge.tencentcloudcr.com/superedge)")] = None,
    edge_virtual_addr: Annotated[str | None, typer.Option(
        "--edge-virtual-addr", metavar="IP",
        help=f"address of the dummy interface on edge nodes (default {DEFAULT_EDGE_VIRTUAL_ADDR})")] = None,
    adopt: Annotated[bool, typer.Option(
        "--adopt", help="take over the components SuperEdge's edgeadm installed, keeping their tokens, "
                        "certificates and NodePorts (detach returns to edgeadm's state)")] = False,
    repair: Annotated[bool, typer.Option(
        "--repair", help="undo edgeadm's rewrites where the original is known: cluster-info's server, the "
                         "bootstrap RBAC, kubelet-config-1.XX no node uses (detach puts them back)")] = False,
    output: Annotated[OutputFormat, typer.Option("-o", "--output", help="text, json or yaml")] = OutputFormat.text,
) -> None:
    """Prepare the cluster for edge nodes: preflight, join prerequisites, edge components."""
    _check_target(target)
    from kubectl_edge.addon import values as chart_values
    from kubectl_edge.addon.components import ComponentsOptions
    from kubectl_edge.addon.facts import AddonInputs
    from kubectl_edge.addon.run import AddonOptions, run_addon

    image_tag = (checked("--edge-version", chart_values.edge_version_tag, edge_version)
                 if edge_version is not None else None)
    image_repository = (checked("--edge-image-repository", chart_values.image_repository, edge_image_repository)
                        if edge_image_repository is not None else None)
    virtual_addr = _edge_virtual_addr(edge_virtual_addr) if edge_virtual_addr is not None else None
    wait_seconds = duration("--timeout", timeout)

    options = AddonOptions(
        inputs=AddonInputs(public_address, ca_cert, ca_key),
        skip_phases=frozenset(p.strip() for p in skip_phases.split(",") if p.strip()),
        dry_run=dry_run, reprobe=reprobe, repair=repair,
        components=ComponentsOptions(values_files=tuple(values or ()), set_values=tuple(set_values or ()),
                                     chart_dir=chart_dir, helm=helm, wait=wait, timeout=wait_seconds,
                                     ca_key_file=ca_key, tunnel_sans=_split(cert_sans),
                                     edge_virtual_addr=virtual_addr, image_repository=image_repository,
                                     image_tag=image_tag, adopt=adopt))
    with open_cluster(ctx) as cluster:
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
        for item in document["adoption"]:
            where = f"{item['namespace']}/" if item["namespace"] else ""
            lines.append(f"{item['action']} {item['kind'].lower()} {where}{item['name']}: {item['note']}")
        if "helmValues" in document:
            lines.append("helm values:")
            lines.extend(f"  {line}" for line in dump(document["helmValues"], OutputFormat.yaml).splitlines())
        if "rendered" in document:
            lines.append("rendered objects:")
            lines.extend(document["rendered"].splitlines())
    else:
        counts = {verb: sum(1 for item in document["objects"] if item["action"] == verb)
                  for verb in ("create", "patch", "keep")}
        adopted = f", {len(document['adoption'])} adopted or repaired" if document["adoption"] else ""
        lines = [f"addon: {counts['create']} created, {counts['patch']} patched, {counts['keep']} kept{adopted} "
                 f"({document['writeRequests']} write requests)"]
    lines.extend(f"note: {note}" for note in document["notes"])
    emit(lines_text(lines))


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
    ca_cert: Annotated[str | None, typer.Option(
        "--ca.cert", "--ca-cert", metavar="FILE", help="accepted as SuperEdge's detach does; not needed")] = None,
    ca_key: Annotated[str | None, typer.Option(
        "--ca.key", "--ca-key", metavar="FILE", help="accepted as SuperEdge's detach does; not needed")] = None,
    master_public_addr: Annotated[str | None, typer.Option(
        "--master-public-addr", "--public-address", metavar="HOST[:PORT]",
        help="accepted as SuperEdge's detach does; not needed")] = None,
    cert_sans: Annotated[list[str] | None, typer.Option(
        "--certSANs", "--cert-sans", metavar="NAME,...", help="accepted as SuperEdge's detach does; not needed")
    ] = None,
) -> None:
    """Return the cluster to its state before addon: revert recorded patches, delete what addon created."""
    _check_target(target)
    given = [flag for flag, value in (("--ca.cert", ca_cert), ("--ca.key", ca_key),
                                      ("--master-public-addr", master_public_addr), ("--certSANs", cert_sans))
             if value]
    if given:
        # SuperEdge's detach takes addon's flags; here everything to undo is in kubectl-edge's record.
        progress("detach", f"{', '.join(given)}: not needed (detach works from kubectl-edge's record); ignored")
    from kubectl_edge.addon.detach import DetachOptions, run_detach

    options = DetachOptions(force, keep_tokens, dry_run, helm, duration("--timeout", timeout))
    with open_cluster(ctx) as cluster:
        report = run_detach(cluster, options, progress)
    if output is not OutputFormat.text:
        emit(dump(report.to_json(), output))
        return
    if dry_run:
        lines = [f"revert {item}" for item in report.reverted] + [f"delete {item}" for item in report.deleted]
    else:
        lines = [f"detach: {len(report.reverted)} reverted, {len(report.deleted)} deleted, {len(report.left)} left "
                 f"as the owner changed them ({report.writes} write requests)"]
    lines += [f"left: {item}" for item in report.left]
    emit(lines_text(lines))
