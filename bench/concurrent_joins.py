#!/usr/bin/env python3
"""Many nodes joining at once: token discovery and kubelet's TLS bootstrap, 100 at a time.

A bare local cluster gets ``kubectl edge addon``; then 100 bootstrap tokens are created (by the admin,
concurrently, in kubeadm's format) and the controller manager signs cluster-info for each. Each join, run
in a thread pool:

1. ``edge_installer.discovery.discover`` with its own token and the CA pin (what ``edgeadm join`` does);
2. what kubelet's TLS bootstrap does next: a new P-256 key, a CSR for ``system:node:<unique name>``
   (organisation ``system:nodes``) posted with the token, trusting only the CA discovery verified, then
   polled with the token until the controller manager has approved and signed it.

Printed: whether all succeeded, joins per second over the batch, and the latency of one join (median, 95th
percentile). The peer is one join on its own (the same steps, nothing else running), measured before the
batch. The CSRs and tokens are deleted afterwards, and the cluster stopped.
"""

from __future__ import annotations

import base64
import datetime
import http.client
import io
import json
import os
import secrets
import socket
import ssl
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import benchkit
import bigcluster
from clusterkit import admin_request, kubelet_client_csr
from cryptography import x509
from cryptography.x509.oid import NameOID
from edge_installer.discovery import discover
from edge_installer.output import Output

from edge_protocol import capin
from edge_protocol import token as bootstrap_token

JOINS = int(os.environ.get("BENCH_JOINS", "100"))
WORKERS = int(os.environ.get("BENCH_JOIN_WORKERS", "16"))
CSR_PATH = "/apis/certificates.k8s.io/v1/certificatesigningrequests"
CLUSTER_INFO = "/api/v1/namespaces/kube-public/configmaps/cluster-info"
SECRETS = "/api/v1/namespaces/kube-system/secrets"
ISSUE_TIMEOUT = 180.0


@dataclass
class Joined:
    """One join's outcome."""

    name: str
    seconds: float
    discovery_seconds: float
    error: str | None = None


class _TokenClient:
    """Requests with a bootstrap token over one kept-alive TLS connection, trusting only the cluster CA."""

    def __init__(self, host: str, port: int, ca_pem: str, server_name: str, token: str) -> None:
        self.host, self.port, self.server_name, self.token = host, port, server_name, token
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self.context.load_verify_locations(cadata=ca_pem)
        self.connection: http.client.HTTPConnection | None = None

    def send(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        if self.connection is None:
            raw = socket.create_connection((self.host, self.port), timeout=30)
            self.connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
            self.connection.sock = self.context.wrap_socket(raw, server_hostname=self.server_name)
        headers = {"Accept": "application/json", "Content-Type": "application/json",
                   "Authorization": f"Bearer {self.token}"}
        self.connection.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        response = self.connection.getresponse()
        raw_body = response.read()
        return response.status, json.loads(raw_body) if raw_body else None

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()


def join_once(host: str, port: int, token: bootstrap_token.BootstrapToken, pin: str, name: str) -> Joined:
    """Discovery with the token, then the CSR posted and waited for; the outcome, never an exception."""
    started = time.perf_counter()
    client: _TokenClient | None = None
    try:
        found = discover(host, port, token, [pin], name, Output(out=io.StringIO(), err=io.StringIO()))
        discovered = time.perf_counter()
        client = _TokenClient(host, port, found.ca_pem, found.server_name, token.value)
        body, csr_name, _ = kubelet_client_csr(name)
        status, answer = client.send("POST", CSR_PATH, body)
        if status != 201:
            return Joined(name, 0.0, 0.0, f"POST CSR answered {status}: {answer}")
        deadline = time.monotonic() + ISSUE_TIMEOUT
        while True:
            status, answer = client.send("GET", f"{CSR_PATH}/{csr_name}")
            certificate = ((answer or {}).get("status") or {}).get("certificate") if status == 200 else None
            if certificate:
                issued = x509.load_pem_x509_certificate(base64.b64decode(certificate))
                common_name = issued.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
                if common_name != f"system:node:{name}":
                    return Joined(name, 0.0, 0.0, f"issued for {common_name!r}")
                break
            if time.monotonic() > deadline:
                return Joined(name, 0.0, 0.0, f"no certificate after {ISSUE_TIMEOUT:.0f} s (last answer {status})")
            time.sleep(0.2)
        return Joined(name, time.perf_counter() - started, discovered - started)
    except Exception as exc:  # reported, not raised: every join's outcome is counted
        return Joined(name, 0.0, 0.0, f"{type(exc).__name__}: {exc}")
    finally:
        if client is not None:
            client.close()


def create_tokens(cluster: benchkit.localcluster.LocalCluster, count: int) -> list[bootstrap_token.BootstrapToken]:
    """``count`` tokens in kubeadm's format, valid for an hour, created concurrently by the admin."""
    tokens = [bootstrap_token.generate_token() for _ in range(count)]
    now = datetime.datetime.now(datetime.timezone.utc)
    bodies = [(SECRETS, {"apiVersion": "v1", "kind": "Secret", "type": "bootstrap.kubernetes.io/token",
                         "metadata": {"name": bootstrap_token.secret_name(t.id), "namespace": "kube-system"},
                         "stringData": bootstrap_token.build_secret_data(t, 3600, now, "bench concurrent joins")})
              for t in tokens]
    bigcluster.create_all(cluster, bodies)
    return tokens


def wait_signed(cluster: benchkit.localcluster.LocalCluster, tokens: list[bootstrap_token.BootstrapToken]) -> None:
    """Wait until cluster-info carries a signature for every token."""
    wanted = {f"jws-kubeconfig-{t.id}" for t in tokens}
    deadline = time.monotonic() + 120
    while True:
        data = admin_request(cluster, CLUSTER_INFO).body.get("data") or {}
        if wanted <= data.keys():
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"concurrent_joins: cluster-info lacks {len(wanted - data.keys())} signatures")
        time.sleep(0.2)


def clean_up(cluster: benchkit.localcluster.LocalCluster, names: list[str],
             tokens: list[bootstrap_token.BootstrapToken]) -> None:
    """Delete the joins' CSRs and the tokens."""
    client = bigcluster.AdminClient(cluster)
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda name: client.send("DELETE", f"{CSR_PATH}/node-csr-{name}"), names))
        list(pool.map(lambda t: client.send("DELETE", f"{SECRETS}/{bootstrap_token.secret_name(t.id)}"), tokens))


def main() -> int:
    plugin = benchkit.plugin()
    with benchkit.local_cluster("joins") as cluster:
        env = benchkit.cluster_env(cluster)
        benchkit.timed([plugin, "addon"], env)
        host, port = "127.0.0.1", cluster.api_port
        pin = capin.pin_of(Path(cluster.ca_cert).read_text())
        started = time.perf_counter()
        tokens = create_tokens(cluster, JOINS + 1)
        wait_signed(cluster, tokens)
        prepared = time.perf_counter() - started
        run = secrets.token_hex(3)
        names = [f"bench-{run}-{index:03d}" for index in range(JOINS + 1)]
        alone = join_once(host, port, tokens[0], pin, names[0])
        if alone.error:
            raise SystemExit(f"concurrent_joins: a single join failed: {alone.error}")
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            outcomes = list(pool.map(lambda i: join_once(host, port, tokens[i], pin, names[i]), range(1, JOINS + 1)))
        wall = time.perf_counter() - started
        clean_up(cluster, names, tokens)
    failed = [o for o in outcomes if o.error]
    latencies = sorted(o.seconds for o in outcomes if not o.error)
    rate = len(latencies) / wall
    print(f"concurrent_joins: one join alone (discovery + CSR issued)     {benchkit.ms(alone.seconds)}  "
          f"(discovery {benchkit.ms(alone.discovery_seconds).strip()})  {1 / alone.seconds:5.1f} joins/s  (peer)")
    print(f"concurrent_joins: {JOINS} joins, {WORKERS} at a time                  {wall:7.2f} s   "
          f"{rate:5.1f} joins/s  ratio {rate * alone.seconds:5.2f}x the single join's rate  "
          f"{len(latencies)}/{JOINS} succeeded; goal all: {'meets' if not failed else 'MISSES'}")
    if latencies:
        p95 = statistics.quantiles(latencies, n=20)[-1] if len(latencies) > 1 else latencies[0]
        discovery = statistics.median(o.discovery_seconds for o in outcomes if not o.error)
        print(f"concurrent_joins: latency per join under load  median {benchkit.ms(statistics.median(latencies))}, "
              f"p95 {benchkit.ms(p95).strip()}, max {benchkit.ms(latencies[-1]).strip()}; discovery part median "
              f"{benchkit.ms(discovery).strip()}")
    for outcome in failed[:5]:
        print(f"concurrent_joins: FAILED {outcome.name}: {outcome.error}")
    print(f"concurrent_joins: {JOINS + 1} tokens created and signed in {prepared:.1f} s beforehand; "
          f"load average {benchkit.load_average()}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
