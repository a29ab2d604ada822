"""The one CA reader: --ca-cert before the kubeconfig, and a clear ConfigError for every CA it cannot use."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from certkit import self_signed_ca_pem
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from kubectl_edge.cluster.ca import load_ca, read_ca
from kubectl_edge.cluster.kubeconfig import ResolvedConfig
from kubectl_edge.errors import ConfigError

PEM = self_signed_ca_pem()
OTHER = self_signed_ca_pem("another CA")


def _resolved(**cluster: Any) -> ResolvedConfig:
    config = {"clusters": [{"name": "selected", "cluster": {"server": "https://127.0.0.1:6443", **cluster}}],
              "users": [{"name": "selected", "user": {}}]}
    return ResolvedConfig(config=config, context_name="edge-ctx", server="https://127.0.0.1:6443",
                          namespace="default", sources=())


def _der(pem: str) -> bytes:
    return x509.load_pem_x509_certificate(pem.encode()).public_bytes(serialization.Encoding.DER)


def _b64(text: str | bytes) -> str:
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


# --- what is read, and from where ------------------------------------------------------------------------

def test_the_file_wins_over_the_kubeconfig(tmp_path: Path) -> None:
    ca_file = tmp_path / "ca.crt"
    ca_file.write_text(PEM)
    ca = read_ca(_resolved(**{"certificate-authority-data": "not base64 at all!"}), str(ca_file))
    assert ca.pem == PEM
    assert ca.source == f"--ca-cert {ca_file}"
    assert ca.certificates == (_der(PEM),)


def test_kubeconfig_data_before_its_file_and_text_around_blocks_is_ignored(tmp_path: Path) -> None:
    bundle = f"# the old CA\n{PEM}\nsome openssl -text output\n{OTHER}"
    wrapped = "\n".join(_b64(bundle)[i:i + 76] for i in range(0, len(_b64(bundle)), 76))
    ca = read_ca(_resolved(**{"certificate-authority-data": wrapped,
                              "certificate-authority": str(tmp_path / "absent.crt")}))
    assert ca.source == "the kubeconfig"
    assert ca.certificates == (_der(PEM), _der(OTHER))
    (tmp_path / "ca.crt").write_text(OTHER)
    from_file = read_ca(_resolved(**{"certificate-authority": str(tmp_path / "ca.crt")}))
    assert from_file.certificates == (_der(OTHER),) and from_file.source == "the kubeconfig"


def test_no_ca_anywhere() -> None:
    assert load_ca(_resolved()) is None
    assert load_ca(_resolved(**{"certificate-authority-data": ""})) is None
    with pytest.raises(ConfigError) as refused:
        read_ca(_resolved())
    assert refused.value.message == "the kubeconfig carries no CA certificate for the cluster"
    assert refused.value.hint is not None and "--ca-cert FILE" in refused.value.hint


# --- what is refused, with what message ------------------------------------------------------------------

def test_an_unreadable_ca_cert_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.crt"
    with pytest.raises(ConfigError) as refused:
        read_ca(_resolved(**{"certificate-authority-data": _b64(PEM)}), str(missing))
    assert refused.value.message == f"cannot read --ca-cert {missing}: No such file or directory"
    assert refused.value.hint is not None and "--ca-cert FILE" in refused.value.hint
    with pytest.raises(ConfigError, match=r"cannot read --ca-cert .*: Is a directory"):
        read_ca(_resolved(), str(tmp_path))


@pytest.mark.parametrize(("content", "problem"), [
    (b"", "no certificate found"),
    (b"hello", "no certificate found"),
    (b"\xff\xfe\x00garbage", "no certificate found"),
    (b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n", "not valid base64"),
    (b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "not a certificate"),
    (PEM.encode()[:-30], "no matching END CERTIFICATE line"),
])
def test_a_ca_cert_file_without_a_usable_certificate(tmp_path: Path, content: bytes, problem: str) -> None:
    ca_file = tmp_path / "ca.crt"
    ca_file.write_bytes(content)
    with pytest.raises(ConfigError) as refused:
        read_ca(_resolved(), str(ca_file))
    assert refused.value.message.startswith(f"the CA certificate from --ca-cert {ca_file} is not a PEM certificate (")
    assert problem.lower() in refused.value.message.lower()
    assert refused.value.hint is not None and "--ca-cert FILE" in refused.value.hint


def test_kubeconfig_entries_that_cannot_be_used_name_the_context(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as not_base64:
        read_ca(_resolved(**{"certificate-authority-data": "!!not-base64!!"}))
    assert "certificate-authority-data of the cluster is not base64" in not_base64.value.message
    assert "edge-ctx" in not_base64.value.message
    missing = tmp_path / "gone.crt"
    with pytest.raises(ConfigError) as unreadable:
        read_ca(_resolved(**{"certificate-authority": str(missing)}))
    assert unreadable.value.message == (f"cannot read the CA certificate file {missing} of the kubeconfig context "
                                        "edge-ctx: No such file or directory")
    with pytest.raises(ConfigError) as not_pem:
        read_ca(_resolved(**{"certificate-authority-data": _b64("just text")}))
    assert not_pem.value.message.startswith("the CA certificate from the kubeconfig is not a PEM certificate (")
    for error in (not_base64, unreadable, not_pem):
        hint = error.value.hint or ""
        assert "certificate-authority(-data) of the cluster of context edge-ctx" in hint and "--ca-cert" in hint


def test_without_the_flag_the_hint_does_not_offer_it() -> None:
    with pytest.raises(ConfigError) as refused:
        load_ca(_resolved(**{"certificate-authority-data": _b64("just text")}), offer_flag=False)
    assert refused.value.hint == "fix certificate-authority(-data) of the cluster of context edge-ctx in the kubeconfig"
