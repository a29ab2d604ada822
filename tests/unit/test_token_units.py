"""Token commands without a cluster: address choice, the duties read from addon's findings, CA checks, output."""

from __future__ import annotations

import base64
import datetime
import hashlib

import pytest
import yaml

from edge_protocol import names
from edge_protocol import token as bootstrap_token
from edge_protocol.errors import TokenError
from kubectl_edge.bootstrap.joinline import (
    SOURCE_FLAG,
    SOURCE_KUBECONFIG,
    SOURCE_REMEMBERED,
    check_cluster_info_ca,
    choose_address,
)
from kubectl_edge.bootstrap.run import ListResult
from kubectl_edge.bootstrap.tokens import Duties, StoredToken, TokenSpec, parse_token_ids, secret_body
from kubectl_edge.cli.commands.token import _render_list
from kubectl_edge.errors import ConfigError, PreconditionFailed
from kubectl_edge.record import State

NOW = datetime.datetime(2030, 1, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)


def _ca_pem() -> tuple[str, str]:
    """A CA certificate and its pin, computed here with cryptography (independent of edge_protocol.capin)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(1).not_valid_before(NOW).not_valid_after(NOW + datetime.timedelta(days=1))
                   .sign(key, hashes.SHA256()))
    spki = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return certificate.public_bytes(serialization.Encoding.PEM).decode(), "sha256:" + hashlib.sha256(spki).hexdigest()


# --- which address the join line uses -------------------------------------------------------------------

def test_the_flag_wins_and_takes_the_servers_port_when_it_has_none() -> None:
    address, warnings = choose_address("203.0.113.7", "198.51.100.1:443", "https://10.0.0.1:6443")
    assert (address.host, address.port, address.source) == ("203.0.113.7", 6443, SOURCE_FLAG)
    assert warnings == []
    address, _ = choose_address("API.example.com:8443", None, "https://10.0.0.1:6443")
    assert (address.host, address.port, address.text) == ("api.example.com", 8443, "api.example.com:8443")


def test_then_the_address_addon_remembered() -> None:
    address, warnings = choose_address(None, "198.51.100.1", "https://127.0.0.1:6443")
    assert (address.text, address.source) == ("198.51.100.1:6443", SOURCE_REMEMBERED)
    assert warnings == []


@pytest.mark.parametrize(("server", "problem"), [
    ("https://127.0.0.1:6443", "a loopback address"),
    ("https://localhost:6443", "a loopback name"),
    ("https://10.1.2.3:6443", "a private address"),
    ("https://192.168.0.10:6443", "a private address"),
    ("https://[fd00::1]:6443", "a private address"),
    ("https://169.254.1.1:6443", "a link-local address"),
])
def test_then_the_kubeconfigs_server_with_a_warning_when_nodes_elsewhere_cannot_reach_it(server: str,
                                                                                           problem: str) -> None:
    address, warnings = choose_address(None, None, server)
    assert address.source == SOURCE_KUBECONFIG
    assert len(warnings) == 1 and problem in warnings[0] and "--public-address" in warnings[0]


@pytest.mark.parametrize("server", ["https://203.0.113.10:6443", "https://api.example.com", "https://[2001:db8::1]"])
def test_a_public_kubeconfig_server_needs_no_warning(server: str) -> None:
    address, warnings = choose_address(None, None, server)
    assert warnings == [] and address.source == SOURCE_KUBECONFIG
    assert address.port in (6443, 443)


def test_malformed_addresses_are_refused_with_where_they_came_from() -> None:
    with pytest.raises(ConfigError, match="--public-address: "):
        choose_address("http://x:1", None, "https://127.0.0.1:6443")
    with pytest.raises(ConfigError, match="remembered by addon"):
        choose_address(None, "[::1", "https://127.0.0.1:6443")


# --- who signs and cleans -------------------------------------------------------------------------------

def test_duties_come_from_addons_findings() -> None:
    assert Duties.from_state(State()) == Duties(None, None)
    assert Duties.from_state(State(preflight={"signer": False, "cleaner": True})) == Duties(False, True)
    assert Duties.from_state(State(preflight={"signer": None, "cleaner": "yes"})) == Duties(None, None)
    assert Duties(True, True).settled and not Duties(True, None).settled and not Duties(False, True).settled


# --- the CA in cluster-info must be the pinned one ------------------------------------------------------

def test_cluster_info_with_another_ca_is_refused() -> None:
    pem, pin = _ca_pem()
    other_pem, other_pin = _ca_pem()
    kubeconfig = yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "clusters": [
        {"name": "", "cluster": {"server": "https://k:6443",
                                 "certificate-authority-data": base64.b64encode(pem.encode()).decode()}}]})
    check_cluster_info_ca(kubeconfig, [pin])
    check_cluster_info_ca(kubeconfig, [other_pin, pin])  # one of several CAs of a rotation is enough
    check_cluster_info_ca(None, [other_pin])  # no cluster-info: nothing to compare
    with pytest.raises(PreconditionFailed) as refused:
        check_cluster_info_ca(kubeconfig, [other_pin])
    assert pin in refused.value.message and other_pin in refused.value.message
    assert other_pem != pem


# --- the Secret, parsing arguments, and output that never shows a secret ---------------------------------

def test_the_secret_body_is_kubeadms_with_kubectl_edges_labels() -> None:
    token = bootstrap_token.BootstrapToken("abcdef", "0123456789abcdef")
    body = secret_body(token, TokenSpec(ttl_seconds=3600, description="site 7"), NOW)
    assert body["type"] == "bootstrap.kubernetes.io/token"
    assert body["metadata"] == {"name": "bootstrap-token-abcdef", "namespace": "kube-system",
                                "labels": {names.MANAGED_BY_KEY: "kubectl-edge", names.PURPOSE_KEY: "join"}}
    assert body["stringData"]["expiration"] == "2030-01-01T13:00:00Z"
    assert body["stringData"]["description"] == "site 7"
    never = secret_body(token, TokenSpec(ttl_seconds=0), NOW)["stringData"]
    assert "expiration" not in never and "description" not in never


def test_delete_arguments_become_ids_without_repeating_a_secret() -> None:
    assert parse_token_ids(["abcdef", "abcdef.0123456789abcdef", "zzzzzz"]) == ["abcdef", "zzzzzz"]
    with pytest.raises(TokenError) as refused:
        parse_token_ids(["abcdef.0123456789ABCDEF"])
    assert "0123456789ABCDEF" not in refused.value.message


def _stored(token_id: str, secret: str, expiration: datetime.datetime | None, labels: dict[str, str]
            ) -> StoredToken:
    data = bootstrap_token.build_secret_data(f"{token_id}.{secret}", 0, NOW)
    if expiration:
        data["expiration"] = bootstrap_token.format_expiration(expiration)
    record = bootstrap_token.parse_secret_data(data, with_secret=True)
    return StoredToken(record, f"bootstrap-token-{token_id}", "uid", labels)


def test_list_output_shows_everything_but_the_secret() -> None:
    ours = _stored("aaaaaa", "secretsecret0001", NOW + datetime.timedelta(hours=23, minutes=30),
                   {names.MANAGED_BY_KEY: "kubectl-edge", names.PURPOSE_KEY: "join"})
    theirs = _stored("bbbbbb", "secretsecret0002", None, {})
    result = ListResult([ours, theirs], {"aaaaaa": True, "bbbbbb": False}, now=NOW)
    text = _render_list(result, wide=False)
    wide = _render_list(result, wide=True)
    document = result.to_json()
    for rendered in (text, wide, repr(document), repr(ours)):
        assert "secretsecret" not in rendered
    lines = text.splitlines()
    assert lines[0].split() == ["ID", "TTL", "EXPIRES", "USAGES", "DESCRIPTION", "EXTRA", "GROUPS"]
    assert lines[1].split()[:3] == ["aaaaaa", "23h", "2030-01-02T11:30:00Z"]
    assert lines[2].split()[:3] == ["bbbbbb", "<forever>", "<never>"]
    assert wide.splitlines()[1].split()[-2:] == ["yes", "kubectl-edge"]
    assert wide.splitlines()[2].split()[-2:] == ["no", "<none>"]
    assert document["tokens"][0]["purpose"] == "join" and document["tokens"][1]["purpose"] is None
    assert _stored("cccccc", "secretsecret0003", None, {names.MANAGED_BY_KEY: "kubectl-edge",
                                                         names.PURPOSE_KEY: "preflight-probe"}).is_probe
