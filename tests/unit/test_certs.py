"""kubectl_edge.addon.certs: what is made, what is kept, what chains to what."""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
import string

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kubectl_edge.addon import certs
from kubectl_edge.addon.certificates import KeyPair
from kubectl_edge.errors import ConfigError

NOW = datetime.datetime(2026, 11, 27, tzinfo=datetime.timezone.utc)
NAMES = certs.Names(namespace="edge-system", cluster_domain="cluster.local",
                    tunnel_hosts=("203.0.113.10", "edge.example.org"), edge_virtual_addr="169.254.20.11",
                    kubernetes_service_ip="198.19.0.1")


def make_ca(days: int = 3650, curve: bool = False) -> tuple[str, str]:
    """A cluster CA as kubeadm makes one (independent of the code under test)."""
    key = ec.generate_private_key(ec.SECP256R1()) if curve else rsa.generate_private_key(65537, 2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - datetime.timedelta(days=1)).not_valid_after(NOW + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return certificate.public_bytes(serialization.Encoding.PEM).decode(), key_pem


@pytest.fixture(scope="module")
def cluster_ca() -> tuple[str, str]:
    return make_ca()


def load(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode())


def chains(leaf: str, issuer: str) -> bool:
    try:
        load(leaf).verify_directly_issued_by(load(issuer))
    except Exception:
        return False
    return True


def sans(pem: str) -> tuple[set[str], set[str]]:
    value = load(pem).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return set(value.get_values_for_type(x509.DNSName)), {str(ip) for ip in value.get_values_for_type(x509.IPAddress)}


def key_matches(pair: KeyPair) -> bool:
    key = serialization.load_pem_private_key(pair.key.encode(), password=None)
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    return key.public_key().public_bytes(serialization.Encoding.DER, spki) == \
        load(pair.cert).public_key().public_bytes(serialization.Encoding.DER, spki)


def existing_of(material: certs.Material) -> certs.Existing:
    return certs.Existing(**dataclasses.asdict(material) | {
        "tunnel_cloud": material.tunnel_cloud, "tunnel_egress": material.tunnel_egress,
        "webhook": material.webhook, "lite_apiserver": material.lite_apiserver})


def test_without_the_ca_key_the_tunnel_gets_its_own_ca_and_there_is_no_lite_apiserver(cluster_ca):
    ca_pem, _ = cluster_ca
    result = certs.ensure_material(ca_pem, None, certs.Existing(), NAMES, now=NOW)
    material = result.material
    assert material.tunnel_ca != ca_pem
    assert load(material.tunnel_ca).extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    for pair in (material.tunnel_cloud, material.tunnel_egress):
        assert chains(pair.cert, material.tunnel_ca) and not chains(pair.cert, ca_pem)
        assert key_matches(pair)
    assert material.lite_apiserver is None
    assert any("--ca-key" in note for note in result.notes)
    assert set(result.generated) == {"tunnel", "webhook", "tunnel-token", "hmac-key"}


def test_tunnel_certificates_carry_superedge_names_and_the_public_host(cluster_ca):
    material = certs.ensure_material(cluster_ca[0], None, certs.Existing(), NAMES, now=NOW).material
    cloud = load(material.tunnel_cloud.cert)
    assert cloud.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "TunnelCloudService"
    assert cloud.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "superedge"
    dns, ips = sans(material.tunnel_cloud.cert)
    # tunnel-edge checks the name 127.0.0.1; the public address is added for other clients.
    assert {"tunnel.cloud.io", "tunnelcloud.superedge.io", "edge.example.org"} <= dns
    assert {"127.0.0.1", "203.0.113.10"} <= ips
    usages = cloud.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in usages
    egress_dns, egress_ips = sans(material.tunnel_egress.cert)
    assert "tunnel-cloud.edge-system.svc.cluster.local" in egress_dns and "127.0.0.1" in egress_ips
    assert load(material.tunnel_egress.cert).subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == \
        "TunnelAnpServer"


def test_webhook_certificate_names_the_service_and_chains_to_its_own_ca(cluster_ca):
    material = certs.ensure_material(cluster_ca[0], None, certs.Existing(), NAMES, now=NOW).material
    assert chains(material.webhook.cert, material.webhook_ca)
    assert not chains(material.webhook.cert, cluster_ca[0])
    dns, _ = sans(material.webhook.cert)
    assert "edge-health-admission.edge-system.svc" in dns
    assert key_matches(material.webhook)


def test_with_the_ca_key_everything_that_must_chains_to_the_cluster_ca(cluster_ca):
    ca_pem, ca_key = cluster_ca
    result = certs.ensure_material(ca_pem, ca_key, certs.Existing(), NAMES, now=NOW)
    material = result.material
    assert material.tunnel_ca == ca_pem
    assert chains(material.tunnel_cloud.cert, ca_pem) and chains(material.tunnel_egress.cert, ca_pem)
    assert material.lite_apiserver is not None
    assert chains(material.lite_apiserver.cert, ca_pem) and key_matches(material.lite_apiserver)
    dns, ips = sans(material.lite_apiserver.cert)
    assert {"127.0.0.1", "169.254.20.11", "198.19.0.1"} <= ips
    assert "kubernetes.default.svc" in dns
    assert "lite-apiserver" in result.generated


def test_an_ecdsa_cluster_ca_signs_too():
    ca_pem, ca_key = make_ca(curve=True)
    material = certs.ensure_material(ca_pem, ca_key, certs.Existing(), NAMES, now=NOW).material
    assert material.lite_apiserver is not None and chains(material.lite_apiserver.cert, ca_pem)


def test_keys_are_rsa_2048_in_pkcs1_pem(cluster_ca):
    material = certs.ensure_material(*cluster_ca, certs.Existing(), NAMES, now=NOW).material
    assert material.lite_apiserver is not None
    for pair in (material.tunnel_cloud, material.tunnel_egress, material.webhook, material.lite_apiserver):
        assert pair.key.startswith("-----BEGIN RSA PRIVATE KEY-----")
        key = serialization.load_pem_private_key(pair.key.encode(), password=None)
        assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048


def test_a_leaf_never_outlives_the_cluster_ca():
    ca_pem, ca_key = make_ca(days=400)
    material = certs.ensure_material(ca_pem, ca_key, certs.Existing(), NAMES, now=NOW).material
    assert material.lite_apiserver is not None
    ca_end = load(ca_pem).not_valid_after_utc
    for pem in (material.lite_apiserver.cert, material.tunnel_cloud.cert):
        assert load(pem).not_valid_after_utc <= ca_end
        assert load(pem).not_valid_before_utc >= load(ca_pem).not_valid_before_utc


def test_tokens_are_letters_and_digits_of_superedge_lengths(cluster_ca):
    material = certs.ensure_material(cluster_ca[0], None, certs.Existing(), NAMES, now=NOW).material
    alphabet = set(string.ascii_letters + string.digits)
    assert len(material.tunnel_token) == 32 and set(material.tunnel_token) <= alphabet
    assert len(material.hmac_key) == 16 and set(material.hmac_key) <= alphabet
    other = certs.ensure_material(cluster_ca[0], None, certs.Existing(), NAMES, now=NOW).material
    assert other.tunnel_token != material.tunnel_token


def test_a_second_run_keeps_everything(cluster_ca):
    ca_pem, ca_key = cluster_ca
    first = certs.ensure_material(ca_pem, ca_key, certs.Existing(), NAMES, now=NOW).material
    again = certs.ensure_material(ca_pem, ca_key, existing_of(first), NAMES, now=NOW + datetime.timedelta(days=90))
    assert again.material == first
    assert again.generated == ()


def test_kept_without_the_ca_key_including_lite_apiserver(cluster_ca):
    ca_pem, ca_key = cluster_ca
    first = certs.ensure_material(ca_pem, ca_key, certs.Existing(), NAMES, now=NOW).material
    again = certs.ensure_material(ca_pem, None, existing_of(first), NAMES, now=NOW)
    assert again.material == first and again.generated == ()


def test_only_what_is_missing_is_made(cluster_ca):
    ca_pem, ca_key = cluster_ca
    first = certs.ensure_material(ca_pem, ca_key, certs.Existing(), NAMES, now=NOW).material
    partial = dataclasses.replace(existing_of(first), webhook=None, hmac_key=None)
    result = certs.ensure_material(ca_pem, ca_key, partial, NAMES, now=NOW)
    assert set(result.generated) == {"webhook", "hmac-key"}
    assert result.material.tunnel_cloud == first.tunnel_cloud and result.material.tunnel_ca == first.tunnel_ca
    assert result.material.lite_apiserver == first.lite_apiserver
    assert result.material.tunnel_token == first.tunnel_token
    assert result.material.webhook != first.webhook and result.material.webhook_ca != first.webhook_ca
    assert chains(result.material.webhook.cert, result.material.webhook_ca)


def test_a_missing_tunnel_certificate_remakes_the_tunnel_set_so_it_still_chains(cluster_ca):
    ca_pem = cluster_ca[0]
    first = certs.ensure_material(ca_pem, None, certs.Existing(), NAMES, now=NOW).material
    result = certs.ensure_material(ca_pem, None, dataclasses.replace(existing_of(first), tunnel_egress=None), NAMES,
                                   now=NOW)
    material = result.material
    assert "tunnel" in result.generated
    assert chains(material.tunnel_cloud.cert, material.tunnel_ca)
    assert chains(material.tunnel_egress.cert, material.tunnel_ca)


def test_rotation_only_when_asked(cluster_ca):
    ca_pem, ca_key = cluster_ca
    first = certs.ensure_material(ca_pem, ca_key, certs.Existing(), NAMES, now=NOW).material
    result = certs.ensure_material(ca_pem, ca_key, existing_of(first), NAMES, rotate={"tunnel", "tunnel-token"},
                                   now=NOW)
    assert set(result.generated) == {"tunnel", "tunnel-token"}
    assert result.material.tunnel_cloud != first.tunnel_cloud
    assert result.material.tunnel_token != first.tunnel_token
    assert result.material.webhook == first.webhook and result.material.lite_apiserver == first.lite_apiserver


@pytest.mark.parametrize("damage", ["swapped key", "other issuer", "garbage"])
def test_an_unusable_certificate_is_made_again(cluster_ca, damage):
    ca_pem, ca_key = cluster_ca
    first = certs.ensure_material(ca_pem, ca_key, certs.Existing(), NAMES, now=NOW).material
    assert first.lite_apiserver is not None
    if damage == "swapped key":
        bad = KeyPair(first.lite_apiserver.cert, first.tunnel_cloud.key)
    elif damage == "other issuer":
        bad = first.webhook  # a certificate the cluster CA did not sign
    else:
        bad = KeyPair("not a certificate", "not a key")
    result = certs.ensure_material(ca_pem, ca_key, dataclasses.replace(existing_of(first), lite_apiserver=bad),
                                   NAMES, now=NOW)
    assert result.generated == ("lite-apiserver",)
    assert result.material.lite_apiserver is not None
    assert chains(result.material.lite_apiserver.cert, ca_pem) and key_matches(result.material.lite_apiserver)


def test_a_certificate_missing_a_required_name_is_made_again(cluster_ca):
    ca_pem, ca_key = cluster_ca
    first = certs.ensure_material(ca_pem, ca_key, certs.Existing(), NAMES, now=NOW).material
    moved = dataclasses.replace(NAMES, edge_virtual_addr="169.254.30.30")
    result = certs.ensure_material(ca_pem, ca_key, existing_of(first), moved, now=NOW)
    assert result.generated == ("lite-apiserver",)
    assert result.material.lite_apiserver is not None
    assert "169.254.30.30" in sans(result.material.lite_apiserver.cert)[1]
    assert any("169.254.30.30" in note for note in result.notes)


def test_certificates_close_to_expiry_are_renewed(cluster_ca):
    ca_pem = cluster_ca[0]
    first = certs.ensure_material(ca_pem, None, certs.Existing(), NAMES, now=NOW).material
    expiry = load(first.webhook.cert).not_valid_after_utc
    result = certs.ensure_material(ca_pem, None, existing_of(first), NAMES, now=expiry - datetime.timedelta(days=3))
    assert {"tunnel", "webhook"} <= set(result.generated)
    assert load(result.material.webhook.cert).not_valid_after_utc > expiry


def test_without_the_ca_key_an_invalid_lite_apiserver_certificate_is_dropped_with_a_note(cluster_ca):
    ca_pem, ca_key = cluster_ca
    first = certs.ensure_material(ca_pem, ca_key, certs.Existing(), NAMES, now=NOW).material
    other_ca = make_ca()
    result = certs.ensure_material(other_ca[0], None, existing_of(first), NAMES, now=NOW)
    assert result.material.lite_apiserver is None
    assert any("dropped" in note for note in result.notes)


def test_ip_names_are_compared_as_addresses(cluster_ca):
    names = dataclasses.replace(NAMES, tunnel_hosts=("2001:db8::1",))
    first = certs.ensure_material(cluster_ca[0], None, certs.Existing(), names, now=NOW).material
    assert str(ipaddress.ip_address("2001:db8::1")) in sans(first.tunnel_cloud.cert)[1]
    expanded = dataclasses.replace(NAMES, tunnel_hosts=("2001:0db8:0:0::1",))
    again = certs.ensure_material(cluster_ca[0], None, existing_of(first), expanded, now=NOW)
    assert again.generated == ()


def test_a_ca_key_of_another_ca_is_refused(cluster_ca):
    _, other_key = make_ca()
    with pytest.raises(ConfigError, match="does not belong"):
        certs.ensure_material(cluster_ca[0], other_key, certs.Existing(), NAMES, now=NOW)


def test_bad_inputs_are_refused_with_a_message(cluster_ca):
    with pytest.raises(ConfigError, match="not a PEM certificate"):
        certs.ensure_material("nonsense", None, certs.Existing(), NAMES, now=NOW)
    with pytest.raises(ConfigError, match="not an unencrypted PEM private key"):
        certs.ensure_material(cluster_ca[0], "nonsense", certs.Existing(), NAMES, now=NOW)
    with pytest.raises(ConfigError, match="cannot rotate everything"):
        certs.ensure_material(cluster_ca[0], None, certs.Existing(), NAMES, rotate={"everything"}, now=NOW)
