"""L4: a cluster prepared by SuperEdge's own ``edgeadm addon edge-apps``, then adopted, shown and detached.

SuperEdge's edgeadm (``SUPEREDGE_BIN/edgeadm``) runs against the local kubeadm-flavoured cluster, which keeps
``default/kubernetes`` Endpoints as a real one does. On Kubernetes >= 1.25 it stops where it writes
EndpointSlices through ``discovery.k8s.io/v1beta1``, after its components and before edge-info: that is the
state a SuperEdge user has. ``kubectl edge addon --adopt`` must take it over keeping the tunnel token, the
certificates, the health-check key and the NodePorts; ``status`` must show the release; ``detach`` must
return every object to edgeadm's state (up to what the API server assigns).
"""

from __future__ import annotations

import base64
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from clusterkit import admin_request, run_plugin, snapshot, succeeded
from l4kit import superedge_edgeadm

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "hack"))
sys.path.insert(0, str(REPO / "tests" / "integration"))
import localcluster  # noqa: E402
from test_adopt import _settled  # noqa: E402

NS = "/api/v1/namespaces/edge-system"


@pytest.fixture
def edgeadm_prepared(tmp_path: Path) -> Iterator[tuple[Any, dict[str, Any]]]:
    """A kubeadm-flavoured cluster after SuperEdge's edgeadm addon edge-apps, and what it made."""
    with localcluster.running(tmp_path / "cluster", "kubeadm") as cluster:
        started = time.monotonic()
        result = subprocess.run(
            [str(superedge_edgeadm()), "addon", "edge-apps", f"--ca.cert={cluster.ca_cert}",
             f"--ca.key={cluster.ca_key}", f"--kubeconfig={cluster.kubeconfig}",
             f"--worker-path={tmp_path / 'edgeadm-work'}/", "--master-public-addr=198.18.0.1"],
            capture_output=True, text=True, timeout=900, check=False)
        print(f"edgeadm addon edge-apps: exit {result.returncode} after {time.monotonic() - started:.1f} s")
        service = admin_request(cluster, f"{NS}/services/tunnel-cloud")
        assert service.status == 200, f"edgeadm made no tunnel-cloud:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        made = {
            "token": admin_request(cluster, f"{NS}/configmaps/tunnel-cloud-token").body["data"]["token"],
            "cloud": admin_request(cluster, f"{NS}/secrets/tunnel-cloud-cert").body["data"],
            "edge": admin_request(cluster, f"{NS}/secrets/tunnel-edge-cert").body["data"],
            "hmac": admin_request(cluster, f"{NS}/configmaps/hmac-config").body["data"]["hmackey"],
            "webhook": admin_request(cluster, f"{NS}/secrets/validate-admission-control-server-certs").body["data"],
            "nodePorts": {p["name"]: p["nodePort"] for p in service.body["spec"]["ports"]},
            "edgeConf": admin_request(cluster, f"{NS}/configmaps/tunnel-edge-conf").body["data"]["mode.toml"],
        }
        yield cluster, made


def test_adopt_what_superedge_edgeadm_made_and_detach_back(edgeadm_prepared: tuple[Any, dict[str, Any]]) -> None:
    cluster, made = edgeadm_prepared
    before = snapshot(cluster)
    refused = run_plugin(cluster.kubeconfig, "addon")
    assert refused.returncode != 0 and "prepared by SuperEdge's edgeadm" in refused.stderr, refused.stderr

    started = time.monotonic()
    succeeded(run_plugin(cluster.kubeconfig, "addon", "--adopt"))
    print(f"addon --adopt: {time.monotonic() - started:.1f} s")
    assert admin_request(cluster, f"{NS}/configmaps/tunnel-cloud-token").body["data"]["token"].strip() == \
        made["token"].strip()
    cloud = admin_request(cluster, f"{NS}/secrets/tunnel-cloud-cert").body["data"]
    assert {key: cloud[key] for key in made["cloud"]} == made["cloud"]
    assert admin_request(cluster, f"{NS}/secrets/tunnel-edge-cert").body["data"]["ca.crt"] == made["edge"]["ca.crt"]
    assert admin_request(cluster, f"{NS}/configmaps/hmac-config").body["data"]["hmackey"] == made["hmac"]
    webhook = admin_request(cluster, f"{NS}/secrets/validate-admission-control-server-certs").body["data"]
    assert base64.b64decode(webhook["server.crt"]) == base64.b64decode(made["webhook"]["server.crt"])
    service = admin_request(cluster, f"{NS}/services/tunnel-cloud").body
    assert {p["name"]: p["nodePort"] for p in service["spec"]["ports"]} == made["nodePorts"]

    # tunnel-edge's configuration dials the same host and NodePort with the same token.
    conf = admin_request(cluster, f"{NS}/configmaps/tunnel-edge-conf").body["data"]["mode.toml"]
    for key in ("server_name", "token"):
        wanted = [line.split("=", 1)[1].strip() for line in made["edgeConf"].splitlines()
                  if line.strip().startswith(key)]
        got = [line.split("=", 1)[1].strip() for line in conf.splitlines() if line.strip().startswith(key)]
        assert wanted and got == wanted, (key, wanted, got)

    status = succeeded(run_plugin(cluster.kubeconfig, "status"))
    assert "superedge-addon" in status.stdout and "SuperEdge's edgeadm" not in status.stdout, status.stdout

    started = time.monotonic()
    succeeded(run_plugin(cluster.kubeconfig, "detach"))
    print(f"detach: {time.monotonic() - started:.1f} s")
    assert _settled(cluster, before) == []
