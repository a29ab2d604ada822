#!/usr/bin/env python3
"""A simulated cloud (non-edge) node: hack/edgenode.py's node, joined by the real ``kubeadm join``.

:class:`IsolatedNode` is an edge node whose kubelet has a cgroup root of its own (any node that shares the
machine with another kubelet needs one). :class:`CloudNode` is such a node (so an :class:`edgenode.EdgeNode`:
its own network and mount namespaces, overlays, containerd, mini_init as systemctl) with what a cloud worker
has besides:

- the API server at ``127.0.0.1:PORT`` as the node sees it (a forwarder on the node's own loopback to the
  host side of its veth), because cluster-info names the local API server by that address and kubeadm hands
  cluster-info's server to the kubelet;
- a hosts file naming ``localhost`` and the node, and the node's loopback as its only name server, so
  neither kubeadm's checks nor the kubelet ask a name server outside;
- a kubelet cgroup root of its own (``/sys/fs/cgroup/<controller>/<cgroup_root>``, given to the kubelet by
  a ``kubeadm join --patches`` patch): the kubelet removes pod cgroups of its root that it does not know, so
  two kubelets on one machine sharing the default ``/kubepods`` would kill each other's pods;
- with :meth:`CloudNode.install_kubeadm`, what the kubelet, kubeadm and kubernetes-cni packages put on a
  node: both binaries and crictl in /usr/bin, the CNI plugins in /opt/cni/bin, the systemd unit with
  kubeadm's drop-in (in /etc/systemd/system, as /usr/lib is not overlaid), the unit enabled.

``kubeadm join`` then runs as on a real node: it writes /var/lib/kubelet/config.yaml, kubeadm-flags.env and
bootstrap-kubelet.conf, starts the kubelet through ``systemctl`` (mini_init: ``daemon-reload``, ``stop``,
``start``, ``status``, ``is-active``) and waits for the kubelet's TLS bootstrap.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

HACK = Path(__file__).resolve().parent
sys.path.insert(0, str(HACK))
import edgenode  # noqa: E402

CRI_SOCKET = f"unix://{edgenode.CONTAINERD_SOCKET}"
#: The labels that make a node a cloud node for the chart (``cloudPlacement``) and for SuperEdge.
CLOUD_NODE_LABELS = {"node-role.kubernetes.io/control-plane": "", "superedge.io/node-cloud": "enable"}
#: kubeadm's preflight checks that cannot hold on this machine, and why: its cgroups are v1, which kubeadm
#: refuses from 1.35 on unless this check is skipped explicitly (the cluster's kubelet configuration says
#: failCgroupV1: false, as the check's message asks). Every other check runs and must pass.
IGNORED_PREFLIGHT_ERRORS = {"SystemVerification"}
#: Where the kubelet patch with the node's own cgroup root is kept (kubeadm join --patches).
PATCHES_DIR = "/etc/kubectl-edge/kubeadm-patches"

# What the kubelet package installs (kubernetes/release, rpm/deb kubelet.service).
KUBELET_UNIT = """\
[Unit]
Description=kubelet: The Kubernetes Node Agent
Documentation=https://kubernetes.io/docs/
Wants=network-online.target
After=network-online.target

[Service]
ExecStart=/usr/bin/kubelet
Restart=always
StartLimitInterval=0
RestartSec=10

[Install]
WantedBy=multi-user.target
"""
# What the kubeadm package installs (10-kubeadm.conf).
KUBEADM_DROPIN = """\
# Note: This dropin only works with kubeadm and kubelet v1.11+
[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf \
--kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
"""
# Runs on the node: the API server's loopback address as the node sees it (fixed code, data as arguments).
LOOPBACK_FORWARDER = (
    "import sys, time; sys.path.insert(0, sys.argv[1]); import forwarder; "
    "forwarder.Forwarder(sys.argv[2], int(sys.argv[3]), '127.0.0.1', int(sys.argv[3])).start(); "
    "time.sleep(10 ** 9)"
)


cgroup_hierarchies = edgenode.cgroup_hierarchies


@dataclass
class IsolatedNode(edgenode.EdgeNode):
    """An edge node whose kubelet runs below a cgroup root of its own, ``cgroup_root`` (every
    :class:`edgenode.EdgeNode` has one: the node makes its directories, passes it to the kubelet in
    /etc/default/kubelet, and its tear-down kills what runs below it and removes it)."""


@dataclass
class CloudNode(IsolatedNode):
    """A cloud node, joined by ``kubeadm join``."""

    index: int = 1
    pod_subnet: str = "198.19.65.0/24"
    api_port: int = 0

    # --- set-up -----------------------------------------------------------------------------------------

    def create(self, api_port: int) -> None:
        """The isolated node's set-up, then the API server on the node's loopback and the hosts file."""
        super().create(api_port)
        self.api_port = api_port
        self.run(["sh", "-c", 'printf "%s\\n" "$@" > /etc/hosts', "hosts", "127.0.0.1 localhost",
                  "::1 localhost", f"{self.node_ip} {self.name}"])
        log = self.scratch / "api-forwarder.log"
        self.spawn([sys.executable, "-c", LOOPBACK_FORWARDER, str(HACK), self.host_ip, str(api_port)], log)
        deadline = time.monotonic() + 20
        while not self.run(["ss", "-Hltn", f"sport = :{api_port}"]).stdout.strip():
            if time.monotonic() > deadline:
                raise RuntimeError(f"the node's API server forwarder did not listen:\n{log.read_text()[-2000:]}")
            time.sleep(0.1)

    def install_kubeadm(self, bin_dir: Path, crictl: Path, cni: Path = Path("/usr/lib/cni")) -> None:
        """Install kubeadm, the kubelet, crictl and the CNI plugins (in /opt/cni/bin, as kubernetes-cni does),
        the kubelet unit and kubeadm's drop-in: what the packages do on a real node."""
        for binary in (bin_dir / "kubeadm", bin_dir / "kubelet", crictl):
            self.run(["install", "-m", "0755", str(binary), f"/usr/bin/{binary.name}"])
        self.run(["sh", "-c", 'mkdir -p /opt/cni/bin && cp -a "$1"/. /opt/cni/bin/', "cni", str(cni)])
        self.write_file("/etc/systemd/system/kubelet.service", KUBELET_UNIT)
        self.write_file("/etc/systemd/system/kubelet.service.d/10-kubeadm.conf", KUBEADM_DROPIN)
        # The packages enable the kubelet; it crash-loops until kubeadm join has written its configuration.
        self.run(["systemctl", "enable", "kubelet"])

    # --- kubeadm ----------------------------------------------------------------------------------------

    def kubeadm_join_argv(self, token: str, ca_cert_hash: str) -> list[str]:
        """``kubeadm join`` as this node runs it: worker, its name, containerd's socket, its cgroup root."""
        return ["kubeadm", "join", f"127.0.0.1:{self.api_port}", "--token", token,
                "--discovery-token-ca-cert-hash", ca_cert_hash, "--node-name", self.name, "--cri-socket",
                CRI_SOCKET, f"--ignore-preflight-errors={','.join(sorted(IGNORED_PREFLIGHT_ERRORS))}",
                "--patches", PATCHES_DIR, "--v=1"]

    def kubeadm_join(self, token: str, ca_cert_hash: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """Run the real ``kubeadm join`` on the node (the kubelet gets the node's cgroup root by a patch)."""
        self.write_file(f"{PATCHES_DIR}/kubeletconfiguration+merge.yaml",
                        f"cgroupRoot: {self.kubelet_cgroup_root}\n")
        return self.run(self.kubeadm_join_argv(token, ca_cert_hash), check=False, timeout=timeout)

    def kubeadm_reset(self) -> subprocess.CompletedProcess[str]:
        """``kubeadm reset --force``: the kubelet stopped, its pods removed through the CRI, its files gone."""
        return self.run(["kubeadm", "reset", "--force", "--cri-socket", CRI_SOCKET, "--v=1"], check=False)


def leftovers(node: IsolatedNode) -> list[str]:
    """What the node left on the machine (processes, mounts, namespaces, its veth, its cgroup root)."""
    return edgenode.leftovers(node.name, node.cgroup_root)


@contextlib.contextmanager
def running_node(name: str, scratch: Path, api_port: int, images: list[Path], index: int = 1,
                 cgroup_root: str = "") -> Iterator[CloudNode]:
    """A cloud node for the duration of a ``with`` block, torn down even when the block fails."""
    with edgenode.running(CloudNode(name=name, scratch=scratch, index=index, cgroup_root=cgroup_root), api_port,
                          images) as node:
        yield node
