"""Kubeconfigs without a YAML library: read the two fields discovery needs, write kubeadm's bootstrap file.

cluster-info's ``kubeconfig`` is YAML as kubeadm (or kubectl-edge) writes it, or JSON. The standard library
has no YAML parser, so for YAML a line scanner reads exactly what a one-cluster kubeconfig carries in
plain scalars: ``server`` and ``certificate-authority-data`` (Go's and PyYAML's emitters never fold such
values). Anything it cannot read unambiguously (several clusters, a CA file path instead of inline data)
is refused with a message rather than guessed.

The bootstrap kubeconfig is written as the same YAML kubeadm writes; every value in it (a URL, base64, a
token) is a plain scalar that needs no quoting.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any, Dict, List

from edge_installer.errors import InstallerError

_FIELD = re.compile(r"^\s*(?:-\s+)?(server|certificate-authority-data|certificate-authority)\s*:\s*(.*?)\s*$")
BOOTSTRAP_USER = "tls-bootstrap-token-user"
CLUSTER_NAME = "kubernetes"


@dataclass(frozen=True)
class ClusterEntry:
    """The one cluster of cluster-info's kubeconfig."""

    server: str
    ca_pem: str


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _bad(problem: str) -> InstallerError:
    return InstallerError(f"cluster-info's kubeconfig cannot be used: {problem}",
                          "cluster-info must hold one cluster with server and certificate-authority-data "
                          "(kubectl edge addon writes it so)")


def parse_cluster_info(text: str) -> ClusterEntry:
    """Read ``server`` and the CA of the single cluster in cluster-info's kubeconfig (YAML or JSON).

    Raises:
        InstallerError: There is not exactly one cluster with a server and inline CA data.
    """
    values: Dict[str, List[str]] = {"server": [], "certificate-authority-data": [], "certificate-authority": []}
    if text.lstrip().startswith("{"):
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise _bad(f"it is not valid JSON ({exc})") from None
        clusters = document.get("clusters") if isinstance(document, dict) else None
        for item in clusters if isinstance(clusters, list) else []:
            cluster: Any = item.get("cluster") if isinstance(item, dict) else None
            if isinstance(cluster, dict):
                for key in values:
                    if isinstance(cluster.get(key), str):
                        values[key].append(cluster[key])
    else:
        for line in text.splitlines():
            match = _FIELD.match(line)
            if match:
                values[match.group(1)].append(_unquote(match.group(2)))
    if values["certificate-authority"] and not values["certificate-authority-data"]:
        raise _bad("it names a CA file instead of carrying certificate-authority-data")
    if len(values["server"]) != 1:
        raise _bad(f"it holds {len(values['server'])} servers; expected exactly one cluster")
    if len(values["certificate-authority-data"]) != 1:
        raise _bad("it has no certificate-authority-data")
    try:
        pem = base64.b64decode(values["certificate-authority-data"][0], validate=True).decode("ascii")
    except (binascii.Error, ValueError):
        raise _bad("certificate-authority-data is not base64 of a PEM certificate") from None
    return ClusterEntry(values["server"][0], pem)


def bootstrap_kubeconfig(server: str, ca_pem: str, token: str) -> str:
    """kubelet's ``bootstrap-kubelet.conf`` as kubeadm writes it: the server, the CA and the token."""
    ca_data = base64.b64encode(ca_pem.encode("ascii")).decode("ascii")
    context = f"{BOOTSTRAP_USER}@{CLUSTER_NAME}"
    return (
        "apiVersion: v1\n"
        "clusters:\n"
        "- cluster:\n"
        f"    certificate-authority-data: {ca_data}\n"
        f"    server: {server}\n"
        f"  name: {CLUSTER_NAME}\n"
        "contexts:\n"
        "- context:\n"
        f"    cluster: {CLUSTER_NAME}\n"
        f"    user: {BOOTSTRAP_USER}\n"
        f"  name: {context}\n"
        f"current-context: {context}\n"
        "kind: Config\n"
        "preferences: {}\n"
        "users:\n"
        f"- name: {BOOTSTRAP_USER}\n"
        "  user:\n"
        f"    token: {token}\n"
    )


def read_kubelet_kubeconfig(text: str) -> Dict[str, str]:
    """Read ``server`` and client credential paths of the kubeconfig kubelet writes after TLS bootstrap.

    kubelet writes ``kubelet.conf`` as YAML with plain scalars; the keys read here are ``server``,
    ``certificate-authority-data``, ``client-certificate`` and ``client-key``.
    """
    found: Dict[str, str] = {}
    pattern = re.compile(r"^\s*(?:-\s+)?(server|certificate-authority-data|client-certificate|client-key)\s*:\s*"
                         r"(.*?)\s*$")
    for line in text.splitlines():
        match = pattern.match(line)
        if match and match.group(1) not in found:
            found[match.group(1)] = _unquote(match.group(2))
    return found
