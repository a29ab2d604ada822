"""A hostile "API server" for the node-side attack tests: real TLS on 127.0.0.1, signed cluster-info.

It answers the few requests ``edgeadm join`` makes (``/version``, ``kube-public/cluster-info``,
``kubelet-config``, the node, ``edge-system/edge-info`` and its Secret) from a table the test controls, so
a test can serve exactly the hostile answer it tries. cluster-info carries a real detached JWS made with
the token (``edge_protocol.jws``): what is tried is what someone who holds a token can do.
Certificates are made with cryptography, independently of the installer's own DER walker.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import http.server
import ipaddress
import json
import ssl
import threading
from pathlib import Path
from typing import Any, Dict, Iterator, Optional, Tuple

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from edge_protocol import jws

TOKEN_ID, TOKEN_SECRET = "abcdef", "0123456789abcdef"
TOKEN = f"{TOKEN_ID}.{TOKEN_SECRET}"
CLUSTER_INFO = "/api/v1/namespaces/kube-public/configmaps/cluster-info"
KUBELET_CONFIG = "/api/v1/namespaces/kube-system/configmaps/kubelet-config"
EDGE_INFO = "/api/v1/namespaces/edge-system/configmaps/edge-info"
EDGE_INFO_SECRET = "/api/v1/namespaces/edge-system/secrets/edge-info"
KUBELET_YAML = ("apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nclusterDNS:\n- 198.18.0.10\n"
                "clusterDomain: cluster.local\n")


class Authority:
    """A CA (key and certificate) that can issue server certificates."""

    def __init__(self, name: str) -> None:
        """Make a new self-signed CA called ``name``."""
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self.certificate = (
            x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(self.key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256()))

    @property
    def pem(self) -> str:
        """The CA certificate as PEM."""
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()

    @property
    def der(self) -> bytes:
        """The CA certificate as DER."""
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @property
    def pin(self) -> str:
        """``sha256:<hex>`` of the CA's SubjectPublicKeyInfo."""
        spki = self.certificate.public_key().public_bytes(serialization.Encoding.DER,
                                                          serialization.PublicFormat.SubjectPublicKeyInfo)
        return "sha256:" + hashlib.sha256(spki).hexdigest()

    def issue(self, directory: Path, ip: str = "127.0.0.1", dns: str = "kubernetes.default",
              common_name: str = "kube-apiserver") -> Tuple[Path, Path]:
        """A server certificate for ``ip`` and ``dns``; returns the certificate and key files."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        certificate = (
            x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(self.certificate.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns), x509.IPAddress(ipaddress.ip_address(ip))]),
                           critical=False)
            .sign(self.key, hashes.SHA256()))
        cert_file = directory / f"{common_name}-{id(certificate)}.crt"
        key_file = directory / f"{common_name}-{id(certificate)}.key"
        cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        return cert_file, key_file

    def leaf_pair(self, common_name: str = "LiteApiServer") -> Tuple[str, str]:
        """A certificate (PEM) issued by this CA and its private key (PKCS#8 PEM)."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        certificate = (
            x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(self.certificate.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1)).sign(self.key, hashes.SHA256()))
        return (certificate.public_bytes(serialization.Encoding.PEM).decode(),
                key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()).decode())


def cluster_info_kubeconfig(server: str, ca_text: str) -> str:
    """cluster-info's kubeconfig as kubeadm writes it, with ``ca_text`` as certificate-authority-data."""
    data = base64.b64encode(ca_text.encode("latin-1")).decode()
    return (f"apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: {data}\n    server: {server}\n"
            "  name: \"\"\ncontexts: null\ncurrent-context: \"\"\nkind: Config\npreferences: {}\nusers: null\n")


def config_map(name: str, data: Dict[str, Any]) -> Dict[str, Any]:
    """A ConfigMap document."""
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def not_found(what: str) -> Tuple[int, Dict[str, Any]]:
    """A 404 Status answer."""
    return 404, {"apiVersion": "v1", "kind": "Status", "status": "Failure", "reason": "NotFound",
                 "message": f"{what} not found", "code": 404}


class HostileServer:
    """The TLS server; ``answers`` maps a path to ``(status, JSON document)`` and may be changed at any time."""

    def __init__(self, directory: Path, serving: Authority, trusted_text: str) -> None:
        """Serve on 127.0.0.1 with a certificate ``serving`` issues; cluster-info names ``trusted_text`` as CA."""
        self.directory = directory
        self.cert_file, self.key_file = serving.issue(directory)
        self.answers: Dict[str, Tuple[int, Any]] = {}
        self.requests: list[str] = []
        self._server: Optional[http.server.ThreadingHTTPServer] = None
        self.trusted_text = trusted_text

    def sign_cluster_info(self, ca_text: str, server: Optional[str] = None) -> None:
        """Serve a cluster-info whose kubeconfig names ``ca_text``, signed with the token."""
        kubeconfig = cluster_info_kubeconfig(server or f"https://127.0.0.1:{self.port}", ca_text)
        self.answers[CLUSTER_INFO] = (200, config_map("cluster-info", {
            "kubeconfig": kubeconfig, jws.signature_key(TOKEN_ID): jws.sign_detached(kubeconfig, TOKEN_ID,
                                                                                     TOKEN_SECRET)}))

    def start(self) -> HostileServer:
        """Listen, and fill the answers of a well-behaved cluster without edge-info."""
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                owner.requests.append(path)
                status, document = owner.answers.get(path, not_found(path))
                body = document if isinstance(document, bytes) else json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(self.cert_file), str(self.key_file))
        server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.answers["/version"] = (200, {"major": "1", "minor": "31", "gitVersion": "v1.31.2"})
        self.answers[KUBELET_CONFIG] = (200, config_map("kubelet-config", {"kubelet": KUBELET_YAML}))
        self.sign_cluster_info(self.trusted_text)
        return self

    @property
    def port(self) -> int:
        """The port it listens on."""
        assert self._server is not None
        return int(self._server.server_address[1])

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def serve(directory: Path, serving: Authority, trusted_text: str) -> Iterator[HostileServer]:
    """A started server, stopped afterwards (for a fixture)."""
    server = HostileServer(directory, serving, trusted_text).start()
    try:
        yield server
    finally:
        server.stop()
