"""The components phase: the edge components as the Helm release ``edge-system/superedge-addon``.

Before helm runs, kubectl-edge makes what helm would make without its label (the namespace, the ServiceGroup
CRDs) and the reversible changes SuperEdge makes to existing objects (kube-proxy's node affinity, the
``default/kubernetes`` endpoint annotations); those go through the same recorded plan as the prerequisites.
helm then runs only when the chart or the values changed since the release was last installed (a digest
of both is remembered), so a second addon with the same inputs leaves the release alone.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge_protocol import contract
from kubectl_edge import yamltext
from kubectl_edge.addon import adopt, adopt_material, certs, chart
from kubectl_edge.addon.changes import Action, Verb, patch_action, plan_object
from kubectl_edge.addon.helm import (
    Helm,
    helm_version,
    owned_by_release,
    private_file,
    release_deployed,
    run_template,
    run_uninstall,
    run_upgrade,
    template_argv,
    uninstall_argv,
    upgrade_argv,
)
from kubectl_edge.addon.prerequisites import ClusterFacts, Desired
from kubectl_edge.addon.values import ChartFacts, certificate_names, compute_values, values_yaml
from kubectl_edge.cluster.client import Cluster
from kubectl_edge.cluster.kinds import (
    CONFIG_MAP,
    CRD,
    DAEMON_SET,
    ENDPOINT_SLICE,
    ENDPOINTS,
    NAMESPACE,
    NODE,
    SERVICE,
    Kind,
    ObjectRef,
)
from kubectl_edge.errors import ConfigError, PreconditionFailed
from kubectl_edge.notify import Notify
from kubectl_edge.record import MANAGED_BY

KUBE_PROXY = ObjectRef(DAEMON_SET, "kube-proxy", "kube-system")
KUBERNETES_ENDPOINTS = ObjectRef(ENDPOINTS, "kubernetes", "default")
KUBERNETES_SLICE = ObjectRef(ENDPOINT_SLICE, "kubernetes", "default")
CONTROL_PLANE_LABELS = ("node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master")
SETTINGS_KEY = "components"


@dataclass(frozen=True)
class ComponentsOptions:
    """The components phase's flags."""

    values_files: tuple[str, ...] = ()
    set_values: tuple[str, ...] = ()
    chart_dir: str | None = None
    helm: str | None = None
    wait: bool = False
    timeout: float | None = None
    rotate: tuple[str, ...] = ()
    ca_key_file: str | None = None
    #: SuperEdge's flags: --certSANs, --edge-virtual-addr, --edge-image-repository, --edge-version
    tunnel_sans: tuple[str, ...] = ()
    #: None: SuperEdge's default (or, when adopting, the one edge-info names)
    edge_virtual_addr: str | None = None
    image_repository: str | None = None
    image_tag: str | None = None
    #: take over the components SuperEdge's edgeadm installed (see adopt.py)
    adopt: bool = False


@dataclass
class ComponentsPlan:
    """What the phase will do: object actions (recorded with the prerequisites) and the helm release."""

    actions: list[Action]
    values: dict[str, Any]
    digest: str
    up_to_date: bool
    helm: Helm
    chart_dir: Path
    notes: list[str] = field(default_factory=list)
    #: objects SuperEdge's edgeadm made that the release takes over or replaces (with --adopt)
    edits: list[adopt.Edit] = field(default_factory=list)


def _with_label(body: dict[str, Any]) -> dict[str, Any]:
    body = copy.deepcopy(body)
    metadata = body.setdefault("metadata", {})
    metadata["labels"] = {**(metadata.get("labels") or {}), **MANAGED_BY}
    for volatile in ("resourceVersion", "uid", "creationTimestamp", "managedFields"):
        metadata.pop(volatile, None)
    return body


def kube_proxy_affinity(current: dict[str, Any]) -> dict[str, Any] | None:
    """kube-proxy with a required node affinity that keeps it off edge nodes; None when it has one already.

    The term is added to every existing required term (they are ORed), or made the only one.
    """
    # The kube-proxy copy on edge nodes selects the edge label; the cloud copy gets the complement.
    expression = {"key": contract.EDGE_NODE_LABEL, "operator": "NotIn", "values": [contract.ENABLED]}
    merged = copy.deepcopy(current)
    spec = merged.setdefault("spec", {}).setdefault("template", {}).setdefault("spec", {})
    required = spec.setdefault("affinity", {}).setdefault("nodeAffinity", {}).setdefault(
        "requiredDuringSchedulingIgnoredDuringExecution", {})
    terms = required.setdefault("nodeSelectorTerms", [])
    if not terms:
        terms.append({"matchExpressions": [expression]})
    for term in terms:
        expressions = term.setdefault("matchExpressions", [])
        if not any(e.get("key") == contract.EDGE_NODE_LABEL for e in expressions):
            expressions.append(expression)
    return None if merged == current else merged


def with_local_endpoint(current: dict[str, Any], edge_virtual_addr: str) -> dict[str, Any] | None:
    """The object with SuperEdge's local-endpoint annotations added where missing; None when both exist."""
    merged = copy.deepcopy(current)
    annotations = merged.setdefault("metadata", {}).setdefault("annotations", {})
    annotations.setdefault(contract.LOCAL_ENDPOINT_ANNOTATION, edge_virtual_addr)
    annotations.setdefault(contract.LOCAL_PORT_ANNOTATION, str(contract.LITE_APISERVER_PORT))
    return None if merged == current else merged


def _patch_if(ref: ObjectRef, current: dict[str, Any] | None, merged: dict[str, Any] | None, note: str) -> Action:
    if current is None:
        return Action(Verb.keep, ref, note="not in this cluster; nothing to change")
    if merged is None:
        return Action(Verb.keep, ref, note="already as SuperEdge needs it")
    return patch_action(ref, current, merged, note)


def _digest(chart_dir: Path, values_text: str, options: ComponentsOptions) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in chart_dir.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(chart_dir)).encode() + b"\0" + path.read_bytes())
    digest.update(values_text.encode())
    for name in options.values_files:
        try:
            digest.update(Path(name).read_bytes())
        except OSError as exc:
            raise ConfigError(f"cannot read --values {name}: {exc.strerror}", "pass an existing values file") from exc
    digest.update("\0".join(options.set_values).encode())
    return digest.hexdigest()


def _any(cluster: Cluster, kind: Kind, selector: str) -> bool:
    return next(iter(cluster.list_objects(kind, label_selector=selector, page_size=1)), None) is not None


def plan_components(cluster: Cluster, facts: ClusterFacts, public_address: str, remembered: dict[str, Any],
                    options: ComponentsOptions) -> ComponentsPlan:
    """Read the cluster and compute everything the phase would do (reads only; helm is asked its version)."""
    chart_dir = chart.locate_chart(options.chart_dir)
    helm = helm_version(chart.find_helm(options.helm))
    live = {role: cluster.get(ref) for role, ref in chart.existing_refs().items()}
    edge_info = live.get("edge-info")
    if edge_info is not None and not owned_by_release(edge_info) and not options.adopt:
        raise PreconditionFailed(
            "edge-system/edge-info exists but is not part of the superedge-addon release, so helm cannot manage it",
            "carry its keys into values (--set edgeInfo.hostConfig=..., edgeInfo.insecureRegistries=..., "
            "edgeInfo.nodeDelayDomain=...), delete the ConfigMap, and run addon again")
    ca_key = None
    if options.ca_key_file:
        ca_key = Path(options.ca_key_file).read_text()
    kube_proxy = cluster.get(KUBE_PROXY)
    existing = chart.existing_from_objects(live)
    adopted_port: int | None = None
    virtual_addr = options.edge_virtual_addr
    if options.adopt:
        # What connected edge nodes hold: the material, tunnel-cloud's NodePort, the address of their interface.
        existing = adopt_material.superedge_existing(cluster, live, existing)
        adopted_port = adopt_material.grpc_node_port(cluster.get(ObjectRef(SERVICE, "tunnel-cloud", chart.NAMESPACE)))
        virtual_addr = virtual_addr or adopt_material.edge_virtual_addr(edge_info)
    virtual_addr = virtual_addr or contract.DEFAULT_EDGE_VIRTUAL_ADDR
    chart_facts = ChartFacts(
        public_address=public_address, ca_pem=facts.ca_pem, service_cidr=facts.service_cidr,
        cluster_domain=facts.cluster_domain, kubernetes_service_ip=facts.kubernetes_service_ip,
        kube_proxy_daemonset=kube_proxy,
        kube_proxy_configmap=cluster.get(ObjectRef(CONFIG_MAP, "kube-proxy", "kube-system")) if kube_proxy else None,
        edge_info=edge_info,
        control_plane_nodes=any(_any(cluster, NODE, label) for label in CONTROL_PLANE_LABELS),
        tunnel_sans=options.tunnel_sans, edge_virtual_addr=virtual_addr, tunnel_node_port=adopted_port,
        image_repository=options.image_repository, image_tag=options.image_tag,
    )
    material = certs.ensure_material(facts.ca_pem, ca_key, existing, certificate_names(chart_facts),
                                     rotate=options.rotate)
    if options.adopt:
        material = adopt_material.keep_material(existing, material)
    computed = compute_values(chart_facts, material.material)
    values_text = values_yaml(computed.values)
    digest = _digest(chart_dir, values_text, options)
    node_port = (computed.values.get("tunnelCloud") or {}).get("nodePort") or _default_node_port(chart_dir)
    if node_port:
        holders = chart.node_port_users(cluster.list_objects(SERVICE), int(node_port))
        if holders:
            raise PreconditionFailed(f"NodePort {node_port} for tunnel-cloud is taken by {', '.join(holders)}",
                                     "choose another with --set tunnelCloud.nodePort=PORT (30000-32767)")

    actions = [plan_object(Desired({"apiVersion": "v1", "kind": "Namespace",
                                    "metadata": {"name": chart.NAMESPACE, "labels": dict(MANAGED_BY)}}),
                           cluster.get(ObjectRef(NAMESPACE, chart.NAMESPACE)))]
    for body in chart.crd_bodies(chart_dir):
        crd = _with_label(body)
        actions.append(plan_object(Desired(crd), cluster.get(ObjectRef(CRD, crd["metadata"]["name"]))))
    actions.append(_patch_if(KUBE_PROXY, kube_proxy, kube_proxy_affinity(kube_proxy) if kube_proxy else None,
                             "node affinity keeps the cloud kube-proxy off edge nodes"))
    for ref in (KUBERNETES_ENDPOINTS, KUBERNETES_SLICE):
        current = cluster.get(ref)
        merged = with_local_endpoint(current, virtual_addr) if current else None
        actions.append(_patch_if(ref, current, merged, "edge nodes reach the API server at their lite-apiserver"))
    release_exists = remembered.get("digest") == digest and release_deployed(cluster)
    notes = [*computed.notes, *material.notes]
    plan = ComponentsPlan(actions=actions, values=computed.values, digest=digest,
                          up_to_date=release_exists, helm=helm, chart_dir=chart_dir, notes=notes)
    if options.adopt:
        rendered = chart.manifest_objects(render(cluster, plan, options, facts.git_version))
        plan.edits = adopt.plan_adoption(cluster, rendered)
        plan.up_to_date = plan.up_to_date and not plan.edits
    return plan


def _default_node_port(chart_dir: Path) -> int | None:
    values = yamltext.load((chart_dir / "values.yaml").read_text()) or {}
    port = (values.get("tunnelCloud") or {}).get("nodePort")
    return int(port) if port else None


@contextlib.contextmanager
def _connection(cluster: Cluster) -> Iterator[tuple[str, str]]:
    """helm's --kubeconfig and --kube-context for the cluster and user the plugin talks to (a private file)."""
    with private_file(json.dumps(cluster.resolved.config), ".kubeconfig") as path:
        yield str(path), cluster.resolved.context_name


def install(cluster: Cluster, plan: ComponentsPlan, options: ComponentsOptions, notify: Notify) -> None:
    """``helm upgrade --install`` the release with the computed values, then the user's."""
    with private_file(values_yaml(plan.values)) as values_file, \
            _connection(cluster) as (kubeconfig, context):
        argv = upgrade_argv(plan.helm, plan.chart_dir, [values_file, *options.values_files],
                            set_values=options.set_values, wait=options.wait, timeout=options.timeout,
                            create_namespace=False, kubeconfig=kubeconfig, kube_context=context,
                            force_conflicts=options.adopt)
        notify("components", f"helm {plan.helm.version} upgrade --install {chart.RELEASE} in {chart.NAMESPACE}"
               + (" (waiting for the rollout)" if options.wait else ""))
        run_upgrade(argv, timeout=(options.timeout or 300) + 60)


def render(cluster: Cluster, plan: ComponentsPlan, options: ComponentsOptions, kube_version: str) -> str:
    """What the release would hold (``helm template``), for --dry-run."""
    with private_file(values_yaml(plan.values)) as values_file:
        argv = template_argv(plan.helm, plan.chart_dir, [values_file, *options.values_files],
                             set_values=options.set_values, kube_version=kube_version)
        return run_template(argv)


def uninstall(cluster: Cluster, helm_path: str | None, timeout: float | None, notify: Notify) -> bool:
    """``helm uninstall`` the release and wait for its objects to go; False when it was not installed."""
    helm = helm_version(chart.find_helm(helm_path))
    with _connection(cluster) as (kubeconfig, context):
        argv = uninstall_argv(helm, wait=True, timeout=timeout or 300, kubeconfig=kubeconfig,
                              kube_context=context)
        removed = run_uninstall(argv, timeout=(timeout or 300) + 60)
    notify("detach", f"helm uninstall {chart.RELEASE}: " + ("done" if removed else "no release installed"))
    return removed


def custom_resources_left(cluster: Cluster, crd: dict[str, Any]) -> int:
    """How many objects of a CRD's kind exist (0 when the CRD is gone)."""
    spec = crd.get("spec") or {}
    group = spec.get("group")
    plural = (spec.get("names") or {}).get("plural")
    versions = [v.get("name") for v in spec.get("versions") or [] if v.get("served")]
    if not (group and plural and versions):
        return 0
    kind = Kind(f"{group}/{versions[0]}", str((spec.get("names") or {}).get("kind")), str(plural), False)
    return sum(1 for _ in cluster.list_objects(kind, page_size=100))
