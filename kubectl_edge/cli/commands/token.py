"""``kubectl edge token create|list|delete``: bootstrap tokens and the join command for edge nodes."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Annotated

import typer

from kubectl_edge.cli.commands._common import checked, duration, global_options, group, lines_text, open_cluster, table
from kubectl_edge.cli.output import OutputFormat, dump, emit
from kubectl_edge.cli.ui import progress

if TYPE_CHECKING:
    from kubectl_edge.bootstrap.run import ListResult

app = group("token", "kubectl edge token: bootstrap tokens and the join command for edge nodes.")


class ListFormat(str, Enum):
    """Values of ``token list -o`` (besides ``jsonpath=TEMPLATE``)."""

    text = "text"
    wide = "wide"
    json = "json"
    yaml = "yaml"


def _list_format(text: str) -> tuple[ListFormat | None, str | None]:
    """``-o`` of token list: a ListFormat, or kubeadm's ``jsonpath=TEMPLATE`` (its template)."""
    from kubectl_edge.cli.jsonpath import parse_output, render

    template = checked("-o", parse_output, text)
    if template is not None:
        checked("-o", render, template, {})  # a bad template is refused before the cluster is asked
        return None, template
    try:
        return ListFormat(text), None
    except ValueError:
        raise typer.BadParameter(f"{text!r}: the formats are text, wide, json, yaml and jsonpath=TEMPLATE",
                                 param_hint="-o") from None


def _split(values: list[str] | None, default: tuple[str, ...]) -> list[str]:
    """``--groups a,b --groups c`` -> ``[a, b, c]``, as kubeadm's string-slice flags read them."""
    if values is None:
        return list(default)
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


@app.command("create")
def create(
    ctx: typer.Context,
    token: Annotated[str | None, typer.Argument(
        metavar="[TOKEN]", help="the token, [a-z0-9]{6}.[a-z0-9]{16}; generated when left out")] = None,
    ttl: Annotated[str, typer.Option("--ttl", metavar="DURATION",
                                     help="lifetime, e.g. 24h, 30m; 0 never expires")] = "24h",
    description: Annotated[str, typer.Option("--description", metavar="TEXT",
                                             help="shown by token list")] = "",
    groups: Annotated[list[str] | None, typer.Option(
        "--groups", metavar="GROUP,...",
        help="extra groups (default system:bootstrappers:kubeadm:default-node-token)")] = None,
    usages: Annotated[list[str] | None, typer.Option(
        "--usages", metavar="USAGE,...", help="signing, authentication (default both)")] = None,
    for_node: Annotated[str | None, typer.Option(
        "--for-node", metavar="NAME",
        help="a token for this node alone: named in its description and an extra group; deleted by the next "
             "kubectl-edge command after the node's client certificate is approved")] = None,
    print_join_command: Annotated[bool, typer.Option(
        "--print-join-command", help="print the edgeadm join line instead of the token")] = False,
    public_address: Annotated[str | None, typer.Option(
        "--public-address", "--master-public-addr", metavar="HOST[:PORT]",
        help="address edge nodes reach kube-apiserver at (default: remembered by addon, else the kubeconfig's)")
    ] = None,
    install_pkg_path: Annotated[str | None, typer.Option(
        "--install-pkg-path", metavar="PATH|URL", help="static install package the node installs from")] = None,
    ca_cert: Annotated[str | None, typer.Option(
        "--ca-cert", "--ca.cert", metavar="FILE", help="cluster CA certificate to pin (default: from the kubeconfig)")
    ] = None,
    output: Annotated[OutputFormat, typer.Option("-o", "--output", help="text, json or yaml")] = OutputFormat.text,
) -> None:
    """Create a bootstrap token; with --print-join-command, print a checked join line for an edge node."""
    from edge_protocol import token as bootstrap_token

    parsed_token = checked("TOKEN", bootstrap_token.parse_token, token) if token is not None else None
    ttl_seconds = duration("--ttl", ttl)
    chosen_groups = checked("--groups", bootstrap_token.validate_groups,
                            _split(groups, bootstrap_token.DEFAULT_GROUPS))
    chosen_usages = checked("--usages", bootstrap_token.validate_usages,
                            _split(usages, bootstrap_token.DEFAULT_USAGES))
    if install_pkg_path is not None and not install_pkg_path.strip():
        raise typer.BadParameter("the path is empty", param_hint="--install-pkg-path")

    from kubectl_edge.bootstrap.run import CreateRequest, run_create
    from kubectl_edge.bootstrap.tokens import TokenSpec

    spec = TokenSpec(parsed_token, ttl_seconds, description, tuple(chosen_usages), tuple(chosen_groups))
    if for_node is not None:
        spec = checked("--for-node", spec.made_for_node, for_node)
    request = CreateRequest(
        spec=spec,
        join=print_join_command or output is not OutputFormat.text,
        public_address=public_address, ca_cert_file=ca_cert, install_pkg_path=install_pkg_path,
        check_timeout=global_options(ctx).request_timeout or 5.0)
    with open_cluster(ctx) as cluster:
        result = run_create(cluster, request, progress)
    if output is not OutputFormat.text:
        emit(dump(result.to_json(), output))
    elif print_join_command and result.join_command:
        emit(result.join_command + "\n")
    else:
        emit(result.created.token.value + "\n")


def _render_list(result: ListResult, wide: bool) -> str:
    header = ["ID", "TTL", "EXPIRES", "USAGES", "DESCRIPTION", "EXTRA GROUPS"]
    if wide:
        header += ["SIGNED", "MANAGED-BY"]
    rows = [header]
    for stored in result.tokens:
        document = stored.to_json(result.now, result.signed.get(stored.id))
        row = [stored.id, document["ttl"] or "<forever>", document["expires"] or "<never>",
               ",".join(document["usages"]) or "<none>", document["description"] or "<none>",
               ",".join(document["groups"]) or "<none>"]
        if wide:
            signed = document.get("signed")
            row += ["<n/a>" if signed is None else "yes" if signed else "no", document["managedBy"] or "<none>"]
        rows.append(row)
    return lines_text(table(rows))


@app.command("generate")
def generate() -> None:
    """Print a new random bootstrap token, as kubeadm token generate does; nothing is stored in the cluster."""
    from edge_protocol import token as bootstrap_token

    emit(bootstrap_token.generate_token().value + "\n")


def _list_formats(incomplete: str) -> list[str]:
    """What ``token list -o`` completes to (a jsonpath template is the user's to type)."""
    return [choice.value for choice in ListFormat if choice.value.startswith(incomplete)]


@app.command("list")
def list_tokens(
    ctx: typer.Context,
    output_text: Annotated[str, typer.Option(
        "-o", "--output", metavar="FORMAT", autocompletion=_list_formats,
        help="text, wide, json, yaml, or jsonpath=TEMPLATE (applied to each token as kubeadm prints it, "
             "whole token included)")] = "text",
) -> None:
    """List the cluster's bootstrap tokens (kubeadm's too): ID, TTL, expiry, usages, description, groups."""
    from kubectl_edge.bootstrap.run import run_list

    output, template = _list_format(output_text)

    with open_cluster(ctx) as cluster:
        result = run_list(cluster, progress)
    for name in result.malformed:
        progress("warning", f"the Secret kube-system/{name} has the bootstrap-token type but is not a valid token; "
                            "not shown")
    if result.hidden_probes:
        progress("tokens", f"{result.hidden_probes} preflight probe token(s) of kubectl edge addon not shown "
                           "(no node can use them; addon deletes them)")
    if template is not None:
        from kubectl_edge.cli.jsonpath import render

        # As kubeadm: the template is applied to each token on its own, the outputs follow one another.
        emit("".join(render(template, stored.kubeadm_document(result.now)) for stored in result.tokens))
    elif output in (ListFormat.json, ListFormat.yaml):
        assert output is not None
        emit(dump(result.to_json(), OutputFormat(output.value)))
    elif not result.tokens:
        progress("tokens", "no bootstrap tokens found")
    else:
        emit(_render_list(result, wide=output is ListFormat.wide))


@app.command("delete")
def delete(
    ctx: typer.Context,
    tokens: Annotated[list[str], typer.Argument(metavar="ID|TOKEN...", help="token IDs or whole tokens")],
) -> None:
    """Delete bootstrap tokens (and the cluster-info signatures kubectl-edge made for them)."""
    from kubectl_edge.bootstrap.tokens import parse_token_ids

    token_ids = checked("ID|TOKEN", parse_token_ids, tokens)

    from kubectl_edge.bootstrap.run import run_delete
    from kubectl_edge.errors import NotFound

    with open_cluster(ctx) as cluster:
        result = run_delete(cluster, token_ids, progress)
    emit("".join(f'bootstrap token "{token_id}" deleted\n' for token_id in result.deleted))
    if result.missing:
        raise NotFound(f"bootstrap token(s) not found: {', '.join(result.missing)}",
                       "kubectl edge token list shows the tokens that exist")
