"""A cluster prepared by SuperEdge's edgeadm: recognise it, adopt its components, optionally repair its rewrites.

edgeadm leaves its components in ``edge-system`` without any ownership metadata, so helm refuses to install
over them. Adoption makes them the ``superedge-addon`` release without breaking connected edge nodes: the
tunnel token, the tunnel and webhook certificates, the health-check key, edge-info's data and tunnel-cloud's
NodePorts are read from the cluster and passed to the chart as values (so what helm renders is what nodes
already trust), and each object the chart renders is taken over (helm's ownership metadata; a Service gets
the chart's selector) or, where a field helm would change is immutable (a workload's selector), replaced.

Every object is saved as it was before the first change, in the Secret ``kube-system/kubectl-edge-adopted``
(a Secret: the originals hold keys), written before any change. ``detach`` puts each back from there after
helm uninstalls the release, so the cluster returns to exactly the state edgeadm left.

``--repair`` (never by default) undoes edgeadm's rewrites where the original is known, through the same
saved originals: cluster-info's server from kubeadm-config's ``controlPlaneEndpoint``, the bootstrap RBAC
(``system:node-bootstrapper``, ``kubeadm:nodes-kubeadm-config``) as the API server and kubeadm define them,
and ``kubelet-config-1.XX`` objects for a minor no node runs.
"""

from __future__ import annotations

import base64
import copy
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from kubectl_edge import yamltext
from kubectl_edge.addon import certs, chart
from kubectl_edge.addon.helm import HELM_NAMESPACE_ANNOTATION, HELM_RELEASE_ANNOTATION, owned_by_release
from kubectl_edge.cluster.client import FIELD_MANAGER, Cluster
from kubectl_edge.cluster.kinds import (
    CLUSTER_ROLE,
    CONFIG_MAP,
    DAEMON_SET,
    DEPLOYMENT,
    KINDS_BY_NAME,
    NODE,
    ROLE,
    ROLE_BINDING,
    SECRET,
    Kind,
    ObjectRef,
)
from kubectl_edge.cluster.wait import poll
from kubectl_edge.errors import AlreadyExists, ClusterError, Conflict, Invalid, PreconditionFailed, WaitTimeout
from kubectl_edge.notify import Notify

ORIGINALS = ObjectRef(SECRET, "kubectl-edge-adopted", "kube-system")
SETTINGS_KEY = "adopted"
ORIGINALS_ANNOTATION = "kubectl-edge.io/saved-originals"
SERVICE_ACCOUNT = Kind("v1", "ServiceAccount", "serviceaccounts", True)
MUTATING_WEBHOOK = Kind("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration",
                        "mutatingwebhookconfigurations", False)
VALIDATING_WEBHOOK = Kind("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration",
                          "validatingwebhookconfigurations", False)
STATEFUL_SET = Kind("apps/v1", "StatefulSet", "statefulsets", True)
_KINDS = {**KINDS_BY_NAME, **{k.kind: k for k in (SERVICE_ACCOUNT, MUTATING_WEBHOOK, VALIDATING_WEBHOOK,
                                                   STATEFUL_SET)}}
#: Kinds whose selector the API server never lets change: a different one means the object is replaced.
_FIXED_SELECTOR = frozenset({"Deployment", "DaemonSet", "StatefulSet"})
#: What edgeadm's ``addon edge-apps`` makes in edge-system (none of it carries ownership metadata).
SIGNS = (
    ObjectRef(DEPLOYMENT, "tunnel-cloud", chart.NAMESPACE),
    ObjectRef(DAEMON_SET, "tunnel-edge", chart.NAMESPACE),
    ObjectRef(CONFIG_MAP, "tunnel-cloud-token", chart.NAMESPACE),
    ObjectRef(SECRET, "tunnel-cloud-cert", chart.NAMESPACE),
    ObjectRef(DAEMON_SET, "edge-health", chart.NAMESPACE),
    ObjectRef(DEPLOYMENT, "edge-health-admission", chart.NAMESPACE),
    ObjectRef(DEPLOYMENT, "application-grid-controller", chart.NAMESPACE),
    ObjectRef(SERVICE_ACCOUNT, "application-grid-controller", chart.NAMESPACE),
    ObjectRef(DAEMON_SET, "application-grid-wrapper-node", chart.NAMESPACE),
    ObjectRef(DAEMON_SET, "edge-coredns", chart.NAMESPACE),
    ObjectRef(DAEMON_SET, "edge-kube-proxy", chart.NAMESPACE),
    ObjectRef(CONFIG_MAP, chart.EDGE_INFO, chart.NAMESPACE),
)
CLUSTER_INFO = ObjectRef(CONFIG_MAP, "cluster-info", "kube-public")
KUBEADM_CONFIG = ObjectRef(CONFIG_MAP, "kubeadm-config", "kube-system")
NODES_KUBEADM_CONFIG = ObjectRef(ROLE, "kubeadm:nodes-kubeadm-config", "kube-system")
NODE_BOOTSTRAPPER = ObjectRef(CLUSTER_ROLE, "system:node-bootstrapper")
#: The server edgeadm writes into cluster-info (its port is fixed in edgeadm).
EDGEADM_SERVER_HOST = "kubernetes.default"
_KUBELET_CONFIG = re.compile(r"kubelet-config-(\d+)\.(\d+)")
AUTOUPDATE = "rbac.authorization.kubernetes.io/autoupdate"
BOOTSTRAPPING = "kubernetes.io/bootstrapping"
#: The API server's own definition of system:node-bootstrapper (edgeadm overwrites it and drops both marks).
NODE_BOOTSTRAPPER_RULES = [{"apiGroups": ["certificates.k8s.io"], "resources": ["certificatesigningrequests"],
                            "verbs": ["create", "get", "list", "watch"]}]
#: kubeadm's rule for kubeadm:nodes-kubeadm-config (edgeadm widens it to apiGroups "*", get/list/watch).
NODES_KUBEADM_CONFIG_RULES = [{"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["kubeadm-config"],
                               "verbs": ["get"]}]
_SERVER_FIELDS = ("uid", "resourceVersion", "creationTimestamp", "managedFields", "generation", "selfLink",
                  "deletionTimestamp", "deletionGracePeriodSeconds")


def kind_of(body: Mapping[str, Any]) -> Kind:
    """The Kind of a rendered object (the chart renders only kinds listed here)."""
    kind = _KINDS.get(str(body.get("kind")))
    if kind is None:
        raise PreconditionFailed(f"the chart renders a {body.get('kind')}, which adoption does not know",
                                 "adopt with the chart that comes with this kubectl-edge")
    return kind


def ref_of(body: Mapping[str, Any], namespace: str = chart.NAMESPACE) -> ObjectRef:
    """The reference of a rendered (or saved) object; namespaced objects default to the release namespace."""
    kind = kind_of(body)
    metadata = body.get("metadata") or {}
    return ObjectRef(kind, str(metadata["name"]), str(metadata.get("namespace") or namespace)
                     if kind.namespaced else None)


def cleaned(live: Mapping[str, Any]) -> dict[str, Any]:
    """An object as it can be created again: without what the API server maintains (uid, versions, status)."""
    body = copy.deepcopy(dict(live))
    metadata = body.setdefault("metadata", {})
    for name in _SERVER_FIELDS:
        metadata.pop(name, None)
    annotations = metadata.get("annotations")
    if annotations is not None:
        annotations.pop("deployment.kubernetes.io/revision", None)
        annotations.pop("deprecated.daemonset.template.generation", None)
        if not annotations:
            metadata.pop("annotations")
    body.pop("status", None)
    return body


def _owned(live: Mapping[str, Any]) -> bool:
    return owned_by_release(live)


# --- recognising ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Edit:
    """One change adoption or repair makes to an object that exists; its original is saved first."""

    ref: ObjectRef
    how: str  # "take over", "replace", "repair", "remove"
    original: dict[str, Any]
    target: dict[str, Any] | None = None
    note: str = ""


@dataclass
class Recognition:
    """What SuperEdge's edgeadm left on the cluster."""

    components: list[str] = field(default_factory=list)
    rewrites: list[str] = field(default_factory=list)
    repairs: list[Edit] = field(default_factory=list)

    @property
    def installed(self) -> bool:
        """Whether edgeadm's components are there without helm's ownership."""
        return bool(self.components)

    def notes(self, repair: bool) -> list[str]:
        """One line per finding, for the plan."""
        lines = []
        if self.components:
            lines.append(f"made by SuperEdge's edgeadm (no Helm ownership): {', '.join(self.components)}")
        for rewrite in self.rewrites:
            lines.append(f"edgeadm's rewrite: {rewrite}" + ("" if repair else "; left as it is (--repair restores "
                                                                             "it where the original is known)"))
        return lines


def cluster_info_server(body: Mapping[str, Any] | None) -> str | None:
    """The server in cluster-info's kubeconfig, None when it has none."""
    try:
        config = yamltext.load(((body or {}).get("data") or {}).get("kubeconfig") or "")
        return str(config["clusters"][0]["cluster"]["server"])
    except (yaml.YAMLError, KeyError, IndexError, TypeError):
        return None


def _control_plane_endpoint(cluster: Cluster) -> str | None:
    body = cluster.get(KUBEADM_CONFIG)
    try:
        configuration = yamltext.load(((body or {}).get("data") or {}).get("ClusterConfiguration") or "")
    except yaml.YAMLError:
        return None
    endpoint = (configuration or {}).get("controlPlaneEndpoint") if isinstance(configuration, dict) else None
    return str(endpoint) if endpoint else None


def _with_server(body: Mapping[str, Any], server: str) -> dict[str, Any]:
    repaired = cleaned(body)
    config = yamltext.load(repaired["data"]["kubeconfig"])
    config["clusters"][0]["cluster"]["server"] = server
    repaired["data"]["kubeconfig"] = yaml.safe_dump(config, default_flow_style=False)
    return repaired


def _node_minors(cluster: Cluster) -> set[tuple[int, int]]:
    minors = set()
    for node in cluster.list_objects(NODE):
        version = str(((node.get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion") or "")
        found = re.match(r"v?(\d+)\.(\d+)", version)
        if found:
            minors.add((int(found[1]), int(found[2])))
    return minors


def recognise(cluster: Cluster, version: tuple[int, int]) -> Recognition:
    """Read what edgeadm leaves (reads only); the repairs are computed but not made."""
    found = Recognition()
    for ref in SIGNS:
        live = cluster.get(ref)
        if live is not None and not _owned(live):
            found.components.append(str(ref))

    cluster_info = cluster.get(CLUSTER_INFO)
    server = cluster_info_server(cluster_info)
    if cluster_info is not None and server and re.match(rf"https?://{re.escape(EDGEADM_SERVER_HOST)}(:|/|$)", server):
        endpoint = _control_plane_endpoint(cluster)
        if endpoint:
            repaired_server = f"https://{endpoint}"
            found.rewrites.append(f"{CLUSTER_INFO}'s server is {server} (kubeadm-config's controlPlaneEndpoint "
                                  f"says {repaired_server})")
            found.repairs.append(Edit(CLUSTER_INFO, "repair", cleaned(cluster_info),
                                      _with_server(cluster_info, repaired_server),
                                      f"server {server} -> {repaired_server}"))
        else:
            found.rewrites.append(f"{CLUSTER_INFO}'s server is {server}; kubeadm-config names no "
                                  "controlPlaneEndpoint, so the original is not known (not repaired)")

    role = cluster.get(NODES_KUBEADM_CONFIG)
    if role is not None and any("*" in (rule.get("apiGroups") or []) for rule in role.get("rules") or []):
        found.rewrites.append(f"{NODES_KUBEADM_CONFIG} is widened (apiGroups *, "
                              f"{','.join(sorted({v for r in role['rules'] for v in r.get('verbs') or []}))})")
        repaired = cleaned(role)
        repaired["rules"] = copy.deepcopy(NODES_KUBEADM_CONFIG_RULES)
        found.repairs.append(Edit(NODES_KUBEADM_CONFIG, "repair", cleaned(role), repaired, "kubeadm's rule"))

    bootstrapper = cluster.get(NODE_BOOTSTRAPPER)
    if bootstrapper is not None:
        metadata = bootstrapper.get("metadata") or {}
        if (metadata.get("annotations") or {}).get(AUTOUPDATE) != "true" or \
                (metadata.get("labels") or {}).get(BOOTSTRAPPING) != "rbac-defaults":
            found.rewrites.append(f"{NODE_BOOTSTRAPPER} lost its {AUTOUPDATE} annotation and {BOOTSTRAPPING} label "
                                  "(the API server no longer keeps it up to date)")
            repaired = cleaned(bootstrapper)
            repaired_metadata = repaired["metadata"]
            repaired_metadata["annotations"] = {**(repaired_metadata.get("annotations") or {}), AUTOUPDATE: "true"}
            repaired_metadata["labels"] = {**(repaired_metadata.get("labels") or {}), BOOTSTRAPPING: "rbac-defaults"}
            repaired["rules"] = copy.deepcopy(NODE_BOOTSTRAPPER_RULES)
            found.repairs.append(Edit(NODE_BOOTSTRAPPER, "repair", cleaned(bootstrapper), repaired,
                                      "the API server's definition"))

    minors: set[tuple[int, int]] | None = None
    for configmap in cluster.list_objects(CONFIG_MAP, "kube-system"):
        name = str(configmap["metadata"]["name"])
        matched = _KUBELET_CONFIG.fullmatch(name)
        if not matched or (int(matched[1]), int(matched[2])) == version:
            continue
        minors = _node_minors(cluster) if minors is None else minors
        if (int(matched[1]), int(matched[2])) in minors:
            continue
        found.rewrites.append(f"kube-system/{name} is for kubelets v{matched[1]}.{matched[2]}, which no node runs")
        listed = {**configmap, "apiVersion": "v1", "kind": "ConfigMap"}  # list items carry no kind
        found.repairs.append(Edit(ObjectRef(CONFIG_MAP, name, "kube-system"), "remove", cleaned(listed),
                                  note="no node runs that minor"))
        for kind in (ROLE_BINDING, ROLE):
            ref = ObjectRef(kind, f"kubeadm:{name}", "kube-system")
            live = cluster.get(ref)
            if live is not None:
                found.repairs.append(Edit(ref, "remove", cleaned(live), note=f"it grants {name}"))
    return found


# --- what adoption keeps -------------------------------------------------------------------------------

def superedge_existing(cluster: Cluster, live: Mapping[str, Mapping[str, Any] | None],
                       existing: certs.Existing) -> certs.Existing:
    """What edgeadm keeps where the chart does not: the webhook CA only in the webhook's caBundle, the
    lite-apiserver key in the edge-info ConfigMap."""
    webhook_ca = existing.webhook_ca
    if not webhook_ca:
        webhook = cluster.get(ObjectRef(MUTATING_WEBHOOK, "edge-health-admission")) or {}
        bundles = [w.get("clientConfig", {}).get("caBundle") for w in webhook.get("webhooks") or []]
        bundle = next((b for b in bundles if b), None)
        if bundle:
            try:
                webhook_ca = base64.b64decode(bundle).decode()
            except (ValueError, UnicodeDecodeError):
                webhook_ca = None
    lite = existing.lite_apiserver
    info = ((live.get("edge-info") or {}).get("data") or {})
    if lite is None and info.get("lite-apiserver.crt") and info.get("lite-apiserver.key"):
        lite = certs.KeyPair(str(info["lite-apiserver.crt"]), str(info["lite-apiserver.key"]))
    return certs.Existing(tunnel_ca=existing.tunnel_ca, tunnel_cloud=existing.tunnel_cloud,
                          tunnel_egress=existing.tunnel_egress, tunnel_token=existing.tunnel_token,
                          webhook_ca=webhook_ca, webhook=existing.webhook, hmac_key=existing.hmac_key,
                          lite_apiserver=lite)


def keep_material(existing: certs.Existing, made: certs.Result) -> certs.Result:
    """The material edge nodes already trust, as it is; only what is missing comes from ``made``.

    Adoption keeps certificates even where kubectl-edge would want other names: tunnel-edge checks
    tunnel-cloud by the name 127.0.0.1, which SuperEdge's certificate carries.
    """
    generated = made.material
    kept: list[str] = []
    tunnel = (existing.tunnel_ca, existing.tunnel_cloud, existing.tunnel_egress)
    if all(tunnel):
        tunnel_ca, tunnel_cloud, tunnel_egress = existing.tunnel_ca, existing.tunnel_cloud, existing.tunnel_egress
        kept.append("the tunnel CA and certificates")
    else:
        tunnel_ca, tunnel_cloud, tunnel_egress = generated.tunnel_ca, generated.tunnel_cloud, generated.tunnel_egress
    if existing.webhook_ca and existing.webhook:
        webhook_ca, webhook = existing.webhook_ca, existing.webhook
        kept.append("the webhook certificate and its CA")
    else:
        webhook_ca, webhook = generated.webhook_ca, generated.webhook
    token = existing.tunnel_token or generated.tunnel_token
    hmac_key = existing.hmac_key or generated.hmac_key
    kept += (["the tunnel token"] if existing.tunnel_token else []) + \
        (["the health-check key"] if existing.hmac_key else [])
    lite = existing.lite_apiserver or generated.lite_apiserver
    if existing.lite_apiserver:
        kept.append("the lite-apiserver certificate")
    material = certs.Material(tunnel_ca=str(tunnel_ca), tunnel_cloud=tunnel_cloud or generated.tunnel_cloud,
                              tunnel_egress=tunnel_egress or generated.tunnel_egress, tunnel_token=token,
                              webhook_ca=str(webhook_ca), webhook=webhook or generated.webhook, hmac_key=hmac_key,
                              lite_apiserver=lite)
    notes = [f"adopt: kept what SuperEdge's edgeadm made: {', '.join(kept)}"] if kept else []
    missing = [what for what, have in (("tunnel certificates", all(tunnel)),
                                       ("webhook certificate", existing.webhook_ca and existing.webhook),
                                       ("tunnel token", existing.tunnel_token), ("health-check key", existing.hmac_key))
               if not have]
    if missing:
        notes.append(f"adopt: made what SuperEdge's installation lacks: {', '.join(missing)}")
    return certs.Result(material, made.generated, tuple(notes))


def grpc_node_port(service: Mapping[str, Any] | None) -> int | None:
    """tunnel-cloud's grpc NodePort, the one tunnel-edge's configuration names."""
    for port in ((service or {}).get("spec") or {}).get("ports") or []:
        if port.get("name") == "grpc" and port.get("nodePort"):
            return int(port["nodePort"])
    return None


TUNNEL_EDGE_CONF = ObjectRef(CONFIG_MAP, "tunnel-edge-conf", chart.NAMESPACE)
_SERVER_NAME = re.compile(r'^\s*server_name\s*=\s*"([^"]+)"\s*$', re.MULTILINE)


def tunnel_host(conf: Mapping[str, Any] | None) -> str | None:
    """The host tunnel-edge dials (``server_name`` of tunnel-edge-conf's mode.toml), checked for the shape of
    an IP address or DNS name; None when there is none."""
    import ipaddress

    found = _SERVER_NAME.search(str(((conf or {}).get("data") or {}).get("mode.toml") or ""))
    if not found:
        return None
    host = found.group(1).rsplit(":", 1)[0].strip("[]")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if re.fullmatch(r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}"
                    r"[A-Za-z0-9])?)*", host):
        return host.lower()
    return None


def edge_virtual_addr(edge_info: Mapping[str, Any] | None) -> str | None:
    """edge-info's ``edge-virtual-addr`` when it is an IPv4 address (joined nodes carry it)."""
    import ipaddress

    text = str(((edge_info or {}).get("data") or {}).get("edge-virtual-addr") or "").strip()
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        return None


# --- the plan ------------------------------------------------------------------------------------------

def _helm_metadata(body: dict[str, Any]) -> dict[str, Any]:
    metadata = body.setdefault("metadata", {})
    metadata["labels"] = {**(metadata.get("labels") or {}), "app.kubernetes.io/managed-by": "Helm"}
    metadata["annotations"] = {**(metadata.get("annotations") or {}), HELM_RELEASE_ANNOTATION: chart.RELEASE,
                               HELM_NAMESPACE_ANNOTATION: chart.NAMESPACE}
    return body


def plan_adoption(cluster: Cluster, rendered: Iterable[Mapping[str, Any]]) -> list[Edit]:
    """For each object the chart renders that exists without the release's ownership: take it over or replace it."""
    edits: list[Edit] = []
    for body in rendered:
        if body.get("kind") == "CustomResourceDefinition":
            continue  # made by the components phase (labelled kubectl-edge's) or kept as they are
        ref = ref_of(body)
        live = cluster.get(ref)
        if live is None or _owned(live):
            continue
        original = cleaned(live)
        kind = str(body["kind"])
        if kind in _FIXED_SELECTOR and (live.get("spec") or {}).get("selector") != (body.get("spec") or {}).get(
                "selector"):
            edits.append(Edit(ref, "replace", original, note="its selector differs from the chart's and cannot "
                                                             "change; helm makes it again"))
            continue
        target = _helm_metadata(copy.deepcopy(dict(live)))
        note = "helm's ownership metadata"
        if kind == "Service" and (body.get("spec") or {}).get("selector") != (live.get("spec") or {}).get("selector"):
            target["spec"]["selector"] = copy.deepcopy(body["spec"]["selector"])
            note += "; the chart's selector (its NodePorts and ClusterIP stay)"
        edits.append(Edit(ref, "take over", original, target, note))
    return edits


# --- making the changes, and undoing them --------------------------------------------------------------

def _encode(originals: list[dict[str, Any]]) -> str:
    return base64.b64encode(json.dumps(originals, sort_keys=True).encode()).decode()


def saved_originals(cluster: Cluster) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The Secret of saved originals (None when absent) and the originals in the order they were saved."""
    secret = cluster.get(ORIGINALS)
    if secret is None:
        return None, []
    try:
        originals = json.loads(base64.b64decode(((secret.get("data") or {}).get("objects")) or "W10="))
    except (ValueError, UnicodeDecodeError):
        raise PreconditionFailed(f"{ORIGINALS} does not hold kubectl-edge's saved objects",
                                 "restore it from a backup, or delete it and undo the adoption by hand") from None
    return secret, [o for o in originals if isinstance(o, dict)]


def save_originals(cluster: Cluster, edits: list[Edit]) -> None:
    """Add the originals of ``edits`` to the Secret (an object already saved keeps its first original)."""
    secret, originals = saved_originals(cluster)
    known = {str(ref_of(o)) for o in originals}
    added = [edit.original for edit in edits if str(edit.ref) not in known]
    if not added and secret is not None:
        return
    data = {"objects": _encode([*originals, *added])}
    if secret is None:
        cluster.create({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                        "metadata": {"name": ORIGINALS.name, "namespace": ORIGINALS.namespace,
                                     # Not kubectl-edge's label: detach sweeps Secrets with it as tokens.
                                     "annotations": {ORIGINALS_ANNOTATION: "objects before kubectl edge addon "
                                                                           "--adopt; detach restores them"}},
                        "data": data})
    else:
        secret["data"] = data
        cluster.replace(secret)


def apply_edits(cluster: Cluster, edits: list[Edit], notify: Notify) -> None:
    """Make the edits (their originals saved already), each guarded by the version it was planned from."""
    for edit in edits:
        live = cluster.get(edit.ref)
        if live is None:
            continue
        if edit.how in ("replace", "remove"):
            cluster.delete(edit.ref, uid=live["metadata"]["uid"])
        else:
            assert edit.target is not None
            target = copy.deepcopy(edit.target)
            target.setdefault("metadata", {})["resourceVersion"] = live["metadata"]["resourceVersion"]
            try:
                cluster.request("PUT", edit.ref.path, query={"fieldManager": FIELD_MANAGER}, body=target)
            except Conflict as exc:
                raise Conflict(f"{edit.ref} changed while addon ran", "run kubectl edge addon --adopt again; it "
                                                                        "plans from the current state") from exc
        notify("adopt", f"{edit.how} {edit.ref}: {edit.note}" if edit.note else f"{edit.how} {edit.ref}")


def _restore_one(cluster: Cluster, ref: ObjectRef, original: dict[str, Any], timeout: float) -> None:
    """Make or replace one object as its original; refusals are retried until ``timeout``, then the last raised."""
    refusals: list[ClusterError] = []

    def put_back() -> bool | None:
        live = cluster.get(ref)
        body = copy.deepcopy(original)
        try:
            if live is None:
                cluster.request("POST", ref.kind.path(ref.namespace), query={"fieldManager": FIELD_MANAGER},
                                body=body)
            elif live["metadata"].get("deletionTimestamp"):
                raise AlreadyExists("still terminating", "")
            else:
                body["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
                cluster.request("PUT", ref.path, query={"fieldManager": FIELD_MANAGER}, body=body)
        except (AlreadyExists, Conflict, Invalid) as exc:
            refusals.append(exc)
            return None
        return True

    try:
        poll(put_back, timeout, 0.5, what=f"restoring {ref}")
    except WaitTimeout:
        raise refusals[-1] from None  # the API server's last refusal says why


def restore(cluster: Cluster, notify: Notify, dry_run: bool = False, timeout: float = 60.0) -> list[str]:
    """Put every saved original back (after helm uninstalled the release), then delete the Secret.

    An object that exists is replaced by its original; one that is gone is made again, with its ClusterIP and
    NodePorts (the API server may hold a just-freed address for a moment, so a refusal is retried).
    """
    secret, originals = saved_originals(cluster)
    restored: list[str] = []
    for original in reversed(originals):
        ref = ref_of(original)
        restored.append(str(ref))
        if dry_run:
            notify("detach", f"would restore {ref} as it was before adoption")
            continue
        _restore_one(cluster, ref, original, timeout)
        notify("detach", f"restored {ref} as it was before adoption")
    if secret is not None and not dry_run:
        cluster.delete(ORIGINALS, uid=secret["metadata"]["uid"])
    return restored
