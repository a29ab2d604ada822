#!/usr/bin/env python3
"""Node discovery alone, in-process, and a whole ``edgeadm join`` into a scratch root.

A bare local cluster gets ``kubectl edge addon`` (with its components, so edge-info exists as on a real
cluster) and a token from ``kubectl edge token create``; its join line gives the address, token and pin.

1. ``edge_installer.discovery.discover`` is called in this process several times. Its own progress lines
   mark the end of token discovery proper: fetch cluster-info without trust, check the JWS, check the CA
   pin, fetch again trusting only that CA. That part has the goal <= 0.2 s; the whole call also reads
   /version, kubelet-config, the Node and edge-info with the token. The peer is the floor of the protocol:
   the same two GETs of cluster-info with ``http.client``, and nothing checked.
2. ``edgeadm join ADDRESS ... --skip-phases start --root <scratch>`` runs as a new process (the zipapp built
   from this checkout, this Python) into a fresh scratch root each time, without an install package: every
   phase but the package download and the start of kubelet. Its peer is ``edgeadm --help``, the start-up
   of the zipapp itself.
"""

from __future__ import annotations

import http.client
import importlib.util
import io
import json
import secrets
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import benchkit
from edge_installer.discovery import CLUSTER_INFO_PATH, discover
from edge_installer.output import Output

from edge_protocol.joincommand import parse_join_command

RUNS = benchkit.runs(15)
JOINS = benchkit.runs(7)
GOAL = 0.2
#: discover() prints this once the verified second fetch of cluster-info matched the first.
VERIFIED = "TLS verified"


class TimingOutput(Output):
    """Records when each progress line was printed, and prints nothing."""

    def __init__(self) -> None:
        super().__init__(out=io.StringIO(), err=io.StringIO())
        self.marks: list[tuple[float, str]] = []

    def progress(self, phase: str, message: str) -> None:
        self.marks.append((time.perf_counter(), message))

    def warn(self, phase: str, message: str) -> None:
        self.marks.append((time.perf_counter(), message))


def _get(host: str, port: int, context: ssl.SSLContext, server_name: str | None) -> bytes:
    """One GET of cluster-info on a new TLS connection, as discovery makes it."""
    raw = socket.create_connection((host, port), timeout=10)
    connection = http.client.HTTPConnection(host, port, timeout=10)
    connection.sock = context.wrap_socket(raw, server_hostname=server_name)
    connection.request("GET", CLUSTER_INFO_PATH, headers={"Accept": "application/json"})
    body = connection.getresponse().read()
    connection.close()
    return body


def floor_seconds(host: str, port: int, ca_pem: str) -> float:
    """The two fetches of token discovery with nothing checked: the protocol's floor."""
    insecure = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    insecure.check_hostname = False
    insecure.verify_mode = ssl.CERT_NONE
    started = time.perf_counter()
    _get(host, port, insecure, None)
    trusting = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    trusting.load_verify_locations(cadata=ca_pem)
    _get(host, port, trusting, host)
    return time.perf_counter() - started


def build_edgeadm(directory: Path) -> Path:
    """The zipapp, built from this checkout with installer/build.py."""
    spec = importlib.util.spec_from_file_location("edgeadm_build", benchkit.REPO / "installer" / "build.py")
    assert spec is not None and spec.loader is not None
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    path = directory / "edgeadm"
    builder.write_executable(path, builder.build_archive(benchkit.REPO))
    return path


def main() -> int:
    plugin = benchkit.plugin()
    scratch = Path(tempfile.mkdtemp(prefix="kubectl-edge-bench-discovery-"))
    try:
        with benchkit.local_cluster("discovery") as cluster:
            env = benchkit.cluster_env(cluster)
            benchkit.timed([plugin, "addon"], env)
            created = subprocess.run([plugin, "token", "create", "--print-join-command", "-o", "json"],
                                     env=env, capture_output=True, text=True, check=True)
            line = json.loads(created.stdout)["joinCommand"]
            join = parse_join_command(line)
            ca_pem = Path(cluster.ca_cert).read_text()

            core: list[float] = []
            whole: list[float] = []
            floor: list[float] = []
            for attempt in range(RUNS + 1):
                out = TimingOutput()
                started = time.perf_counter()
                found = discover(join.host, join.port, join.token, join.ca_pins, f"bench-{secrets.token_hex(4)}", out)
                ended = time.perf_counter()
                verified = next(moment for moment, message in out.marks if message.startswith(VERIFIED))
                floor_run = floor_seconds(join.host, join.port, ca_pem)
                if attempt:  # the first is a warm-up
                    core.append(verified - started)
                    whole.append(ended - started)
                    floor.append(floor_run)
            assert found.edge_info is not None, "addon's components should have made edge-info"

            edgeadm = build_edgeadm(scratch)
            join_args = ["join", f"{join.host}:{join.port}", "--token", join.token.value,
                         "--discovery-token-ca-cert-hash", join.ca_pins[0], "--skip-phases", "start"]
            joins: list[float] = []
            helps: list[float] = []
            for attempt in range(JOINS + 1):
                root = scratch / f"node{attempt}"
                (root / "etc").mkdir(parents=True)
                (root / "etc" / "hosts").write_text("127.0.0.1 localhost\n")
                seconds = benchkit.timed([sys.executable, str(edgeadm), *join_args, "--root", str(root),
                                          "--node-name", f"bench-{secrets.token_hex(4)}"])
                help_seconds = benchkit.timed([sys.executable, str(edgeadm), "--help"])
                if attempt:
                    joins.append(seconds)
                    helps.append(help_seconds)
                if not (root / "etc" / "kubernetes" / "bootstrap-kubelet.conf").is_file():
                    raise SystemExit("discovery: edgeadm join wrote no bootstrap-kubelet.conf")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    core_median, floor_median = benchkit.median(core), benchkit.median(floor)
    print(f"discovery: two bare GETs of cluster-info (floor)         median {benchkit.ms(floor_median)}  (peer)")
    print(f"discovery: token discovery (fetch, JWS, pin, refetch)    median {benchkit.ms(core_median)}  "
          f"ratio {core_median / floor_median:5.2f}x  goal <= {GOAL * 1000:.0f} ms: "
          f"{benchkit.verdict(core_median, GOAL)}")
    print(f"discovery: discover() as join calls it (+5 token reads)  median {benchkit.ms(benchkit.median(whole))}  "
          f"ratio {benchkit.median(whole) / floor_median:5.2f}x  (/version, kubelet-config, Node, edge-info + Secret)")
    help_median, join_median = benchkit.median(helps), benchkit.median(joins)
    print(f"discovery: edgeadm --help (zipapp start-up)              median {benchkit.ms(help_median)}  (peer)")
    print(f"discovery: edgeadm join --skip-phases start --root DIR   median {benchkit.ms(join_median)}  "
          f"ratio {join_median / help_median:5.2f}x  (no install package)")
    print(f"discovery: {RUNS} in-process discoveries, {JOINS} joins, each into a fresh root, "
          f"Python {sys.version.split()[0]}; load average {benchkit.load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
