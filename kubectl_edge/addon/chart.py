"""The Helm side of the components phase: where the chart is, its values, and helm's command lines.

Pure functions compute the values from cluster facts and build the argv of ``helm upgrade --install``,
``helm template`` (for --dry-run) and ``helm uninstall`` for helm 3 (>= 3.8) and helm 4; helm runs only in
the small ``run_*``/``helm_version`` functions at the end.

Where the chart is: ``--chart DIR`` when given; else the source tree's ``helm/superedge-addon`` when the
plugin runs from a checkout (the tree is the truth there, and an editable install has no packaged copy);
else the copy the wheel carries as package data in ``kubectl_edge/_chart/superedge-addon`` (pyproject's
hatch ``force-include``), so an installed plugin needs no checkout.

helm 3 and helm 4 differ in the flags used here: helm 4's ``--wait`` takes a strategy (``--wait=watcher``
waits for readiness with kstatus; a bare ``--wait`` means the same, ``hookOnly`` is its default), and helm 4
installs new releases with server-side apply. ``helm uninstall --ignore-not-found`` exists only from helm
3.13 on, so a missing release is recognised by helm's message instead.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import ipaddress
import json
import os
import posixpath
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from edge_protocol.errors import ProtocolError
from edge_protocol.joincommand import parse_endpoint
from kubectl_edge import yamltext
from kubectl_edge.addon import certs
from kubectl_edge.cluster.kinds import CONFIG_MAP, SECRET, ObjectRef
from kubectl_edge.errors import ConfigError, EdgeError, PreconditionFailed

RELEASE = "superedge-addon"
NAMESPACE = "edge-system"
CHART_NAME = "superedge-addon"
#: Where the wheel carries the chart (see pyproject.toml, [tool.hatch.build.targets.wheel.force-include]).
PACKAGED_CHART = Path(__file__).resolve().parent.parent / "_chart" / CHART_NAME
#: Where a checkout has it.
SOURCE_CHART = Path(__file__).resolve().parents[2] / "helm" / CHART_NAME
MIN_HELM = (3, 8)
EDGE_KUBE_PROXY_CONFIGMAP = "edge-kube-proxy"
EDGE_INFO = "edge-info"
#: edge-info keys that belong to the cluster's owner, with the chart values that carry them.
OWNER_KEYS = {"host-config": "hostConfig", "insecure-registries": "insecureRegistries",
              "node-delay-domain": "nodeDelayDomain"}
#: Labels helm's release objects carry; SuperEdge's nodes and the chart's placement use these.
EDGE_NODE_LABEL = "superedge.io/node-edge"
HELM_RELEASE_ANNOTATION = "meta.helm.sh/release-name"
HELM_NAMESPACE_ANNOTATION = "meta.helm.sh/release-namespace"


class HelmFailed(EdgeError):
    """helm ran and failed; the message carries its error lines."""


# --- the chart and helm ------------------------------------------------------------------------------------

def _is_chart(directory: Path) -> bool:
    try:
        chart = yamltext.load((directory / "Chart.yaml").read_text())
    except (OSError, yaml.YAMLError):
        return False
    return isinstance(chart, dict) and chart.get("name") == CHART_NAME


def locate_chart(explicit: str | None = None) -> Path:
    """The chart directory: ``--chart``, else the checkout's, else the wheel's (see the module docstring)."""
    if explicit:
        directory = Path(explicit)
        if not (directory / "Chart.yaml").is_file():
            raise ConfigError(f"--chart {explicit}: no Chart.yaml there", "pass the directory of a Helm chart")
        return directory
    for candidate in (SOURCE_CHART, PACKAGED_CHART):
        if _is_chart(candidate):
            return candidate
    raise PreconditionFailed(f"the {CHART_NAME} chart is not installed with kubectl-edge "
                             f"(looked in {SOURCE_CHART} and {PACKAGED_CHART})",
                             "reinstall kubectl-edge, or pass --chart DIR")


def find_helm(explicit: str | None = None) -> str:
    """The helm executable: the given path or name, else ``helm`` on PATH."""
    name = explicit or "helm"
    found = shutil.which(name)
    if not found:
        raise PreconditionFailed(f"helm not found ({name})",
                                 "install helm 3.8 or newer (or helm 4) and put it on PATH")
    return found


@dataclass(frozen=True, order=True)
class HelmVersion:
    """A helm release version."""

    major: int
    minor: int
    patch: int

    def __str__(self) -> str:
        return f"v{self.major}.{self.minor}.{self.patch}"


@dataclass(frozen=True)
class Helm:
    """A helm executable and its version (which decides the flags)."""

    path: str
    version: HelmVersion


def parse_helm_version(text: str) -> HelmVersion:
    """The version in ``helm version --short`` output (``v3.22.0+gabc``); refuse helm older than 3.8."""
    match = re.search(r"v(\d+)\.(\d+)\.(\d+)", text)
    if not match:
        raise PreconditionFailed(f"cannot tell helm's version from {text.strip()!r}",
                                 "install helm 3.8 or newer (or helm 4)")
    version = HelmVersion(int(match[1]), int(match[2]), int(match[3]))
    if (version.major, version.minor) < MIN_HELM:
        raise PreconditionFailed(f"helm {version} is too old", "install helm 3.8 or newer (or helm 4)")
    return version


# --- values ------------------------------------------------------------------------------------------------

#: The chart's image values and SuperEdge's image names (``<edge-image-repository>/<name>:<edge-version>``).
IMAGE_NAMES = {"tunnel": "tunnel", "edgeHealth": "edge-health", "edgeHealthAdmission": "edge-health-admission",
               "applicationGridController": "application-grid-controller",
               "applicationGridWrapper": "application-grid-wrapper", "coredns": "coredns"}
#: Images whose tag is not SuperEdge's release: SuperEdge pins CoreDNS whatever --edge-version says.
FIXED_TAG_IMAGES = frozenset({"coredns"})
_IMAGE_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_REPOSITORY = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+|:[0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*")


def edge_version_tag(text: str) -> str:
    """SuperEdge's --edge-version as an image tag: ``0.9.0`` -> ``v0.9.0`` (as edgeadm normalises it)."""
    tag = text.strip()
    if re.fullmatch(r"\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?", tag):
        tag = f"v{tag}"
    if not _IMAGE_TAG.fullmatch(tag):
        raise ConfigError(f"--edge-version {text!r} is not an image tag",
                          "pass a SuperEdge release such as v0.9.0 (or 0.9.0)")
    return tag


def image_repository(text: str) -> str:
    """SuperEdge's --edge-image-repository, checked for the shape of a registry path (no tag, no scheme)."""
    repository = text.strip().rstrip("/")
    if not _REPOSITORY.fullmatch(repository):
        raise ConfigError(f"--edge-image-repository {text!r} is not an image repository",
                          "pass a registry path such as superedge.tencentcloudcr.com/superedge (no tag, no https://)")
    return repository


def image_values(repository: str | None, tag: str | None) -> dict[str, Any]:
    """The chart's ``images`` values for SuperEdge's image flags; empty when neither is given."""
    images: dict[str, Any] = {}
    for value, name in IMAGE_NAMES.items():
        image: dict[str, str] = {}
        if repository:
            image["repository"] = f"{repository}/{name}"
        if tag and value not in FIXED_TAG_IMAGES:
            image["tag"] = tag
        if image:
            images[value] = image
    return images

@dataclass(frozen=True)
class ChartFacts:
    """What the values depend on, read off the cluster and the flags by the caller."""

    #: HOST[:PORT] edge nodes use for the API server; its host is where they dial tunnel-cloud's NodePort
    public_address: str
    ca_pem: str
    service_cidr: str
    cluster_domain: str = "cluster.local"
    #: the ClusterIP of default/kubernetes as read from the cluster; derived from service_cidr when empty
    kubernetes_service_ip: str = ""
    edge_virtual_addr: str = certs.DEFAULT_EDGE_VIRTUAL_ADDR
    #: kube-system/kube-proxy DaemonSet and ConfigMap bodies; None when the cluster has none
    kube_proxy_daemonset: dict[str, Any] | None = None
    kube_proxy_configmap: dict[str, Any] | None = None
    #: the live edge-system/edge-info ConfigMap, whose owner keys are carried over
    edge_info: dict[str, Any] | None = None
    #: False on clusters without control-plane nodes (managed): central components go to non-edge nodes
    control_plane_nodes: bool = True
    #: tunnel-cloud's grpc NodePort; None keeps the chart's default
    tunnel_node_port: int | None = None
    #: extra names for tunnel-cloud's certificate (SuperEdge's --certSANs)
    tunnel_sans: tuple[str, ...] = ()
    #: SuperEdge's --edge-image-repository and --edge-version; None keeps the chart's images
    image_repository: str | None = None
    image_tag: str | None = None
    namespace: str = NAMESPACE


@dataclass(frozen=True)
class ComputedValues:
    """The values for the chart, and notes for the plan (what was derived or left out, and why)."""

    values: dict[str, Any]
    notes: tuple[str, ...] = field(default_factory=tuple)


def public_host(public_address: str) -> str:
    """The host part of HOST[:PORT] (IPv6 in brackets allowed)."""
    try:
        host, _ = parse_endpoint(public_address, 443)
    except ProtocolError as exc:
        raise ConfigError(f"public address {public_address!r}: {exc.message}", exc.hint) from exc
    return host


def kubernetes_service_ip(service_cidr: str) -> str:
    """The ClusterIP of default/kubernetes: the first address of the (first) service range."""
    first = service_cidr.split(",")[0].strip()
    try:
        return str(ipaddress.ip_network(first, strict=False)[1])
    except (ValueError, IndexError) as exc:
        raise ConfigError(f"service CIDR {service_cidr!r} is not a network", "check the cluster's service range"
                          ) from exc


def certificate_names(facts: ChartFacts) -> certs.Names:
    """The names the certificates must carry, for ``certs.ensure_material``."""
    return certs.Names(namespace=facts.namespace, cluster_domain=facts.cluster_domain,
                       tunnel_hosts=(public_host(facts.public_address), *facts.tunnel_sans),
                       edge_virtual_addr=facts.edge_virtual_addr,
                       kubernetes_service_ip=facts.kubernetes_service_ip or kubernetes_service_ip(facts.service_cidr))


def _kube_proxy_configuration(data: Mapping[str, str]) -> tuple[str, dict[str, Any]] | None:
    for key, text in data.items():
        try:
            document = yamltext.load(text)
        except yaml.YAMLError:
            continue
        if isinstance(document, dict) and document.get("kind") == "KubeProxyConfiguration":
            return key, document
    return None


def edge_kube_proxy_values(daemonset: dict[str, Any] | None, configmap: dict[str, Any] | None
                           ) -> tuple[dict[str, Any], list[str]]:
    """Values ``edgeKubeProxy`` copying the cluster's kube-proxy, or disabled with the reason.

    The pod is the cluster's (containers, volumes, tolerations, ...) with the volume of its ConfigMap
    pointed at ``edge-kube-proxy``; the ConfigMap's data is copied, and the chart writes the kubeconfig
    key (the file ``clientConnection.kubeconfig`` names) so that it points at application-grid-wrapper.
    Placement is the chart's (edge nodes); the cluster's affinity is not copied.
    """
    if daemonset is None:
        return {"enabled": False}, ["the cluster has no kube-system/kube-proxy DaemonSet: no edge copy of "
                                    "kube-proxy is deployed"]
    pod = ((daemonset.get("spec") or {}).get("template") or {}).get("spec") or {}
    name = ((configmap or {}).get("metadata") or {}).get("name", "kube-proxy")
    volumes = copy.deepcopy(pod.get("volumes") or [])
    config_volumes = [v for v in volumes if (v.get("configMap") or {}).get("name") == name]
    data = dict((configmap or {}).get("data") or {})
    found = _kube_proxy_configuration(data)
    if configmap is None or not config_volumes or found is None:
        return {"enabled": False}, ["kube-proxy does not read a KubeProxyConfiguration from the ConfigMap "
                                    f"kube-system/{name}: no edge copy of kube-proxy is deployed"]
    config_key, configuration = found
    containers = copy.deepcopy(pod.get("containers") or [])
    client = configuration.setdefault("clientConnection", {}) or {}
    kubeconfig_path = client.get("kubeconfig") or ""
    if kubeconfig_path:
        kubeconfig_key = posixpath.basename(kubeconfig_path)
    else:
        # In-cluster credentials would bypass the wrapper: give kube-proxy a kubeconfig file next to its config.
        mount = next((m["mountPath"] for c in containers for m in c.get("volumeMounts") or []
                      if m.get("name") == config_volumes[0].get("name")), "/var/lib/kube-proxy")
        kubeconfig_key = "kubeconfig.conf"
        client["kubeconfig"] = posixpath.join(mount, kubeconfig_key)
        configuration["clientConnection"] = client
        data[config_key] = yaml.safe_dump(configuration, default_flow_style=False)
    for volume in config_volumes:
        volume["configMap"]["name"] = EDGE_KUBE_PROXY_CONFIGMAP
    data.pop(kubeconfig_key, None)
    values = {
        "enabled": True,
        "containers": containers,
        "initContainers": copy.deepcopy(pod.get("initContainers") or []),
        "volumes": volumes,
        "tolerations": copy.deepcopy(pod.get("tolerations") or []),
        "nodeSelector": dict(pod.get("nodeSelector") or {}),
        "hostNetwork": bool(pod.get("hostNetwork", False)),
        "dnsPolicy": pod.get("dnsPolicy") or "ClusterFirst",
        "priorityClassName": pod.get("priorityClassName") or "",
        "securityContext": copy.deepcopy(pod.get("securityContext") or {}),
        "config": data,
        "kubeconfigKey": kubeconfig_key,
    }
    return values, []


def compute_values(facts: ChartFacts, material: certs.Material) -> ComputedValues:
    """The chart values for this cluster; user ``--values``/``--set`` go after them and win."""
    notes: list[str] = []
    kube_proxy, kube_proxy_notes = edge_kube_proxy_values(facts.kube_proxy_daemonset, facts.kube_proxy_configmap)
    notes.extend(kube_proxy_notes)
    lite = material.lite_apiserver
    tunnel: dict[str, Any] = {
        "publicHost": public_host(facts.public_address),
        "token": material.tunnel_token,
        "caCert": material.tunnel_ca,
        "serverCert": material.tunnel_cloud.cert,
        "serverKey": material.tunnel_cloud.key,
        "egressCert": material.tunnel_egress.cert,
        "egressKey": material.tunnel_egress.key,
    }
    if facts.tunnel_node_port is not None:
        tunnel["nodePort"] = facts.tunnel_node_port
    live_info = (facts.edge_info or {}).get("data") or {}
    values: dict[str, Any] = {
        "cluster": {"caCert": facts.ca_pem, "domain": facts.cluster_domain,
                    "kubernetesServiceIP": facts.kubernetes_service_ip or kubernetes_service_ip(facts.service_cidr)},
        "edgeVirtualAddr": facts.edge_virtual_addr,
        "tunnelCloud": tunnel,
        "edgeHealth": {"hmacKey": material.hmac_key},
        "edgeHealthAdmission": {"caCert": material.webhook_ca, "serverCert": material.webhook.cert,
                                "serverKey": material.webhook.key},
        "liteApiserver": {"cert": lite.cert if lite else "", "key": lite.key if lite else ""},
        "edgeKubeProxy": kube_proxy,
        "edgeInfo": {value: live_info[key] for key, value in OWNER_KEYS.items() if key in live_info},
    }
    images = image_values(facts.image_repository, facts.image_tag)
    if images:
        values["images"] = images
    if not facts.control_plane_nodes:
        values["cloudPlacement"] = {
            "nodeSelectorTerms": [{"matchExpressions": [{"key": EDGE_NODE_LABEL, "operator": "DoesNotExist"}]}],
            "tolerations": [],
        }
        notes.append("no control-plane nodes: tunnel-cloud, edge-health-admission and application-grid-controller "
                     "run on nodes without the edge label")
    return ComputedValues(values, tuple(notes))


# --- what exists already -----------------------------------------------------------------------------------

def existing_refs(namespace: str = NAMESPACE) -> dict[str, ObjectRef]:
    """The objects that hold the keys and certificates of an installed release, by role."""
    return {
        "tunnel-cloud-cert": ObjectRef(SECRET, "tunnel-cloud-cert", namespace),
        "tunnel-edge-cert": ObjectRef(SECRET, "tunnel-edge-cert", namespace),
        "tunnel-cloud-token": ObjectRef(CONFIG_MAP, "tunnel-cloud-token", namespace),
        "webhook": ObjectRef(SECRET, "validate-admission-control-server-certs", namespace),
        "hmac-config": ObjectRef(CONFIG_MAP, "hmac-config", namespace),
        "edge-info": ObjectRef(CONFIG_MAP, EDGE_INFO, namespace),
        "edge-info-secret": ObjectRef(SECRET, EDGE_INFO, namespace),
    }


def _decoded(body: Mapping[str, Any] | None, key: str) -> str | None:
    value = ((body or {}).get("data") or {}).get(key)
    if not value:
        return None
    try:
        return base64.b64decode(value).decode()
    except (ValueError, UnicodeDecodeError):
        return None


def _plain(body: Mapping[str, Any] | None, key: str) -> str | None:
    value = ((body or {}).get("data") or {}).get(key)
    return str(value) if value else None


def _pair(cert: str | None, key: str | None) -> certs.KeyPair | None:
    return certs.KeyPair(cert, key) if cert and key else None


def existing_from_objects(objects: Mapping[str, Mapping[str, Any] | None]) -> certs.Existing:
    """What an installed release holds, from the live objects of ``existing_refs()`` (same keys; None if absent)."""
    cloud, edge, webhook = objects.get("tunnel-cloud-cert"), objects.get("tunnel-edge-cert"), objects.get("webhook")
    token = _plain(objects.get("tunnel-cloud-token"), "token")
    if token:
        token = token.strip().removeprefix("default:")
    return certs.Existing(
        tunnel_ca=_decoded(edge, "ca.crt"),
        tunnel_cloud=_pair(_decoded(cloud, "cloud.crt"), _decoded(cloud, "cloud.key")),
        tunnel_egress=_pair(_decoded(cloud, "egress.crt"), _decoded(cloud, "egress.key")),
        tunnel_token=token or None,
        webhook_ca=_decoded(webhook, "ca.crt"),
        webhook=_pair(_decoded(webhook, "server.crt"), _decoded(webhook, "server.key")),
        hmac_key=_plain(objects.get("hmac-config"), "hmackey"),
        lite_apiserver=_pair(_plain(objects.get("edge-info"), "lite-apiserver.crt"),
                             _decoded(objects.get("edge-info-secret"), "lite-apiserver.key")),
    )


def existing_from_values(values: Mapping[str, Any]) -> certs.Existing:
    """What an installed release holds, from its values (``helm get values superedge-addon -o json``)."""
    def get(*path: str) -> str | None:
        node: Any = values
        for part in path:
            node = node.get(part) if isinstance(node, Mapping) else None
        return str(node) if node else None

    return certs.Existing(
        tunnel_ca=get("tunnelCloud", "caCert"),
        tunnel_cloud=_pair(get("tunnelCloud", "serverCert"), get("tunnelCloud", "serverKey")),
        tunnel_egress=_pair(get("tunnelCloud", "egressCert"), get("tunnelCloud", "egressKey")),
        tunnel_token=get("tunnelCloud", "token"),
        webhook_ca=get("edgeHealthAdmission", "caCert"),
        webhook=_pair(get("edgeHealthAdmission", "serverCert"), get("edgeHealthAdmission", "serverKey")),
        hmac_key=get("edgeHealth", "hmacKey"),
        lite_apiserver=_pair(get("liteApiserver", "cert"), get("liteApiserver", "key")),
    )


# --- rendered objects --------------------------------------------------------------------------------------

def manifest_objects(text: str) -> list[dict[str, Any]]:
    """The objects of a multi-document manifest (``helm template``, ``helm get manifest``)."""
    return [document for document in yamltext.load_all(text) if isinstance(document, dict) and document.get("kind")]


def crd_bodies(chart_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The CustomResourceDefinitions in the chart's ``crds/`` (helm installs them only when absent)."""
    bodies: list[dict[str, Any]] = []
    for path in sorted(Path(chart_dir, "crds").glob("*.y*ml")):
        bodies += [o for o in manifest_objects(path.read_text()) if o.get("kind") == "CustomResourceDefinition"]
    return bodies


def node_port_users(services: Iterable[Mapping[str, Any]], node_port: int, namespace: str = NAMESPACE
                    ) -> list[str]:
    """Services (``namespace/name``) other than the release's tunnel-cloud that hold ``node_port``.

    The API server refuses a second Service on the same NodePort, and helm would then leave a failed
    release behind; checking first turns that into a clear precondition.
    """
    users = []
    for service in services:
        metadata = service.get("metadata") or {}
        if (metadata.get("namespace"), metadata.get("name")) == (namespace, "tunnel-cloud"):
            continue
        if any(port.get("nodePort") == node_port for port in (service.get("spec") or {}).get("ports") or []):
            users.append(f"{metadata.get('namespace')}/{metadata.get('name')}")
    return users


def owned_by_release(live: Mapping[str, Any], release: str = RELEASE, namespace: str = NAMESPACE) -> bool:
    """True when a live object belongs to the release (helm refuses to adopt any other)."""
    annotations = (live.get("metadata") or {}).get("annotations") or {}
    return bool(annotations.get(HELM_RELEASE_ANNOTATION) == release
                and annotations.get(HELM_NAMESPACE_ANNOTATION) == namespace)


# --- argv --------------------------------------------------------------------------------------------------

def _duration(seconds: float) -> str:
    return f"{max(1, round(seconds))}s"


def _connection(kubeconfig: str | None, kube_context: str | None) -> list[str]:
    argv = ["--kubeconfig", kubeconfig] if kubeconfig else []
    return argv + (["--kube-context", kube_context] if kube_context else [])


def _values_args(values_files: Sequence[str | os.PathLike[str]], set_values: Sequence[str]) -> list[str]:
    argv: list[str] = []
    for path in values_files:
        argv += ["--values", os.fspath(path)]
    for assignment in set_values:
        argv += ["--set", assignment]
    return argv


def _wait(helm: Helm) -> str:
    # helm 4's --wait takes a strategy; "watcher" is what a bare --wait means there.
    return "--wait=watcher" if helm.version.major >= 4 else "--wait"


def upgrade_argv(helm: Helm, chart: str | os.PathLike[str], values_files: Sequence[str | os.PathLike[str]], *,
                 set_values: Sequence[str] = (), wait: bool = False, timeout: float | None = None,
                 kubeconfig: str | None = None, kube_context: str | None = None, namespace: str = NAMESPACE,
                 release: str = RELEASE, create_namespace: bool = True, force_conflicts: bool = False) -> list[str]:
    """``helm upgrade --install RELEASE CHART -n NS --create-namespace --values ... [--set ...] [--wait]``.

    ``force_conflicts``: helm 4 applies server-side, so a field of a release object that someone else changed
    (``kubectl edit``) makes the upgrade fail with a conflict naming the field and the manager; this takes the
    field back (``--force-conflicts``). helm 3 merges client-side and takes such fields back anyway.
    """
    argv = [helm.path, "upgrade", "--install", release, os.fspath(chart), "--namespace", namespace,
            *(["--create-namespace"] if create_namespace else []), *_values_args(values_files, set_values)]
    if force_conflicts and helm.version.major >= 4:
        argv.append("--force-conflicts")
    if wait:
        argv.append(_wait(helm))
    if timeout is not None:
        argv += ["--timeout", _duration(timeout)]
    return argv + _connection(kubeconfig, kube_context)


def template_argv(helm: Helm, chart: str | os.PathLike[str], values_files: Sequence[str | os.PathLike[str]], *,
                  set_values: Sequence[str] = (), kube_version: str | None = None, is_upgrade: bool = False,
                  namespace: str = NAMESPACE, release: str = RELEASE) -> list[str]:
    """``helm template`` with the CRDs, for --dry-run: what the release would hold (no cluster contacted).

    Pass the cluster's version as ``kube_version``: helm's own default Capabilities may be older than the
    chart's kubeVersion (a helm built from source without release flags assumes v1.20).
    """
    argv = [helm.path, "template", release, os.fspath(chart), "--namespace", namespace, "--include-crds",
            *_values_args(values_files, set_values)]
    if kube_version:
        argv += ["--kube-version", kube_version]
    if is_upgrade:
        argv.append("--is-upgrade")
    return argv


def get_values_argv(helm: Helm, *, kubeconfig: str | None = None, kube_context: str | None = None,
                    namespace: str = NAMESPACE, release: str = RELEASE) -> list[str]:
    """``helm get values RELEASE -n NS -o json``: the values the installed release was given."""
    return [helm.path, "get", "values", release, "--namespace", namespace, "--output", "json",
            *_connection(kubeconfig, kube_context)]


def uninstall_argv(helm: Helm, *, wait: bool = False, timeout: float | None = None, kubeconfig: str | None = None,
                   kube_context: str | None = None, namespace: str = NAMESPACE, release: str = RELEASE) -> list[str]:
    """``helm uninstall RELEASE -n NS [--wait]`` (``run_uninstall`` tells a missing release apart)."""
    argv = [helm.path, "uninstall", release, "--namespace", namespace]
    if wait:
        argv.append(_wait(helm))
    if timeout is not None:
        argv += ["--timeout", _duration(timeout)]
    return argv + _connection(kubeconfig, kube_context)


@contextlib.contextmanager
def private_file(text: str, suffix: str = ".yaml") -> Iterator[Path]:
    """A file only the user can read, holding ``text`` (values with keys, a kubeconfig), removed afterwards."""
    fd, name = tempfile.mkstemp(prefix="kubectl-edge-", suffix=suffix)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        yield Path(name)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)


def values_yaml(values: Mapping[str, Any]) -> str:
    """Values as YAML for ``--values`` (block literals keep PEMs readable)."""
    return yaml.safe_dump(dict(values), default_flow_style=False, sort_keys=False)


# --- running helm ------------------------------------------------------------------------------------------

def _run(argv: Sequence[str], what: str, env: Mapping[str, str] | None, timeout: float | None
         ) -> subprocess.CompletedProcess[str]:
    try:
        result = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                                env=dict(env) if env is not None else None, check=False)
    except FileNotFoundError as exc:
        raise PreconditionFailed(f"helm not found: {argv[0]}", "install helm 3.8 or newer (or helm 4)") from exc
    except subprocess.TimeoutExpired as exc:
        raise HelmFailed(f"{what} did not finish within {timeout:.0f} s", "run it again with a longer --timeout"
                         ) from exc
    if result.returncode != 0:
        lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
        # From helm's "Error:" line on (earlier lines are warnings), at most a dozen lines.
        start = next((i for i, line in enumerate(lines) if line.startswith("Error:")), max(0, len(lines) - 3))
        detail = " ".join(lines[start:start + 12]).removeprefix("Error: ") or f"exit code {result.returncode}"
        raise HelmFailed(f"{what} failed: {detail}", "fix the cause helm names and run the command again")
    return result


def helm_version(path: str, env: Mapping[str, str] | None = None) -> Helm:
    """Ask helm its version (``helm version --short``)."""
    result = _run([path, "version", "--short"], "helm version", env, 30)
    return Helm(path, parse_helm_version(result.stdout))


def run_upgrade(argv: Sequence[str], env: Mapping[str, str] | None = None, timeout: float | None = None) -> str:
    """Run ``helm upgrade --install``; return its output (the release notes)."""
    return _run(argv, "helm upgrade --install", env, timeout).stdout


def run_template(argv: Sequence[str], env: Mapping[str, str] | None = None, timeout: float | None = 120) -> str:
    """Run ``helm template``; return the manifest."""
    return _run(argv, "helm template", env, timeout).stdout


def run_get_values(argv: Sequence[str], env: Mapping[str, str] | None = None) -> dict[str, Any] | None:
    """Run ``helm get values``; None when the release is not installed."""
    try:
        output = _run(argv, "helm get values", env, 60).stdout
    except HelmFailed as exc:
        if "release: not found" in exc.message:
            return None
        raise
    values = json.loads(output or "null")
    return values if isinstance(values, dict) else {}


def run_uninstall(argv: Sequence[str], env: Mapping[str, str] | None = None, timeout: float | None = None) -> bool:
    """Run ``helm uninstall``; False when there was no release to uninstall."""
    try:
        _run(argv, "helm uninstall", env, timeout)
    except HelmFailed as exc:
        # The same words in helm 3 and 4: "uninstall: Release not loaded: NAME: release: not found".
        if "release: not found" in exc.message:
            return False
        raise
    return True
