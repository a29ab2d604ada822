"""The pure parts of addon's fact gathering: the service range's sources, the dry-run answer, the guess."""

from __future__ import annotations

import ipaddress

import pytest
from certkit import self_signed_ca_pem

from kubectl_edge.addon.facts import (
    ServiceRange,
    contains,
    decide_service_range,
    guess_range,
    out_of_range_probe,
    parse_not_in_range,
)

NOT_IN_RANGE = ('Service "kubectl-edge-service-range-probe" is invalid: spec.clusterIPs: Invalid value: '
                '["70.19.0.1"]: failed to allocate IP 70.19.0.1: the provided IP (70.19.0.1) is not in the valid '
                'range. The range of valid IPs is 198.19.0.0/20')


def _never() -> str | None:
    raise AssertionError("the API server must not be asked when the cluster already told the range")


def test_a_service_cidr_object_wins_and_the_server_is_not_asked() -> None:
    decided, notes = decide_service_range("198.19.0.1", ["198.19.0.0/20"], "198.18.0.0/16", _never)
    assert decided == ServiceRange("198.19.0.0/20", "ServiceCIDR kubernetes")
    assert notes == []


def test_dual_stack_ranges_put_the_kubernetes_service_family_first() -> None:
    decided, _ = decide_service_range("fd00:10::1", ["198.19.0.0/20", "fd00:10::/108"], None, _never)
    assert decided.cidr == "fd00:10::/108,198.19.0.0/20"


def test_kubeadm_config_is_used_when_there_is_no_service_cidr_object() -> None:
    decided, notes = decide_service_range("198.19.0.1", [], "198.19.0.0/20", _never)
    assert decided == ServiceRange("198.19.0.0/20", "kubeadm-config")
    assert notes == []


def test_a_source_that_does_not_hold_the_cluster_ip_is_not_believed() -> None:
    decided, notes = decide_service_range("198.19.0.1", [], "198.18.0.0/24", lambda: "198.19.0.0/20")
    assert decided == ServiceRange("198.19.0.0/20", "the API server (dry run)")
    assert any("does not hold the kubernetes Service IP 198.19.0.1" in note for note in notes)


def test_the_server_named_range_is_used_before_any_guess() -> None:
    decided, notes = decide_service_range("198.19.0.1", [], None, lambda: "198.19.0.0/20")
    assert decided.cidr == "198.19.0.0/20" and not decided.guessed
    assert not any(note.startswith("GUESS") for note in notes)


def test_a_guess_is_announced_and_holds_the_cluster_ip() -> None:
    decided, notes = decide_service_range("198.19.0.1", [], None, lambda: None)
    assert decided.guessed
    assert contains([decided.cidr], "198.19.0.1")
    assert any(note.startswith("GUESS: service CIDR") and "198.19.0.1" in note for note in notes)


@pytest.mark.parametrize(("cluster_ip", "expected"), [
    ("10.96.0.1", "10.96.0.0/12"),        # kubeadm's default: the guess is exact
    ("198.19.0.1", "198.19.0.0/16"),      # the network address is aligned to /16 only, so no /12 around it
    ("198.19.0.17", "198.19.0.16/28"),
    ("fd00:10::1", "fd00:10::/108"),
])
def test_guess_takes_the_address_before_the_cluster_ip_as_the_network(cluster_ip: str, expected: str) -> None:
    assert guess_range(cluster_ip) == expected
    assert contains([expected], cluster_ip)


@pytest.mark.parametrize("cluster_ip", ["198.19.0.1", "10.96.0.1", "fd00:10::1"])
def test_the_probe_address_differs_from_the_cluster_ip_in_the_top_bit(cluster_ip: str) -> None:
    # A range holding both would have to be the whole address space, which no API server accepts.
    address, probe = ipaddress.ip_address(cluster_ip), ipaddress.ip_address(out_of_range_probe(cluster_ip))
    assert int(address) ^ int(probe) == 1 << (address.max_prefixlen - 1)
    assert not contains([guess_range(cluster_ip)], str(probe))


def test_parse_not_in_range_reads_the_api_servers_message() -> None:
    assert parse_not_in_range(NOT_IN_RANGE) == "198.19.0.0/20"
    assert parse_not_in_range("the range of valid IPs is fd00:10::/108") == "fd00:10::/108"
    assert parse_not_in_range("forbidden: User cannot create services") is None
    assert parse_not_in_range("The range of valid IPs is 999.1.1.1/8") is None


def test_the_chart_gets_the_cluster_ip_that_was_read_not_one_derived_from_a_guessed_range() -> None:
    from kubectl_edge.addon.values import ChartFacts, certificate_names

    # A guessed range whose first address is not the real ClusterIP (the /12 around 198.19.0.1).
    facts = ChartFacts(public_address="127.0.0.1:6443", ca_pem="", service_cidr="198.16.0.0/12",
                       kubernetes_service_ip="198.19.0.1")
    assert certificate_names(facts).kubernetes_service_ip == "198.19.0.1"
    derived = ChartFacts(public_address="127.0.0.1:6443", ca_pem="", service_cidr="198.19.0.0/20")
    assert certificate_names(derived).kubernetes_service_ip == "198.19.0.1"


def test_a_client_ca_that_is_the_serving_ca_needs_nothing_and_a_separate_one_is_passed_on() -> None:
    from kubectl_edge.addon.facts import separate_client_ca

    server, client = self_signed_ca_pem("server-ca"), self_signed_ca_pem("client-ca")
    assert separate_client_ca(server, server) == ""
    assert separate_client_ca(server + client, client) == ""   # the bundle given covers it
    assert separate_client_ca(server, None) == ""
    assert separate_client_ca(server, "not a certificate") == ""
    passed = separate_client_ca(server, client)
    assert passed.strip() == client.strip()


def test_the_kubelet_client_ca_prerequisites_exist_only_for_a_separate_client_ca() -> None:
    from kubectl_edge.addon.prerequisites import (
        BOOTSTRAP_GROUP,
        KUBELET_CLIENT_CA_KEY,
        KUBELET_CLIENT_CA_NAME,
        ClusterFacts,
        desired_prerequisites,
    )

    base = dict(version_major=1, version_minor=37, git_version="v1.37.2", service_cidr="198.19.0.0/20",
                dns_service_ip="198.19.0.10", cluster_domain="cluster.local", cgroup_driver="systemd", ca_pem="",
                cluster_info_server="https://127.0.0.1:6443", control_plane_endpoint="127.0.0.1:6443")
    plain = [d.body["metadata"]["name"] for d in desired_prerequisites(ClusterFacts(**base))]  # type: ignore[arg-type]
    assert not any(KUBELET_CLIENT_CA_NAME in name for name in plain)
    client = self_signed_ca_pem("client-ca")
    split = desired_prerequisites(ClusterFacts(**base, kubelet_client_ca_pem=client))  # type: ignore[arg-type]
    extra = {(d.body["kind"], d.body["metadata"]["name"]): d.body for d in split[len(plain):]}
    assert extra[("ConfigMap", KUBELET_CLIENT_CA_NAME)]["data"] == {KUBELET_CLIENT_CA_KEY: client}
    role = extra[("Role", f"kubectl-edge:{KUBELET_CLIENT_CA_NAME}")]
    assert role["rules"][0]["resourceNames"] == [KUBELET_CLIENT_CA_NAME] and role["rules"][0]["verbs"] == ["get"]
    binding = extra[("RoleBinding", f"kubectl-edge:{KUBELET_CLIENT_CA_NAME}")]
    assert {s["name"] for s in binding["subjects"]} == {BOOTSTRAP_GROUP, "system:nodes"}
