"""The chart's values for this cluster, computed from cluster facts and the keys and certificates.

Pure functions: the caller reads the facts (``ChartFacts``) and the material (``certs.ensure_material``);
``compute_values`` returns what goes into the ``--values`` file kubectl-edge gives helm before the user's
own ``--values``/``--set``. SuperEdge's image flags (--edge-image-repository, --edge-version) are checked
and turned into the chart's ``images`` values here too.
"""

from __future__ import annotations

import copy
import ipaddress
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from edge_protocol import contract
from edge_protocol.errors import ProtocolError
from edge_protocol.network import parse_endpoint
from kubectl_edge import yamltext
from kubectl_edge.addon import certs
from kubectl_edge.addon.chart import NAMESPACE
from kubectl_edge.errors import ConfigError

EDGE_KUBE_PROXY_CONFIGMAP = "edge-kube-proxy"
#: edge-info keys that belong to the cluster's owner, with the chart values that carry them.
OWNER_KEYS = {contract.HOST_CONFIG_KEY: "hostConfig", contract.INSECURE_REGISTRIES_KEY: "insecureRegistries",
              contract.NODE_DELAY_DOMAIN_KEY: "nodeDelayDomain"}

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
    edge_virtual_addr: str = contract.DEFAULT_EDGE_VIRTUAL_ADDR
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
            "nodeSelectorTerms": [{"matchExpressions": [{"key": contract.EDGE_NODE_LABEL,
                                                         "operator": "DoesNotExist"}]}],
            "tolerations": [],
        }
        notes.append("no control-plane nodes: tunnel-cloud, edge-health-admission and application-grid-controller "
                     "run on nodes without the edge label")
    return ComputedValues(values, tuple(notes))


def values_yaml(values: Mapping[str, Any]) -> str:
    """Values as YAML for ``--values`` (block literals keep PEMs readable)."""
    return yaml.safe_dump(dict(values), default_flow_style=False, sort_keys=False)
