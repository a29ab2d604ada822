"""A cluster as SuperEdge's ``edgeadm addon edge-apps`` leaves it, made through the API (no SuperEdge binary).

Names, labels and keys follow SuperEdge's edgeadm (superedge/edgeadm 18d354c, described in
/work/shared/reference/superedge-edgeadm.md §1-§2): its components in edge-system without any ownership
metadata, edge-info with the lite-apiserver key in the ConfigMap, cluster-info's server rewritten to
``https://kubernetes.default:6443``, the bootstrap RBAC widened and stripped of its marks, and
``kubelet-config-1.22`` with its Role and RoleBinding. The pod specs are abridged: nothing runs them here.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import secrets
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from clusterkit import admin_request
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

NS = "edge-system"
BOOTSTRAP_GROUP = "system:bootstrappers:kubeadm:default-node-token"
MASTER = {"nodeSelector": {"node-role.kubernetes.io/master": ""},
          "tolerations": [{"key": "node-role.kubernetes.io/master", "operator": "Exists", "effect": "NoSchedule"}]}
EDGE = {"nodeSelector": {"superedge.io/node-edge": "enable"}}
PATHS = {
    "Namespace": "/api/v1/namespaces", "ServiceAccount": "/api/v1/namespaces/{ns}/serviceaccounts",
    "ConfigMap": "/api/v1/namespaces/{ns}/configmaps", "Secret": "/api/v1/namespaces/{ns}/secrets",
    "Service": "/api/v1/namespaces/{ns}/services", "Endpoints": "/api/v1/namespaces/{ns}/endpoints",
    "Deployment": "/apis/apps/v1/namespaces/{ns}/deployments", "DaemonSet": "/apis/apps/v1/namespaces/{ns}/daemonsets",
    "Role": "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles",
    "RoleBinding": "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings",
    "ClusterRole": "/apis/rbac.authorization.k8s.io/v1/clusterroles",
    "ClusterRoleBinding": "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
    "MutatingWebhookConfiguration": "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations",
}
API_VERSIONS = {"Deployment": "apps/v1", "DaemonSet": "apps/v1",
                "MutatingWebhookConfiguration": "admissionregistration.k8s.io/v1"}


@dataclass
class EdgeadmState:
    """What a test checks adoption kept."""

    token: str
    hmac_key: str
    cloud_cert: str
    webhook_ca: str
    lite_cert: str
    node_ports: dict[str, int]
    cluster_ip: str


def _random(length: int) -> str:
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(length))


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _pem_key(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption()).decode()


def _leaf(cn: str, dns: list[str], ips: list[str], issuer: x509.Certificate | None,
          issuer_key: rsa.RSAPrivateKey | None, ca: bool = False) -> tuple[str, str, rsa.RSAPrivateKey]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(x509.NameOID.ORGANIZATION_NAME, "superedge"),
                         x509.NameAttribute(x509.NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(subject)
               .issuer_name(issuer.subject if issuer else subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=3650))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    names: list[x509.GeneralName] = [x509.DNSName(n) for n in dns] + [x509.IPAddress(ipaddress.ip_address(i))
                                                                       for i in ips]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    cert = builder.sign(issuer_key or key, hashes.SHA256())
    return cert.public_bytes(serialization.Encoding.PEM).decode(), _pem_key(key), key


def _post(cluster: Any, body: dict[str, Any]) -> dict[str, Any]:
    kind = body["kind"]
    body.setdefault("apiVersion", API_VERSIONS.get(kind, "rbac.authorization.k8s.io/v1" if "Role" in kind else "v1"))
    path = PATHS[kind].format(ns=body["metadata"].get("namespace", ""))
    answer = admin_request(cluster, path, method="POST", body=body)
    assert answer.status == 201, (kind, body["metadata"]["name"], answer.status, answer.body)
    return dict(answer.body)


def _put(cluster: Any, path: str, body: dict[str, Any]) -> None:
    answer = admin_request(cluster, path, method="PUT", body=body)
    assert answer.status == 200, (path, answer.status, answer.body)


def _pod(name: str, image: str, placement: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"metadata": {"labels": extra.pop("labels")},
            "spec": {**placement, "containers": [{"name": name, "image": image, **extra.pop("container", {})}],
                     **extra}}


def _workload(kind: str, name: str, labels: dict[str, str], pod: dict[str, Any],
              meta_labels: dict[str, str] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"selector": {"matchLabels": labels}, "template": pod}
    if kind == "Deployment":
        spec["replicas"] = 1
    return {"kind": kind, "metadata": {"name": name, "namespace": NS, "labels": meta_labels or labels}, "spec": spec}


def _rbac(cluster: Any, name: str, rules: list[dict[str, Any]], service_account: str | None = None,
          binding_name: str | None = None, labels: dict[str, str] | None = None,
          binding_annotations: dict[str, str] | None = None) -> None:
    _post(cluster, {"kind": "ClusterRole", "metadata": {"name": name, **({"labels": labels} if labels else {})},
                    "rules": rules})
    metadata: dict[str, Any] = {"name": binding_name or name}
    if labels:
        metadata["labels"] = labels
    if binding_annotations:
        metadata["annotations"] = binding_annotations
    _post(cluster, {"kind": "ClusterRoleBinding", "metadata": metadata,
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
                    "subjects": [{"kind": "ServiceAccount", "name": service_account or name, "namespace": NS}]})


def make(cluster: Any, image: str = "superedge.tencentcloudcr.com/superedge") -> EdgeadmState:
    """Leave the cluster as ``edgeadm addon edge-apps --ca.cert ... --ca.key ...`` does (kubeadm flavour)."""
    ca = x509.load_pem_x509_certificate(Path(cluster.ca_cert).read_bytes())
    ca_key = serialization.load_pem_private_key(Path(cluster.ca_key).read_bytes(), password=None)
    assert isinstance(ca_key, rsa.RSAPrivateKey)
    ca_pem = Path(cluster.ca_cert).read_text()
    kubernetes = admin_request(cluster, "/api/v1/namespaces/default/services/kubernetes").body
    cluster_ip = kubernetes["spec"]["clusterIP"]
    token, hmac_key = _random(32), _random(16)
    tag = "v0.8.0"

    _post(cluster, {"kind": "Namespace", "metadata": {"name": NS}})

    # --- bootstrap plumbing (edgeadm's preflight) ------------------------------------------------------
    info_path = "/api/v1/namespaces/kube-public/configmaps/cluster-info"
    kubeconfig = {"apiVersion": "v1", "kind": "Config", "preferences": {}, "contexts": None, "users": None,
                  "current-context": "",
                  "clusters": [{"name": "", "cluster": {"server": "https://kubernetes.default:6443",
                                                        "certificate-authority-data": _b64(ca_pem)}}]}
    info = admin_request(cluster, info_path)
    if info.status == 200:
        body = info.body
        body["data"]["kubeconfig"] = yaml.safe_dump(kubeconfig)
        _put(cluster, info_path, body)
    else:
        _post(cluster, {"kind": "ConfigMap", "metadata": {"name": "cluster-info", "namespace": "kube-public"},
                        "data": {"kubeconfig": yaml.safe_dump(kubeconfig)}})
    role_path = "/apis/rbac.authorization.k8s.io/v1/namespaces/kube-system/roles/kubeadm:nodes-kubeadm-config"
    role = admin_request(cluster, role_path)
    widened = [{"apiGroups": ["*"], "resources": ["configmaps"], "resourceNames": ["kubeadm-config"],
                "verbs": ["get", "list", "watch"]}]
    if role.status == 200:
        _put(cluster, role_path, {**role.body, "rules": widened})
    else:
        _post(cluster, {"kind": "Role", "metadata": {"name": "kubeadm:nodes-kubeadm-config",
                                                     "namespace": "kube-system"}, "rules": widened})
    bootstrapper_path = "/apis/rbac.authorization.k8s.io/v1/clusterroles/system:node-bootstrapper"
    bootstrapper = admin_request(cluster, bootstrapper_path).body
    metadata = bootstrapper["metadata"]
    metadata.pop("annotations", None)
    metadata.get("labels", {}).pop("kubernetes.io/bootstrapping", None)
    bootstrapper["rules"] = [{"apiGroups": ["certificates.k8s.io"], "resources": ["certificatesigningrequests"],
                              "verbs": ["get", "list", "watch", "create"]}]
    _put(cluster, bootstrapper_path, bootstrapper)
    kubelet = {"apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
               "clusterDNS": ["10.96.0.10"], "clusterDomain": "cluster.local", "cgroupDriver": "cgroupfs"}
    _post(cluster, {"kind": "ConfigMap", "metadata": {
        "name": "kubelet-config-1.22", "namespace": "kube-system",
        "annotations": {"kubeadm.kubernetes.io/component-config.hash": "sha256:" + "0" * 64}},
        "data": {"kubelet": yaml.safe_dump(kubelet)}})
    _post(cluster, {"kind": "Role", "metadata": {"name": "kubeadm:kubelet-config-1.22", "namespace": "kube-system"},
                    "rules": [{"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["kubelet-config-1.22"],
                               "verbs": ["get"]}]})
    _post(cluster, {"kind": "RoleBinding", "metadata": {"name": "kubeadm:kubelet-config-1.22",
                                                        "namespace": "kube-system"},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                "name": "kubeadm:kubelet-config-1.22"},
                    "subjects": [{"kind": "Group", "name": "system:nodes"},
                                 {"kind": "Group", "name": BOOTSTRAP_GROUP}]})

    # --- tunnel ------------------------------------------------------------------------------------------
    cloud_crt, cloud_key, _ = _leaf("TunnelCloudService", ["tunnel.cloud.io", "tunnelcloud.superedge.io"],
                                    ["127.0.0.1"], ca, ca_key)
    egress_crt, egress_key, _ = _leaf("TunnelAnpServer", ["tunnel-cloud.edge-system.svc.cluster.local"],
                                      ["127.0.0.1"], ca, ca_key)
    _rbac(cluster, "tunnel-cloud", [
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "update"]},
        {"apiGroups": [""], "resources": ["services", "pods", "nodes"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": [""], "resources": ["endpoints"], "verbs": ["get", "list", "watch", "create", "update"]}])
    _post(cluster, {"kind": "ServiceAccount", "metadata": {"name": "tunnel-cloud", "namespace": NS}})
    _post(cluster, {"kind": "ConfigMap", "metadata": {"name": "tunnel-cloud-conf", "namespace": NS},
                    "data": {"mode.toml": "[mode]\n  [mode.cloud]\n    [mode.cloud.stream]\n"
                                          "      [mode.cloud.stream.server]\n        grpc_port = 9000\n"}})
    _post(cluster, {"kind": "ConfigMap", "metadata": {"name": "tunnel-cloud-token", "namespace": NS},
                    "data": {"token": f"default:{token}\n"}})
    _post(cluster, {"kind": "Secret", "type": "Opaque", "metadata": {"name": "tunnel-cloud-cert", "namespace": NS},
                    "data": {"cloud.crt": _b64(cloud_crt), "cloud.key": _b64(cloud_key),
                             "egress.crt": _b64(egress_crt), "egress.key": _b64(egress_key)}})
    _post(cluster, {"kind": "ConfigMap", "metadata": {"name": "tunnel-nodes", "namespace": NS}, "data": {"hosts": ""}})
    _post(cluster, {"kind": "ConfigMap", "metadata": {"name": "tunnel-cache", "namespace": NS},
                    "data": {"edge_nodes": "", "cloud_nodes": "", "services": "", "user_services": ""}})
    service = _post(cluster, {"kind": "Service", "metadata": {"name": "tunnel-cloud", "namespace": NS}, "spec": {
        "type": "NodePort", "selector": {"app": "tunnel-cloud"},
        "ports": [{"name": name, "port": port, "protocol": "TCP", "targetPort": port}
                  for name, port in (("grpc", 9000), ("ssh", 22), ("tunnel-metrics", 6000), ("egress", 8000),
                                     ("http-proxy", 8080))]}})
    node_ports = {p["name"]: p["nodePort"] for p in service["spec"]["ports"]}
    _post(cluster, _workload("Deployment", "tunnel-cloud", {"app": "tunnel-cloud"}, _pod(
        "tunnel-cloud", "superedge.tencentcloudcr.com/superedge/tunnel:v0.8.0", MASTER,
        labels={"app": "tunnel-cloud"}, serviceAccountName="tunnel-cloud",
        container={"command": ["/usr/local/bin/tunnel"], "args": ["--m=cloud", "--c=/etc/tunnel/conf/mode.toml"]})))
    _post(cluster, {"kind": "ConfigMap", "metadata": {"name": "tunnel-edge-conf", "namespace": NS},
                    "data": {"mode.toml": f'[mode]\n  [mode.edge]\n    [mode.edge.stream]\n'
                                          f'      [mode.edge.stream.client]\n        token = "{token}"\n'
                                          f'        dns = "127.0.0.1"\n'
                                          f'        server_name = "198.18.0.1:{node_ports["grpc"]}"\n'}})
    _post(cluster, {"kind": "Secret", "type": "Opaque", "metadata": {"name": "tunnel-edge-cert", "namespace": NS},
                    "data": {"ca.crt": _b64(ca_pem)}})
    _post(cluster, _workload("DaemonSet", "tunnel-edge", {"app": "tunnel-edge"}, _pod(
        "tunnel-edge", "superedge.tencentcloudcr.com/superedge/tunnel:v0.8.0", EDGE, labels={"app": "tunnel-edge"},
        hostNetwork=True, container={"args": ["--m=edge", "--c=/etc/tunnel/conf/mode.toml"]})))

    # --- edge-health and its webhook ---------------------------------------------------------------------
    _rbac(cluster, "edge-health", [{"apiGroups": [""], "resources": ["pods", "nodes", "nodes/proxy"],
                                    "verbs": ["get", "list", "watch", "update", "patch"]},
                                   {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}])
    _post(cluster, {"kind": "ServiceAccount", "metadata": {"name": "edge-health", "namespace": NS}})
    _post(cluster, _workload("DaemonSet", "edge-health", {"name": "edge-health"}, _pod(
        "edge-health", f"{image}/edge-health:{tag}", EDGE, labels={"name": "edge-health"},
        serviceAccountName="edge-health")))
    _post(cluster, {"kind": "ConfigMap", "metadata": {"name": "hmac-config", "namespace": NS,
                                                      "labels": {"name": "edge-health"}},
                    "data": {"hmackey": hmac_key}})
    webhook_ca, _, webhook_ca_key = _leaf("edge-health-admission-ca", [], [], None, None, ca=True)
    webhook_ca_cert = x509.load_pem_x509_certificate(webhook_ca.encode())
    server_crt, server_key, _ = _leaf("edge-health-admission", ["edge-health-admission.edge-system.svc"], [],
                                      webhook_ca_cert, webhook_ca_key)
    _rbac(cluster, "edge-health-admission", [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["*"]}])
    _post(cluster, {"kind": "ServiceAccount", "metadata": {"name": "edge-health-admission", "namespace": NS}})
    _post(cluster, {"kind": "Secret", "type": "Opaque",
                    "metadata": {"name": "validate-admission-control-server-certs", "namespace": NS},
                    "data": {"server.crt": _b64(server_crt), "server.key": _b64(server_key)}})
    _post(cluster, _workload("Deployment", "edge-health-admission", {"k8s-app": "edge-health-admission"}, _pod(
        "edge-health-admission", f"{image}/edge-health-admission:{tag}", MASTER,
        labels={"k8s-app": "edge-health-admission"}, serviceAccountName="edge-health-admission")))
    _post(cluster, {"kind": "Service", "metadata": {"name": "edge-health-admission", "namespace": NS}, "spec": {
        "selector": {"k8s-app": "edge-health-admission"}, "ports": [{"port": 443, "targetPort": 8443}]}})
    hook = {"admissionReviewVersions": ["v1beta1"], "failurePolicy": "Ignore", "matchPolicy": "Exact",
            "sideEffects": "None", "timeoutSeconds": 5}
    _post(cluster, {"kind": "MutatingWebhookConfiguration", "metadata": {"name": "edge-health-admission"},
                    "webhooks": [{**hook, "name": f"{what}.k8s.io",
                                  "clientConfig": {"caBundle": _b64(webhook_ca), "service": {
                                      "namespace": NS, "name": "edge-health-admission", "path": f"/{path}"}},
                                  "rules": [{"operations": ["UPDATE"], "apiGroups": [""], "apiVersions": ["v1"],
                                             "resources": [resource]}]}
                                 for what, path, resource in (("node-taint", "node-taint", "nodes"),
                                                              ("endpoint", "endpoint", "endpoints"))]})

    # --- service-group -----------------------------------------------------------------------------------
    _rbac(cluster, "application-grid-wrapper", [{"apiGroups": [""], "resources": ["endpoints", "services"],
                                                 "verbs": ["get", "list", "watch"]}])
    _post(cluster, {"kind": "ServiceAccount", "metadata": {"name": "application-grid-wrapper", "namespace": NS}})
    _post(cluster, {"kind": "ConfigMap", "metadata": {"name": "application-grid-wrapper", "namespace": NS,
                                                      "labels": {"app": "application-grid-wrapper"}},
                    "data": {"kubeconfig.conf": "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n"
                                                "    server: https://169.254.20.11:51003\n  name: default\n"}})
    _post(cluster, _workload("DaemonSet", "application-grid-wrapper-node",
                             {"k8s-app": "application-grid-wrapper-node"}, _pod(
        "application-grid-wrapper", f"{image}/application-grid-wrapper:{tag}", EDGE,
        labels={"k8s-app": "application-grid-wrapper-node"}, hostNetwork=True,
        serviceAccountName="application-grid-wrapper"),
        meta_labels={"k8s-app": "application-grid-wrapper-node", "addonmanager.kubernetes.io/mode": "Reconcile"}))
    _rbac(cluster, "application-grid-controller", [{"apiGroups": ["superedge.io"], "resources": ["*"],
                                                    "verbs": ["*"]}])
    _post(cluster, {"kind": "ServiceAccount", "metadata": {"name": "application-grid-controller", "namespace": NS}})
    _post(cluster, _workload("Deployment", "application-grid-controller", {"app": "application-grid-controller"}, _pod(
        "application-grid-controller", f"{image}/application-grid-controller:{tag}", MASTER,
        labels={"app": "application-grid-controller"}, serviceAccountName="application-grid-controller")))

    # --- edge-coredns ------------------------------------------------------------------------------------
    defaults = {"kubernetes.io/bootstrapping": "rbac-defaults"}
    _rbac(cluster, "system:edge-coredns", [{"apiGroups": [""], "resources": ["endpoints", "services", "pods",
                                                                            "namespaces"], "verbs": ["list", "watch"]}],
          service_account="edge-coredns", labels=defaults,
          binding_annotations={"rbac.authorization.kubernetes.io/autoupdate": "true"})
    _post(cluster, {"kind": "ServiceAccount", "metadata": {"name": "edge-coredns", "namespace": NS}})
    _post(cluster, {"kind": "ConfigMap", "metadata": {"name": "edge-coredns", "namespace": NS},
                    "data": {"Corefile": ".:53 {\n    errors\n    bind 169.254.20.11\n}\n"}})
    _post(cluster, _workload("DaemonSet", "edge-coredns", {"k8s-app": "edge-coredns"}, _pod(
        "coredns", f"{image}/coredns:1.6.9", EDGE, labels={"k8s-app": "edge-coredns"}, hostNetwork=True,
        dnsPolicy="Default", serviceAccountName="edge-coredns")))

    # --- kube-proxy for edge nodes, default/kubernetes -------------------------------------------------
    proxy_cm = admin_request(cluster, "/api/v1/namespaces/kube-system/configmaps/kube-proxy")
    if proxy_cm.status == 200:
        data = dict(proxy_cm.body.get("data") or {})
        if "kubeconfig.conf" in data:
            data["kubeconfig.conf"] = data["kubeconfig.conf"].replace(cluster.server, "http://127.0.0.1:51006")
        _post(cluster, {"kind": "ConfigMap", "metadata": {"name": "edge-kube-proxy", "namespace": NS}, "data": data})
        _post(cluster, {"kind": "ServiceAccount", "metadata": {"name": "kube-proxy", "namespace": NS}})
        daemonset = admin_request(cluster, "/apis/apps/v1/namespaces/kube-system/daemonsets/kube-proxy").body
        pod = daemonset["spec"]["template"]
        pod["spec"].pop("priorityClassName", None)
        for volume in pod["spec"].get("volumes") or []:
            if volume.get("name") == "kube-proxy":
                volume["configMap"]["name"] = "edge-kube-proxy"
        pod["spec"]["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [{"key": "superedge.io/node-edge", "operator": "Exists"}]}]}}}
        _post(cluster, {"kind": "DaemonSet", "metadata": {"name": "edge-kube-proxy", "namespace": NS,
                                                          "labels": daemonset["metadata"].get("labels") or {}},
                        "spec": {"selector": daemonset["spec"]["selector"], "template": pod}})
        path = "/apis/apps/v1/namespaces/kube-system/daemonsets/kube-proxy"
        daemonset["spec"]["template"]["spec"]["affinity"] = {"nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [
                {"key": "superedge.io/node-edge", "operator": "DoesNotExist"}]}]}}}
        _put(cluster, path, admin_request(cluster, path).body | {"spec": daemonset["spec"]})
    endpoints_path = "/api/v1/namespaces/default/endpoints/kubernetes"
    endpoints = admin_request(cluster, endpoints_path)
    if endpoints.status == 200:
        copy_body = {"kind": "Endpoints", "metadata": {"name": "kubernetes-no-edge", "namespace": "default"},
                     "subsets": endpoints.body.get("subsets")}
        _post(cluster, copy_body)
        body = endpoints.body
        body["metadata"]["annotations"] = {"superedge.io/local-endpoint": "169.254.20.11",
                                           "superedge.io/local-port": "51003"}
        _put(cluster, endpoints_path, body)

    # --- what joining nodes read -------------------------------------------------------------------------
    lite_crt, lite_key, _ = _leaf("LiteApiServer", ["127.0.0.1"], ["127.0.0.1", cluster_ip, "169.254.20.11"],
                                  ca, ca_key)
    _post(cluster, {"kind": "Role", "metadata": {"name": "lite-apiserver", "namespace": NS},
                    "rules": [{"apiGroups": ["*"], "resources": ["configmaps"], "resourceNames": ["edge-info"],
                               "verbs": ["get", "list", "watch"]}]})
    _post(cluster, {"kind": "RoleBinding", "metadata": {"name": "lite-apiserver", "namespace": NS},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "lite-apiserver"},
                    "subjects": [{"kind": "Group", "name": BOOTSTRAP_GROUP}]})
    _post(cluster, {"kind": "ConfigMap", "metadata": {"name": "edge-info", "namespace": NS}, "data": {
        "kube-api-ca.crt": ca_pem, "kube-api-cluster-ip": cluster_ip, "lite-apiserver.crt": lite_crt,
        "lite-apiserver.key": lite_key, "edge-virtual-addr": "169.254.20.11",
        "tls.json": '[{"key":"/var/lib/kubelet/pki/kubelet-client-current.pem",'
                    '"cert":"/var/lib/kubelet/pki/kubelet-client-current.pem"}]',
        "lite-apiserver.yaml": "apiVersion: v1\nkind: Pod\nmetadata:\n  name: lite-apiserver\n",
        "host-config": "198.18.0.5 registry.example.test\n"}})
    return EdgeadmState(token=token, hmac_key=hmac_key, cloud_cert=cloud_crt, webhook_ca=webhook_ca,
                        lite_cert=lite_crt, node_ports=node_ports, cluster_ip=cluster_ip)
