"""``kubectl edge status``: the addon, its prerequisites, tokens and edge nodes at a glance, and what is wrong.

Everything is read with paginated lists in small pages, and only a summary of each object is kept, so the
command stays fast and small on clusters with thousands of nodes. Edge nodes are fetched by label
(two disjoint selectors, so no node is fetched twice), never by listing every node.

The only writes are housekeeping shared with the token commands: tokens made for one node are deleted once
that node's client certificate was approved (``tokens.retire_node_tokens``).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import gzip
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from edge_protocol import token as bootstrap_token
from edge_protocol.duration import short_human_duration
from kubectl_edge.addon.adopt import recognise
from kubectl_edge.addon.chart import EDGE_NODE_LABEL, NAMESPACE, RELEASE, owned_by_release
from kubectl_edge.addon.prerequisites import ClusterFacts, desired_prerequisites
from kubectl_edge.bootstrap.tokens import Duties, StoredToken, read_tokens, retire_node_tokens
from kubectl_edge.cluster.client import USER_AGENT, Cluster
from kubectl_edge.cluster.kinds import DAEMON_SET, DEPLOYMENT, LEASE, NODE, SECRET, ObjectRef
from kubectl_edge.errors import EdgeError
from kubectl_edge.notify import Notify
from kubectl_edge.record import STATE_REF, State, load_state

#: Helm's release Secrets carry these labels (and ``status``, ``version``).
RELEASE_SELECTOR = f"owner=helm,name={RELEASE}"
DEPLOYED = "deployed"
#: Edge nodes carry both labels (SPEC 1); the second selector catches nodes that carry only the second, so the
#: two lists are disjoint and together hold every node with either label.
EDGE_LABEL = EDGE_NODE_LABEL
EDGE_LABEL_DOCUMENTED = "superedge.io/edge-node"
EDGE_SELECTORS = (f"{EDGE_LABEL}=enable", f"{EDGE_LABEL_DOCUMENTED}=enable,{EDGE_LABEL}!=enable")
NODE_LEASE_NAMESPACE = "kube-node-lease"
#: Nodes of real clusters carry their image lists (tens of KiB each); 200 a page keeps a page's JSON small.
NODE_PAGE_SIZE = 200
LEASE_PAGE_SIZE = 500
#: Release Secrets hold the whole chart; few a page.
RELEASE_PAGE_SIZE = 5
#: Kubernetes' version skew policy: kubelet may be up to three minor versions older than kube-apiserver.
MAX_KUBELET_MINORS_OLDER = 3
TOKEN_EXPIRY_WARNING_SECONDS = 3600.0
#: How many Ready edge kubelets status asks the API server to reach (one request each); the causes of failure
#: (the client CA, the tunnel) are shared by the nodes, so a sample tells.
KUBELET_CHECK_LIMIT = 10
KUBELET_CHECK_TIMEOUT_SECONDS = 10.0
#: How many names a problem line spells out before it says how many more there are.
NAMES_SHOWN = 5

CREATED_BY_KUBECTL_EDGE = "kubectl-edge"
CREATED_BY_OWNER = "cluster-owner"

_VERSION_RE = re.compile(r"v?(\d+)\.(\d+)")
_GZIP_MAGIC = b"\x1f\x8b\x08"


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _format_time(moment: datetime.datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def minor_version(text: str | None) -> tuple[int, int] | None:
    """(major, minor) of ``v1.37.2``, ``1.37``, ``v1.37.0-alpha.1+abc``; None when there is none."""
    match = _VERSION_RE.match(text or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


# --- the Helm release ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Release:
    """The newest revision of the addon's Helm release."""

    name: str
    namespace: str
    revision: int
    status: str
    chart: str
    chart_version: str
    app_version: str
    updated: str | None
    description: str

    def to_json(self) -> dict[str, Any]:
        """The ``release`` part of ``status -o json|yaml``."""
        return {"name": self.name, "namespace": self.namespace, "revision": self.revision, "status": self.status,
                "chart": self.chart, "chartVersion": self.chart_version, "appVersion": self.app_version,
                "updated": self.updated, "description": self.description}


def decode_release(stored: str) -> dict[str, Any]:
    """Helm's release record from a release Secret's ``data.release``.

    The API returns Secret data base64-encoded; Helm's own value inside is base64 of gzip of JSON (older
    Helm versions stored plain JSON under the same base64, which is accepted too).

    Raises:
        ValueError: The value is not such a record.
    """
    try:
        helm_value = base64.b64decode(stored, validate=True)
        payload = base64.b64decode(helm_value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"not base64: {exc}") from exc
    if payload.startswith(_GZIP_MAGIC):
        try:
            payload = gzip.decompress(payload)
        except (OSError, EOFError) as exc:
            raise ValueError(f"not gzip: {exc}") from exc
    document = json.loads(payload)
    if not isinstance(document, dict):
        raise ValueError("not a JSON object")
    return document


def release_from_record(record: dict[str, Any], revision: int) -> Release:
    """The fields ``status`` shows, from Helm's release record."""
    info = record.get("info") or {}
    metadata = (record.get("chart") or {}).get("metadata") or {}
    return Release(name=str(record.get("name") or RELEASE), namespace=str(record.get("namespace") or NAMESPACE),
                   revision=int(record.get("version") or revision), status=str(info.get("status") or "unknown"),
                   chart=str(metadata.get("name") or ""), chart_version=str(metadata.get("version") or ""),
                   app_version=str(metadata.get("appVersion") or ""),
                   updated=_format_time(bootstrap_token.parse_api_time(info.get("last_deployed"))),
                   description=str(info.get("description") or ""))


def read_release(cluster: Cluster) -> Release | None:
    """The newest revision of the release (whatever its status), None when Helm has none stored."""
    newest: tuple[int, str] | None = None
    for secret in cluster.list_objects(SECRET, NAMESPACE, label_selector=RELEASE_SELECTOR,
                                       page_size=RELEASE_PAGE_SIZE):
        labels = (secret.get("metadata") or {}).get("labels") or {}
        try:
            revision = int(labels.get("version", "0"))
        except ValueError:
            continue
        stored = (secret.get("data") or {}).get("release")
        if stored and (newest is None or revision > newest[0]):
            newest = (revision, str(stored))  # only the newest is kept, and decoded once at the end
    if newest is None:
        return None
    revision, stored = newest
    try:
        record = decode_release(stored)
    except ValueError:
        return Release(RELEASE, NAMESPACE, revision, "unreadable", "", "", "", None,
                       "the release record cannot be decoded")
    return release_from_record(record, revision)


# --- components ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Component:
    """A DaemonSet or Deployment of the release and how many of its pods are ready."""

    kind: str
    name: str
    desired: int
    ready: int

    @property
    def is_ready(self) -> bool:
        """Every desired pod is ready."""
        return self.ready >= self.desired

    def to_json(self) -> dict[str, Any]:
        """One entry of ``components``."""
        return {"kind": self.kind, "name": self.name, "desired": self.desired, "ready": self.ready}


def component_of(workload: dict[str, Any]) -> Component:
    """Desired and ready pods of a DaemonSet (as its controller counts them) or a Deployment (its replicas)."""
    kind = str(workload.get("kind") or "")
    name = str((workload.get("metadata") or {}).get("name", ""))
    status = workload.get("status") or {}
    if kind == DAEMON_SET.kind:
        desired, ready = status.get("desiredNumberScheduled"), status.get("numberReady")
        return Component(kind, name, int(desired or 0), int(ready or 0))
    replicas = (workload.get("spec") or {}).get("replicas")
    return Component(kind, name, 1 if replicas is None else int(replicas), int(status.get("readyReplicas") or 0))


def read_components(cluster: Cluster) -> list[Component]:
    """The release's DaemonSets and Deployments in its namespace (Helm marks what it installed)."""
    components = []
    for kind in (DEPLOYMENT, DAEMON_SET):
        for workload in cluster.list_objects(kind, NAMESPACE, page_size=100):
            if owned_by_release(workload):
                components.append(component_of({**workload, "kind": kind.kind}))
    return sorted(components, key=lambda c: (c.kind, c.name))


# --- prerequisites ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Prerequisite:
    """One join prerequisite: present or not, whose it is, what addon added to it."""

    ref: ObjectRef
    present: bool
    created_by: str | None
    patched_keys: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """One entry of ``prerequisites``."""
        return {"kind": self.ref.kind.kind, "namespace": self.ref.namespace, "name": self.ref.name,
                "present": self.present, "createdBy": self.created_by, "patchedKeys": list(self.patched_keys)}


def prerequisite_refs(major: int, minor: int) -> list[ObjectRef]:
    """The objects addon's prerequisites phase makes, for a server of this version."""
    # Only the names are used; they depend on the version alone (kubelet-config's name), not on the content.
    facts = ClusterFacts(version_major=major, version_minor=minor, git_version="", service_cidr="",
                         dns_service_ip="", cluster_domain="", cgroup_driver="", ca_pem="",
                         cluster_info_server="", control_plane_endpoint="")
    return [ObjectRef.of(desired.body) for desired in desired_prerequisites(facts)]


def classify_prerequisite(ref: ObjectRef, live: dict[str, Any] | None, state: State) -> Prerequisite:
    """Whose the object is: kubectl-edge's when addon recorded creating this very object, else its owner's."""
    patch = state.find_patch(ref)
    keys = tuple(change.path for change in patch.changes) if patch else ()
    if live is None:
        return Prerequisite(ref, False, None, ())
    created = state.find_created(ref)
    uid = (live.get("metadata") or {}).get("uid")
    ours = created is not None and (created.uid is None or created.uid == uid)
    return Prerequisite(ref, True, CREATED_BY_KUBECTL_EDGE if ours else CREATED_BY_OWNER, keys)


def read_prerequisites(cluster: Cluster, state: State, major: int, minor: int) -> list[Prerequisite]:
    """Each prerequisite as it is in the cluster."""
    return [classify_prerequisite(ref, cluster.get(ref), state) for ref in prerequisite_refs(major, minor)]


# --- edge nodes ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class EdgeNode:
    """What ``status`` shows of an edge node."""

    name: str
    ready: str  # the Ready condition's status: True, False or Unknown (also when the node never reported)
    kubelet_version: str | None
    architecture: str | None
    last_heartbeat: datetime.datetime | None
    internal_ip: str | None
    #: the port the kubelet reported serving on (0: it never reported one, so there is nothing to reach)
    kubelet_port: int = 0

    def to_json(self) -> dict[str, Any]:
        """One entry of ``edgeNodes``."""
        return {"name": self.name, "ready": self.ready, "kubeletVersion": self.kubelet_version,
                "architecture": self.architecture, "lastHeartbeat": _format_time(self.last_heartbeat),
                "internalIP": self.internal_ip}


def summarize_node(node: dict[str, Any]) -> EdgeNode:
    """The few fields of a Node that status shows (the rest of the object is dropped at once)."""
    metadata = node.get("metadata") or {}
    status = node.get("status") or {}
    info = status.get("nodeInfo") or {}
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    address = next((a.get("address") for a in status.get("addresses") or [] if a.get("type") == "InternalIP"), None)
    labels = metadata.get("labels") or {}
    endpoint = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port")
    return EdgeNode(
        name=str(metadata.get("name", "")),
        ready=str(ready.get("status") or "Unknown") if ready else "Unknown",
        kubelet_version=info.get("kubeletVersion") or None,
        architecture=info.get("architecture") or labels.get("kubernetes.io/arch") or None,
        last_heartbeat=bootstrap_token.parse_api_time(ready.get("lastHeartbeatTime")) if ready else None,
        internal_ip=address, kubelet_port=endpoint if isinstance(endpoint, int) and 0 < endpoint < 65536 else 0)


def read_edge_nodes(cluster: Cluster) -> list[EdgeNode]:
    """Every node with an edge label, with its last heartbeat (its Lease's renewal when that is newer)."""
    nodes: dict[str, EdgeNode] = {}
    for selector in EDGE_SELECTORS:
        for node in cluster.list_objects(NODE, label_selector=selector, page_size=NODE_PAGE_SIZE):
            summary = summarize_node(node)
            nodes[summary.name] = summary
    if nodes:
        # The kubelet renews its Lease every few seconds but rewrites the Ready condition only every few
        # minutes when nothing changes, so the Lease is the fresher heartbeat.
        for lease in cluster.list_objects(LEASE, NODE_LEASE_NAMESPACE, page_size=LEASE_PAGE_SIZE):
            name = (lease.get("metadata") or {}).get("name")
            renewed = bootstrap_token.parse_api_time((lease.get("spec") or {}).get("renewTime"))
            known = nodes.get(str(name))
            if known is not None and renewed is not None and (known.last_heartbeat is None
                                                               or renewed > known.last_heartbeat):
                nodes[known.name] = EdgeNode(known.name, known.ready, known.kubelet_version, known.architecture,
                                             renewed, known.internal_ip, known.kubelet_port)
    return sorted(nodes.values(), key=lambda n: n.name)


# --- the API server's way to the kubelets (logs, exec, port-forward) --------------------------------------

KUBELET_OK = "ok"
KUBELET_UNAUTHORIZED = "unauthorized"
KUBELET_FORBIDDEN = "forbidden"
KUBELET_UNREACHABLE = "unreachable"
#: The current user may not use the node proxy: nothing was learnt about the kubelet.
KUBELET_NOT_CHECKED = "not-checked"


@dataclass(frozen=True)
class KubeletAccess:
    """Whether the API server reached a node's kubelet through the node proxy, and what it answered."""

    node: str
    result: str
    status: int = 0
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        """One entry of ``kubeletAccess``."""
        return {"node": self.node, "result": self.result, "status": self.status, "detail": self.detail}


def classify_kubelet_answer(node: str, status: int, body: bytes) -> KubeletAccess:
    """What the node proxy's answer for the kubelet's ``/healthz`` means.

    401 and 403 come from the kubelet itself (the API server's own authorisation of the admin comes first,
    and the admin may read nodes/proxy): it rejected the API server's client certificate, or its
    authorisation webhook denied it. 5xx: the API server could not connect to the kubelet.
    """
    detail = body.decode(errors="replace").strip()[:200]
    if status == 200:
        return KubeletAccess(node, KUBELET_OK, status)
    if status == 401:
        return KubeletAccess(node, KUBELET_UNAUTHORIZED, status, detail)
    if status == 403:
        # The API server's own refusal names the resource as nodes/proxy; the kubelet's says subresource=proxy.
        return KubeletAccess(node, KUBELET_NOT_CHECKED if "nodes/proxy" in detail else KUBELET_FORBIDDEN, status,
                             detail)
    return KubeletAccess(node, KUBELET_UNREACHABLE, status, detail)


def check_kubelets(cluster: Cluster, nodes: Iterable[EdgeNode], limit: int = KUBELET_CHECK_LIMIT
                   ) -> list[KubeletAccess]:
    """Ask the API server for the ``/healthz`` of up to ``limit`` Ready edge kubelets (the node proxy).

    Nodes that are not Ready or never reported a kubelet port are left out: there is no kubelet to reach.
    """
    checked = []
    for node in [n for n in nodes if n.ready == "True" and n.kubelet_port][:limit]:
        path = f"/api/v1/nodes/{node.name}/proxy/healthz"
        try:
            status, body = cluster.api.send("GET", path, {}, {"Accept": "*/*", "User-Agent": USER_AGENT}, None,
                                            KUBELET_CHECK_TIMEOUT_SECONDS)
        except EdgeError as exc:
            checked.append(KubeletAccess(node.name, KUBELET_UNREACHABLE, 0, exc.message))
            continue
        except OSError as exc:
            checked.append(KubeletAccess(node.name, KUBELET_UNREACHABLE, 0, str(exc)))
            continue
        checked.append(classify_kubelet_answer(node.name, status, body))
    return checked


def kubelet_problems(accesses: Iterable[KubeletAccess]) -> list[Problem]:
    """One problem per kind of failure, naming the nodes."""
    by_result: dict[str, list[str]] = {}
    for access in accesses:
        if access.result not in (KUBELET_OK, KUBELET_NOT_CHECKED):
            by_result.setdefault(access.result, []).append(access.node)
    problems = []
    for result, names in sorted(by_result.items()):
        subject = f"edge node {names[0]}" if len(names) == 1 else f"{len(names)} edge nodes {_names(names)}"
        verb = "rejects" if len(names) == 1 else "reject"
        if result == KUBELET_UNAUTHORIZED:
            problems.append(Problem(
                "kubelet-rejects-api-server",
                f"the kubelet of {subject} {verb} the API server's client certificate (401): kubectl logs, exec, "
                "attach and port-forward fail there",
                "the kubelet's client CA file does not hold the CA of the API server's kubelet-client certificate "
                "(on clusters with a separate client CA, such as k3s and RKE2, it is "
                "kube-system/extension-apiserver-authentication's client-ca-file): run kubectl edge addon (it "
                "publishes that CA for joining nodes), then on each node edgeadm reset and edgeadm join again",
                tuple(names)))
        elif result == KUBELET_FORBIDDEN:
            problems.append(Problem(
                "kubelet-forbids-api-server",
                f"the kubelet of {subject} {verb} the API server's requests (403): its authorisation webhook denies "
                "the API server's kubelet-client identity, so logs and exec fail there",
                "bind the API server's kubelet-client user to the ClusterRole system:kubelet-api-admin",
                tuple(names)))
        else:
            problems.append(Problem(
                "kubelet-unreachable",
                f"the API server cannot reach the kubelet of {subject} through the node proxy, so logs and exec "
                "fail there",
                "the API server dials the node's address and kubelet port; with the edge components that way is "
                "the tunnel: check the tunnel-cloud and tunnel-edge pods (kubectl -n edge-system get pods -o wide)",
                tuple(names)))
    return problems


# --- tokens ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TokenSummary:
    """What ``status`` shows of a bootstrap token (never its secret)."""

    id: str
    expires: datetime.datetime | None
    description: str
    node: str | None
    managed: bool

    def to_json(self, now: datetime.datetime) -> dict[str, Any]:
        """One entry of ``tokens``."""
        left = None if self.expires is None else (self.expires - now).total_seconds()
        return {"id": self.id, "expires": _format_time(self.expires),
                "ttl": None if left is None else short_human_duration(left), "description": self.description,
                "node": self.node, "managedBy": CREATED_BY_KUBECTL_EDGE if self.managed else None}


def summarize_token(stored: StoredToken) -> TokenSummary:
    """A token as status shows it."""
    return TokenSummary(stored.id, stored.record.expiration, stored.record.description, stored.node, stored.managed)


# --- problems --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Problem:
    """Something wrong: what (``message``), what to do (``hint``), and the objects concerned."""

    check: str
    message: str
    hint: str
    objects: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """One entry of ``problems``."""
        return {"check": self.check, "message": self.message, "hint": self.hint, "objects": list(self.objects)}


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:NAMES_SHOWN])
    return shown if len(names) <= NAMES_SHOWN else f"{shown} and {len(names) - NAMES_SHOWN} more"


def kubelet_skew(server: tuple[int, int], kubelet_version: str | None) -> int | None:
    """How many minor versions the kubelet is older (positive) or newer (negative) than the API server.

    None when the kubelet's version is unknown (a node that never reported) or unreadable.
    """
    kubelet = minor_version(kubelet_version)
    if kubelet is None:
        return None
    if kubelet[0] != server[0]:
        return 100 * (server[0] - kubelet[0])  # another major version: outside any skew
    return server[1] - kubelet[1]


def skew_problems(server_version: str, nodes: Iterable[EdgeNode]) -> list[Problem]:
    """Edge nodes whose kubelet is more than three minors older than the API server, or newer than it."""
    server = minor_version(server_version)
    if server is None:
        return []
    by_version: dict[str, list[str]] = {}
    for node in nodes:
        skew = kubelet_skew(server, node.kubelet_version)
        if skew is not None and (skew > MAX_KUBELET_MINORS_OLDER or skew < 0):
            by_version.setdefault(str(node.kubelet_version), []).append(node.name)
    oldest = f"v{server[0]}.{max(server[1] - MAX_KUBELET_MINORS_OLDER, 0)}"
    supported = f"{oldest} to v{server[0]}.{server[1]}"
    problems = []
    for version, names in sorted(by_version.items()):
        skew = kubelet_skew(server, version) or 0
        if skew < 0:
            what = f"newer than the API server {server_version} (a kubelet may never be newer)"
            hint = (f"upgrade the control plane first, or install a kubelet from {supported} on "
                    f"{'them' if len(names) > 1 else 'it'} (edgeadm reset, then edgeadm join with a matching "
                    "install package)")
        else:
            what = (f"{skew} minor versions older than the API server {server_version} (at most "
                    f"{MAX_KUBELET_MINORS_OLDER} are supported)")
            hint = (f"upgrade the kubelet to a version from {supported} (edgeadm reset, then edgeadm join with a "
                    "newer install package), or remove the node with kubectl edge node delete")
        subject = "edge node" if len(names) == 1 else f"{len(names)} edge nodes"
        problems.append(Problem("kubelet-version-skew", f"{subject} {_names(names)} run{'s' if len(names) == 1 else ''}"
                                f" kubelet {version}, {what}", hint, tuple(names)))
    return problems


@dataclass
class StatusReport:
    """Everything ``kubectl edge status`` found."""

    server_version: str
    addon_ran: bool
    release: Release | None
    components: list[Component]
    prerequisites: list[Prerequisite]
    duties: Duties
    tokens: list[TokenSummary]
    edge_nodes: list[EdgeNode]
    now: datetime.datetime = field(default_factory=_now)
    retired_tokens: list[str] = field(default_factory=list)
    kubelet_access: list[KubeletAccess] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    #: components SuperEdge's edgeadm installed, without Helm ownership (kubectl_edge.addon.adopt)
    superedge: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """``status -o json|yaml``."""
        return {
            "serverVersion": self.server_version,
            "addon": {"ran": self.addon_ran, "record": f"{STATE_REF.namespace}/{STATE_REF.name}",
                      "release": self.release.to_json() if self.release else None,
                      "components": [component.to_json() for component in self.components],
                      **({"installedByEdgeadm": self.superedge} if self.superedge else {})},
            "prerequisites": [prerequisite.to_json() for prerequisite in self.prerequisites],
            "signing": {"signer": duty_owner(self.duties.signer), "cleaner": duty_owner(self.duties.cleaner)},
            "tokens": [token.to_json(self.now) for token in self.tokens],
            "edgeNodes": [node.to_json() for node in self.edge_nodes],
            "kubeletAccess": [access.to_json() for access in self.kubelet_access],
            "problems": [problem.to_json() for problem in self.problems],
        }


DUTY_CONTROLLER = "controller-manager"
DUTY_KUBECTL_EDGE = "kubectl-edge"
DUTY_UNKNOWN = "not measured"


def duty_owner(controller_does_it: bool | None) -> str:
    """Who signs cluster-info or cleans expired tokens, by what addon's preflight measured."""
    if controller_does_it is None:
        return DUTY_UNKNOWN
    return DUTY_CONTROLLER if controller_does_it else DUTY_KUBECTL_EDGE


def find_problems(report: StatusReport) -> list[Problem]:
    """Every problem in the report, each with what to do about it."""
    problems: list[Problem] = []
    if report.release is None and report.superedge:
        problems.append(Problem("installed-by-edgeadm", "the edge components were installed by SuperEdge's edgeadm "
                                f"(no Helm release {RELEASE}): {_names(report.superedge)}",
                                "run kubectl edge addon --adopt: it makes them the release and keeps the tunnel "
                                "token, certificates and NodePorts the edge nodes use (--dry-run shows the plan)"))
    elif not report.addon_ran:
        problems.append(Problem("addon-never-ran", f"kubectl edge addon has never run in this cluster (no "
                                f"{STATE_REF.namespace}/{STATE_REF.name} record)",
                                "run kubectl edge addon: it prepares the join prerequisites and installs the "
                                "edge components"))
    else:
        for prerequisite in report.prerequisites:
            if not prerequisite.present:
                problems.append(Problem("prerequisite-missing", f"the join prerequisite {prerequisite.ref} is "
                                        "missing, so edge nodes cannot join",
                                        "run kubectl edge addon: it creates missing prerequisites again",
                                        (str(prerequisite.ref),)))
        if report.release is None and not report.superedge:
            problems.append(Problem("release-missing", f"the edge components are not installed (no Helm release "
                                    f"{RELEASE} in namespace {NAMESPACE})",
                                    "run kubectl edge addon (without --skip-phases components)"))
    if report.release is not None and report.release.status != DEPLOYED:
        release = report.release
        problems.append(Problem("release-not-deployed", f"the Helm release {release.name} revision "
                                f"{release.revision} is {release.status}" +
                                (f" ({release.description})" if release.description else ""),
                                f"run kubectl edge addon again; helm history {release.name} -n {release.namespace} "
                                "shows what happened", (f"{release.namespace}/{release.name}",)))
    for component in report.components:
        if not component.is_ready:
            problems.append(Problem("component-not-ready", f"{component.kind.lower()} {NAMESPACE}/{component.name}: "
                                    f"{component.ready} of {component.desired} pods ready",
                                    f"kubectl -n {NAMESPACE} describe {component.kind.lower()} {component.name} shows "
                                    "why (image pulls, scheduling, crashes)",
                                    (f"{component.kind.lower()} {NAMESPACE}/{component.name}",)))
    expiring = sorted((token for token in report.tokens if token.expires is not None
                       and 0 < (token.expires - report.now).total_seconds() <= TOKEN_EXPIRY_WARNING_SECONDS),
                      key=lambda token: (token.expires, token.id))
    if expiring:
        first = expiring[0]
        assert first.expires is not None
        left = short_human_duration((first.expires - report.now).total_seconds())
        subject = f"bootstrap token {first.id} expires" if len(expiring) == 1 else \
            f"{len(expiring)} bootstrap tokens expire within an hour ({_names([t.id for t in expiring])}); the first"
        problems.append(Problem("token-expiring", f"{subject} in {left}",
                                "nodes that have not joined yet need a new token: kubectl edge token create "
                                "--print-join-command", tuple(t.id for t in expiring)))
    problems.extend(skew_problems(report.server_version, report.edge_nodes))
    not_ready = [node.name for node in report.edge_nodes if node.ready != "True"]
    if not_ready:
        subject = "edge node" if len(not_ready) == 1 else f"{len(not_ready)} edge nodes"
        problems.append(Problem("node-not-ready", f"{subject} {_names(not_ready)} "
                                f"{'is' if len(not_ready) == 1 else 'are'} not Ready",
                                "kubectl describe node NAME shows why; on the node, systemctl status kubelet; a node "
                                "that is gone for good: kubectl edge node delete NAME", tuple(not_ready)))
    problems.extend(kubelet_problems(report.kubelet_access))
    return problems


# --- the command -----------------------------------------------------------------------------------------

def run_status(cluster: Cluster, notify: Notify) -> StatusReport:
    """Read everything status shows (after the for-node token housekeeping) and find the problems."""
    version = cluster.server_version()
    git_version = str(version.get("gitVersion") or f"v{version.get('major', '1')}.{version.get('minor', '0')}")
    major, minor = minor_version(git_version) or (1, 0)
    state = load_state(cluster)
    duties = Duties.from_state(state)
    inventory = read_tokens(cluster)
    retired = retire_node_tokens(cluster, duties, notify, inventory)
    report = StatusReport(
        server_version=git_version,
        addon_ran=state.resource_version is not None,
        release=read_release(cluster),
        components=read_components(cluster),
        prerequisites=read_prerequisites(cluster, state, major, minor),
        duties=duties,
        tokens=[summarize_token(stored) for stored in inventory.tokens
                if not stored.is_probe and stored.id not in retired],
        edge_nodes=read_edge_nodes(cluster),
        retired_tokens=retired,
    )
    report.superedge = recognise(cluster, (major, minor)).components
    report.kubelet_access = check_kubelets(cluster, report.edge_nodes)
    report.problems = find_problems(report)
    return report

