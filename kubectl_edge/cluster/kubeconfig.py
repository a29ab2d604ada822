"""Kubeconfig loading with kubectl's rules, not the Python client's.

kubectl merges the files listed in ``KUBECONFIG`` so that the first file to set a value wins, the current
context included; the Python client lets the last file's ``current-context`` win. Relative file paths in a
kubeconfig are relative to the file that names them. This module is pure (files in, a dict out) so that it
is tested without a cluster and costs no client import.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubectl_edge.errors import ConfigError

# Keys whose values are file paths, per section; kubectl resolves them against the defining file.
_PATH_KEYS = {
    "clusters": ("certificate-authority",),
    "users": ("client-certificate", "client-key", "tokenFile"),
}
_NAMED_SECTIONS = ("clusters", "users", "contexts")


@dataclass(frozen=True)
class ConnectionOverrides:
    """The kubectl global flags that choose or change what the kubeconfig says."""

    kubeconfig: str | None = None
    context: str | None = None
    cluster: str | None = None
    user: str | None = None
    namespace: str | None = None


@dataclass(frozen=True)
class ResolvedConfig:
    """A single-context kubeconfig (as a dict) ready for a client, plus what was chosen."""

    config: dict[str, Any]
    context_name: str
    server: str
    namespace: str
    sources: tuple[str, ...]


def decode_data(entry: Mapping[str, Any], key: str, what: str) -> bytes:
    """A kubeconfig ``...-data`` value, base64-decoded; line breaks are ignored, as Go's decoder does.

    Raises:
        ValueError: The value is not base64 (``what`` names the entry: ``cluster`` or ``user``).
    """
    try:
        return base64.b64decode("".join(str(entry[key]).split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"{key} of the {what} is not base64: {exc}") from None


def kubeconfig_paths(flag: str | None, environ: Mapping[str, str]) -> list[Path]:
    """Return the kubeconfig files to read, in precedence order, as kubectl chooses them."""
    if flag:
        path = Path(flag).expanduser()
        if not path.is_file():
            raise ConfigError(f"the kubeconfig file {flag} does not exist", "pass an existing file to --kubeconfig")
        return [path]
    listed = environ.get("KUBECONFIG", "")
    if listed:
        # kubectl skips empty entries and files that do not exist.
        paths = [Path(p).expanduser() for p in listed.split(os.pathsep) if p]
        existing = [p for p in paths if p.is_file()]
        if not existing:
            raise ConfigError(
                f"none of the files in KUBECONFIG exist ({listed})",
                "point KUBECONFIG or --kubeconfig at your cluster's kubeconfig",
            )
        return existing
    default = Path(environ.get("HOME", str(Path.home()))) / ".kube" / "config"
    if not default.is_file():
        raise ConfigError(
            f"no kubeconfig: KUBECONFIG is not set and {default} does not exist",
            "pass --kubeconfig FILE or set KUBECONFIG",
        )
    return [default]


def _absolutise(section: str, entry: dict[str, Any], base: Path) -> None:
    body = entry.get(section[:-1])
    if not isinstance(body, dict):
        return
    for key in _PATH_KEYS.get(section, ()):
        value = body.get(key)
        if isinstance(value, str) and value and not os.path.isabs(value):
            body[key] = str(base / value)


def merge_kubeconfigs(documents: list[tuple[Path, Mapping[str, Any]]]) -> dict[str, Any]:
    """Merge parsed kubeconfig documents with kubectl's first-wins rule.

    Named entries (clusters, users, contexts) are taken from the first file that defines the name;
    ``current-context`` and ``preferences`` from the first file that sets them.
    """
    merged: dict[str, Any] = {name: [] for name in _NAMED_SECTIONS}
    seen: dict[str, set[str]] = {name: set() for name in _NAMED_SECTIONS}
    for path, document in documents:
        base = path.parent.resolve()
        for section in _NAMED_SECTIONS:
            for entry in document.get(section) or []:
                if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                    raise ConfigError(f"{path}: an entry of '{section}' has no name", "fix the kubeconfig file")
                if entry["name"] in seen[section]:
                    continue
                seen[section].add(entry["name"])
                copied = {key: (dict(value) if isinstance(value, dict) else value) for key, value in entry.items()}
                _absolutise(section, copied, base)
                merged[section].append(copied)
        if not merged.get("current-context") and document.get("current-context"):
            merged["current-context"] = document["current-context"]
    return merged


def _find(merged: Mapping[str, Any], section: str, name: str) -> dict[str, Any] | None:
    for entry in merged.get(section, []):
        if entry["name"] == name:
            body = entry.get(section[:-1])
            return dict(body) if isinstance(body, dict) else {}
    return None


def resolve(merged: Mapping[str, Any], overrides: ConnectionOverrides, sources: list[Path]) -> ResolvedConfig:
    """Pick the context (``--context`` or the current one), apply ``--cluster/--user/-n`` overrides."""
    context_name = overrides.context or merged.get("current-context") or ""
    if not context_name and not (overrides.cluster and overrides.user):
        raise ConfigError("the kubeconfig has no current context",
                          "pass --context NAME or run kubectl config use-context")
    context: dict[str, Any] = {}
    if context_name:
        found = _find(merged, "contexts", context_name)
        if found is None:
            raise ConfigError(f'context "{context_name}" does not exist in the kubeconfig',
                              "list the contexts with kubectl config get-contexts")
        context = found
    cluster_name = overrides.cluster or context.get("cluster", "")
    user_name = overrides.user or context.get("user", "")
    cluster = _find(merged, "clusters", cluster_name)
    if cluster is None or not cluster.get("server"):
        raise ConfigError(f'cluster "{cluster_name}" is not in the kubeconfig or has no server',
                          "check the context's cluster with kubectl config view")
    user = _find(merged, "users", user_name)
    if user is None:
        if overrides.user:
            raise ConfigError(f'user "{user_name}" does not exist in the kubeconfig',
                              "check the users with kubectl config view")
        user = {}
    namespace = overrides.namespace or context.get("namespace") or "default"
    effective = context_name or "kubectl-edge"
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "selected", "cluster": cluster}],
        "users": [{"name": "selected", "user": user}],
        "contexts": [{"name": effective, "context": {"cluster": "selected", "user": "selected",
                                                     "namespace": namespace}}],
        "current-context": effective,
    }
    return ResolvedConfig(config=config, context_name=effective, server=str(cluster["server"]),
                          namespace=namespace, sources=tuple(str(p) for p in sources))


def load(overrides: ConnectionOverrides, environ: Mapping[str, str] | None = None) -> ResolvedConfig:
    """Read, merge and resolve the kubeconfig the way kubectl would for these flags."""
    import yaml  # deferred: only commands that use the cluster pay for it

    from kubectl_edge import yamltext

    paths = kubeconfig_paths(overrides.kubeconfig, os.environ if environ is None else environ)
    documents: list[tuple[Path, Mapping[str, Any]]] = []
    for path in paths:
        try:
            document = yamltext.load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read the kubeconfig {path}: {exc}", "fix or replace the file") from exc
        if not isinstance(document, dict):
            raise ConfigError(f"the kubeconfig {path} is not a YAML mapping", "fix or replace the file")
        documents.append((path, document))
    return resolve(merge_kubeconfigs(documents), overrides, paths)
