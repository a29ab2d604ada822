"""Planning addon's changes and their inverses (pure functions, no cluster)."""

from __future__ import annotations

import base64
import copy
from typing import Any

import jsonpatch
import pytest
import yaml

from kubectl_edge.addon.changes import RevertState, Verb, inverse_patch, plan_object, revert_state
from kubectl_edge.addon.prerequisites import ClusterFacts, Desired, WhenPresent, desired_prerequisites, dns_ip_for

FACTS = ClusterFacts(version_major=1, version_minor=37, git_version="v1.37.2", service_cidr="198.19.0.0/20",
                     dns_service_ip="198.19.0.10", cluster_domain="cluster.local", cgroup_driver="systemd",
                     ca_pem="-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
                     cluster_info_server="https://kubernetes.default:6443", control_plane_endpoint="198.18.0.1:6443")


def _configmap(data: dict[str, str] | None, rv: str = "42") -> dict[str, Any]:
    body: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap",
                            "metadata": {"name": "x", "namespace": "kube-system", "resourceVersion": rv}}
    if data is not None:
        body["data"] = data
    return body


def _desired(data: dict[str, str], when: WhenPresent, key: str | None = None) -> Desired:
    return Desired({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "kube-system"},
                    "data": data}, when, key)


def test_missing_object_is_created_and_present_one_kept() -> None:
    desired = _desired({"a": "1"}, WhenPresent.keep)
    assert plan_object(desired, None).verb is Verb.create
    assert plan_object(desired, _configmap({"a": "other"})).verb is Verb.keep


def test_only_missing_keys_are_added_with_a_resource_version_guard() -> None:
    current = _configmap({"a": "owner"})
    action = plan_object(_desired({"a": "ours", "b": "2"}, WhenPresent.add_missing_keys), current)
    assert action.verb is Verb.patch
    assert action.forward[0] == {"op": "test", "path": "/metadata/resourceVersion", "value": "42"}
    patched = jsonpatch.apply_patch(current, action.forward)
    assert patched["data"] == {"a": "owner", "b": "2"}
    assert jsonpatch.apply_patch(patched, action.inverse) == current


def test_adding_data_to_a_configmap_without_data() -> None:
    current = _configmap(None)
    action = plan_object(_desired({"b": "2"}, WhenPresent.add_missing_keys), current)
    patched = jsonpatch.apply_patch(current, action.forward)
    assert patched["data"] == {"b": "2"}
    assert jsonpatch.apply_patch(patched, action.inverse) == current


def test_yaml_fields_are_appended_keeping_the_owners_bytes() -> None:
    owner = "# the owner's comment\nkind: KubeletConfiguration\nclusterDomain: corp.example   # odd spacing\n"
    desired_text = yaml.safe_dump({"kind": "KubeletConfiguration", "clusterDomain": "cluster.local",
                                   "rotateCertificates": True})
    current = _configmap({"kubelet": owner})
    action = plan_object(_desired({"kubelet": desired_text}, WhenPresent.add_missing_yaml_fields, "kubelet"), current)
    assert action.verb is Verb.patch
    assert action.forward[0] == {"op": "test", "path": "/data/kubelet", "value": owner}
    patched = jsonpatch.apply_patch(current, action.forward)
    text = patched["data"]["kubelet"]
    assert text.startswith(owner)
    assert yaml.safe_load(text) == {"kind": "KubeletConfiguration", "clusterDomain": "corp.example",
                                    "rotateCertificates": True}
    assert jsonpatch.apply_patch(patched, action.inverse) == current


def test_yaml_without_final_newline_and_unusable_yaml() -> None:
    desired = _desired({"k": "a: 1\nb: 2\n"}, WhenPresent.add_missing_yaml_fields, "k")
    action = plan_object(desired, _configmap({"k": "a: 9"}))
    assert jsonpatch.apply_patch(_configmap({"k": "a: 9"}), action.forward)["data"]["k"] == "a: 9\nb: 2\n"
    assert plan_object(desired, _configmap({"k": "[not, a, mapping]"})).verb is Verb.keep
    assert plan_object(desired, _configmap({"k": "a: [unclosed"})).verb is Verb.keep
    # A flow-style document cannot take appended lines; it is left alone rather than rewritten.
    assert plan_object(desired, _configmap({"k": "{a: 1}"})).verb is Verb.keep


def test_revert_state_tells_ours_reverted_and_changed() -> None:
    current = _configmap({"a": "owner"})
    action = plan_object(_desired({"a": "x", "b": "2"}, WhenPresent.add_missing_keys), current)
    change = action.changes[0]
    patched = jsonpatch.apply_patch(current, action.forward)
    assert revert_state(change, patched) is RevertState.ours
    assert revert_state(change, current) is RevertState.reverted
    assert revert_state(change, None) is RevertState.reverted
    changed = copy.deepcopy(patched)
    changed["data"]["b"] = "the owner's own value"
    assert revert_state(change, changed) is RevertState.changed
    with pytest.raises(jsonpatch.JsonPatchTestFailed):
        jsonpatch.apply_patch(changed, inverse_patch([change]))


def test_prerequisites_follow_the_cluster_version() -> None:
    names = {(d.body["kind"], d.body["metadata"]["name"]) for d in desired_prerequisites(FACTS)}
    assert ("ConfigMap", "kubelet-config") in names
    assert ("Role", "kubeadm:kubelet-config") in names
    old = ClusterFacts(**{**FACTS.__dict__, "version_minor": 23, "git_version": "v1.23.4"})
    old_names = {(d.body["kind"], d.body["metadata"]["name"]) for d in desired_prerequisites(old)}
    assert ("ConfigMap", "kubelet-config-1.23") in old_names
    kubeadm = next(d for d in desired_prerequisites(old) if d.body["metadata"]["name"] == "kubeadm-config")
    assert yaml.safe_load(kubeadm.body["data"]["ClusterConfiguration"])["apiVersion"] == "kubeadm.k8s.io/v1beta3"
    for desired in desired_prerequisites(FACTS):
        assert desired.body["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "kubectl-edge"}


def test_cluster_info_is_shaped_as_kubeadm_writes_it() -> None:
    info = next(d for d in desired_prerequisites(FACTS) if d.body["metadata"]["name"] == "cluster-info")
    kubeconfig = yaml.safe_load(info.body["data"]["kubeconfig"])
    assert kubeconfig["clusters"] == [{"name": "", "cluster": {
        "server": "https://kubernetes.default:6443",
        "certificate-authority-data": base64.b64encode(FACTS.ca_pem.encode()).decode()}}]
    assert kubeconfig["users"] is None and kubeconfig["contexts"] is None and kubeconfig["current-context"] == ""


@pytest.mark.parametrize(("cidr", "ip"), [("10.96.0.0/12", "10.96.0.10"), ("198.19.0.0/20", "198.19.0.10"),
                                          ("fd00::/108", "fd00::a"), ("198.19.0.0/20,fd00::/108", "198.19.0.10")])
def test_dns_ip_is_the_tenth_address(cidr: str, ip: str) -> None:
    assert dns_ip_for(cidr) == ip
