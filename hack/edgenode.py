#!/usr/bin/env python3
"""A simulated edge node on this machine: its own network namespace, mount namespace and containerd.

The node reaches the control plane through a veth pair addressed from 198.18.0.0/15 and a forwarder on the
host side, at an address the API server's certificate does not name. Inside its mount namespace, /etc,
/usr/bin, /opt, /var/lib, /var/log and /data are overlays whose upper layers are scratch directories and /run
is a tmpfs, so edgeadm runs on the node exactly as on a real one (no --root) while the machine's own files stay
untouched; what the node wrote is visible in the upper layers. systemd is stood in for by hack/mini_init.py.

This machine's kernel may lack dummy interfaces (CONFIG_DUMMY off), which lite-apiserver's unit makes for the
edge virtual address. On such a kernel the node's ``ip`` is a wrapper that makes a bridge wherever a dummy
interface is asked for, and says so on stderr; edgeadm's code stays the one real nodes run.

Requires root, iproute2, util-linux (unshare, nsenter), containerd, runc, containernetworking-plugins.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

HACK = Path(__file__).resolve().parent
sys.path.insert(0, str(HACK))
import forwarder  # noqa: E402

NAMESPACE_DIR = Path("/run/kubectl-edge-nodes")
OVERLAID = ("/etc", "/usr/bin", "/opt", "/var/lib", "/var/log", "/data")
#: Overlaid paths the machine may not have: made empty for the overlay's lower layer, removed again once the
#: last node is gone (a mount needs an existing directory).
MADE_IF_MISSING = ("/data",)
IP_WRAPPER = """#!/bin/sh
# edgenode: this kernel has no dummy network interfaces (CONFIG_DUMMY is off); a bridge stands in for one.
real={real}
previous=
for word in "$@"; do
  shift
  if [ "$previous" = type ] && [ "$word" = dummy ]; then
    echo "edgenode: no dummy interfaces in this kernel: making a bridge in place of the dummy interface" >&2
    word=bridge
  fi
  set -- "$@" "$word"
  previous=$word
done
exec "$real" "$@"
"""
CONTAINERD_SOCKET = "/run/containerd/containerd.sock"
# No registry is reachable here: the edge components' images point at the node's own loopback, so the
# kubelet's pulls fail there instead of going anywhere (addon --set arguments).
LOCAL_IMAGE_VALUES = tuple(f"--set=images.{name}.repository=localhost/superedge/{name}" for name in (
    "tunnel", "edgeHealth", "edgeHealthAdmission", "applicationGridController", "applicationGridWrapper", "coredns"))
# What the cluster owner sets for nodes of this kind of machine: cgroup v1 with cgroupfs, no CAP_SYS_RESOURCE,
# little free disk. addon keeps an existing kubelet-config and only adds the fields it lacks.
NODE_KUBELET_CONFIG = """\
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
oomScoreAdj: 0
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
serializeImagePulls: false
evictionHard:
  imagefs.available: 1%
  memory.available: 50Mi
  nodefs.available: 1%
clusterDNS:
- 198.19.0.10
clusterDomain: cluster.local
"""

DEBIAN_PACKAGES = ("containerd", "runc", "containernetworking-plugins", "iptables", "iproute2")


def install_node_packages() -> None:
    """Install the node's runtime from Debian when it is missing (idempotent)."""
    if all(shutil.which(tool) for tool in ("containerd", "runc", "ctr", "ip", "iptables")) and \
            Path("/usr/lib/cni/bridge").exists():
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", *DEBIAN_PACKAGES], check=True, env=env)


def _run(argv: list[str], check: bool = True, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, check=check, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]


@dataclass
class EdgeNode:
    """One simulated node. ``index`` picks its addresses: 198.18.<index>.1 (host side) and .2 (node)."""

    name: str
    scratch: Path
    index: int = 0
    pod_subnet: str = "198.19.64.0/24"
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _forwarders: list[forwarder.Forwarder] = field(default_factory=list)
    #: The kubelet's cgroup root, without the leading ``/``: each node has its own, since a kubelet removes the
    #: pod cgroups of its root that it does not know (two nodes sharing ``/kubepods`` kill each other's pods).
    cgroup_root: str = ""

    def __post_init__(self) -> None:
        if not self.cgroup_root:
            self.cgroup_root = f"kubectl-edge-{self.name}"

    @property
    def kubelet_cgroup_root(self) -> str:
        """The value of the kubelet's ``cgroupRoot`` (``--cgroup-root``)."""
        return f"/{self.cgroup_root}"

    @property
    def host_ip(self) -> str:
        return f"198.18.{self.index}.1"

    @property
    def node_ip(self) -> str:
        return f"198.18.{self.index}.2"

    @property
    def mount_ns(self) -> Path:
        return NAMESPACE_DIR / f"{self.name}.mnt"

    @property
    def systemctl_dir(self) -> Path:
        return self.scratch / "init-bin"

    def upper(self, path: str) -> Path:
        """The scratch directory that holds what the node wrote below ``path`` (an overlaid path)."""
        return self.scratch / "overlay" / path.strip("/").replace("/", "_") / "upper"

    # --- commands inside the node -----------------------------------------------------------------------

    def argv(self, command: list[str]) -> list[str]:
        """``command`` wrapped to run in the node's network and mount namespaces."""
        return ["nsenter", f"--net=/run/netns/{self.name}", f"--mount={self.mount_ns}", "--", *command]

    def env(self) -> dict[str, str]:
        """Environment for commands on the node: mini_init's systemctl first on PATH."""
        return {**os.environ, "PATH": f"{self.systemctl_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}"}

    def run(self, command: list[str], check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """Run a command on the node and wait for it."""
        return subprocess.run(self.argv(command), capture_output=True, text=True, check=check, env=self.env(),
                              timeout=timeout)

    def write_file(self, path: str, content: str) -> None:
        """Write a file on the node (parents made), with the content passed as data."""
        self.run(["sh", "-c", 'mkdir -p "$(dirname "$1")" && printf "%s" "$2" > "$1"', "write", path, content])

    def spawn(self, command: list[str], log: Path) -> subprocess.Popen[bytes]:
        """Start a long-running process on the node."""
        with open(log, "ab") as output:
            process = subprocess.Popen(self.argv(command), stdout=output, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, env=self.env(), start_new_session=True)
        self.processes.append(process)
        return process

    # --- set-up -----------------------------------------------------------------------------------------

    def create(self, api_port: int) -> None:
        """Network, mount namespace, overlays, the forwarder to the API server and the systemctl stand-in."""
        self.scratch.mkdir(parents=True, exist_ok=True)
        host_link, node_link = f"{self.name}-h", f"{self.name}-n"
        for argv in (["ip", "netns", "add", self.name],
                     ["ip", "link", "add", host_link, "type", "veth", "peer", "name", node_link],
                     ["ip", "link", "set", node_link, "netns", self.name],
                     ["ip", "addr", "add", f"{self.host_ip}/30", "dev", host_link],
                     ["ip", "link", "set", host_link, "up"],
                     ["ip", "-n", self.name, "addr", "add", f"{self.node_ip}/30", "dev", node_link],
                     ["ip", "-n", self.name, "link", "set", node_link, "up"],
                     ["ip", "-n", self.name, "link", "set", "lo", "up"],
                     ["ip", "-n", self.name, "route", "add", "default", "via", self.host_ip]):
            _run(argv)
        self._forwarders.append(forwarder.Forwarder("127.0.0.1", api_port, self.host_ip, api_port).start())

        NAMESPACE_DIR.mkdir(parents=True, exist_ok=True)
        if _run(["findmnt", "-n", str(NAMESPACE_DIR)], check=False).returncode != 0:
            _run(["mount", "--bind", str(NAMESPACE_DIR), str(NAMESPACE_DIR)])
            _run(["mount", "--make-private", str(NAMESPACE_DIR)])
        self.mount_ns.touch()
        _run(["unshare", f"--mount={self.mount_ns}", "--propagation", "private", "true"])
        for path in MADE_IF_MISSING:
            if not Path(path).exists():
                Path(path).mkdir(mode=0o755)
                (NAMESPACE_DIR / f"made{path.replace('/', '_')}").touch()
        script = ["set -e", "mount -t tmpfs -o mode=0755 node-run /run"]
        for path in OVERLAID:
            upper = self.upper(path)
            work = upper.parent / "work"
            upper.mkdir(parents=True)
            work.mkdir()
            script.append(f"mount -t overlay overlay -o lowerdir={path},upperdir={upper},workdir={work} {path}")
        # containerd's snapshots cannot live on an overlay: give it a plain directory.
        (self.scratch / "containerd").mkdir()
        script += ["mkdir -p /var/lib/containerd", f"mount --bind {self.scratch / 'containerd'} /var/lib/containerd",
                   # The node has no name server: lookups stay on its loopback instead of leaving for the host's.
                   "rm -f /etc/resolv.conf", "echo 'nameserver 127.0.0.1' > /etc/resolv.conf"]
        self.systemctl_dir.mkdir()
        if not dummy_interfaces_work(self.name):
            script += self._ip_wrapper()
        # What this machine's owner sets for the node's kubelet: its own cgroup root (kubeadm's and edgeadm's
        # drop-ins read KUBELET_EXTRA_ARGS from /etc/default/kubelet).
        script.append(f"echo 'KUBELET_EXTRA_ARGS=--cgroup-root={self.kubelet_cgroup_root}' > /etc/default/kubelet")
        _run(["nsenter", f"--mount={self.mount_ns}", "--", "sh", "-c", "\n".join(script)])
        for hierarchy in cgroup_hierarchies():
            (hierarchy / self.cgroup_root).mkdir(exist_ok=True)

        shim = self.systemctl_dir / "systemctl"
        shim.write_text(f"#!/bin/sh\nexec {sys.executable} {HACK / 'mini_init.py'} \"$@\"\n")
        shim.chmod(0o755)

    def _ip_wrapper(self) -> list[str]:
        """Mount commands that put the bridge-for-dummy wrapper over the node's ``ip``."""
        ip = Path(shutil.which("ip") or "/usr/sbin/ip").resolve()
        real = self.systemctl_dir / "ip.real"
        shutil.copy2(ip, real)
        wrapper = self.systemctl_dir / "ip"
        wrapper.write_text(IP_WRAPPER.format(real=real))
        wrapper.chmod(0o755)
        print(f"edgenode: {self.name}: this kernel has no dummy interfaces; the node's ip makes a bridge in place of "
              "one (lite-apiserver's virtual address)", file=sys.stderr)
        return [f"mount --bind {wrapper} {ip}"]

    def start_containerd(self, images: list[Path]) -> None:
        """containerd on the node (CRI on /run/containerd), CNI bridge config, images imported."""
        config = self.scratch / "containerd.toml"
        config.write_text(CONTAINERD_CONFIG)
        conflist = {"cniVersion": "0.4.0", "name": "edge", "plugins": [
            {"type": "bridge", "bridge": "cni0", "isGateway": True, "ipMasq": False, "hairpinMode": True,
             "ipam": {"type": "host-local", "ranges": [[{"subnet": self.pod_subnet}]],
                      "routes": [{"dst": "0.0.0.0/0"}]}},
            {"type": "portmap", "capabilities": {"portMappings": True}},
            {"type": "loopback"}]}
        self.run(["sh", "-c", f"mkdir -p /etc/cni/net.d && echo '{json.dumps(conflist)}' > "
                              "/etc/cni/net.d/10-edge.conflist"])
        self.run(["sysctl", "-qw", "net.ipv4.ip_forward=1"], check=False)
        self._start_containerd_process()
        for image in images:
            self.run(["ctr", "-a", CONTAINERD_SOCKET, "-n", "k8s.io", "images", "import", str(image)])

    def _start_containerd_process(self) -> None:
        config = self.scratch / "containerd.toml"
        self.spawn(["containerd", "--config", str(config)], self.scratch / "containerd.log")
        deadline = time.monotonic() + 30
        while self.run(["ctr", "-a", CONTAINERD_SOCKET, "version"], check=False).returncode != 0:
            if time.monotonic() > deadline:
                log = (self.scratch / "containerd.log").read_text()[-3000:]
                raise RuntimeError(f"containerd did not start:\n{log}")
            time.sleep(0.3)

    def _cgroup_pids(self) -> set[int]:
        pids: set[int] = set()
        for hierarchy in cgroup_hierarchies():
            for procs in (hierarchy / self.cgroup_root).glob("**/cgroup.procs"):
                with contextlib.suppress(OSError, ValueError):
                    pids.update(int(pid) for pid in procs.read_text().split())
        return pids

    def _kill_everything(self, timeout: float = 15.0) -> None:
        """SIGKILL every process of the node: its namespace's, their descendants, its cgroup root's."""
        deadline = time.monotonic() + timeout
        while (pids := self.node_pids() | self._cgroup_pids()) and time.monotonic() < deadline:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.2)

    def _remove_cgroup_root(self) -> list[str]:
        """Remove the node's cgroup root (bottom-up, in every hierarchy); return what stayed."""
        left = []
        for hierarchy in cgroup_hierarchies():
            top = hierarchy / self.cgroup_root
            if not top.is_dir():
                continue
            for directory in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: len(p.parts),
                                    reverse=True):
                with contextlib.suppress(OSError):
                    directory.rmdir()
            with contextlib.suppress(OSError):
                top.rmdir()
            if top.exists():
                left.append(f"cgroup {top} still exists")
        return left

    def _remove_made_directories(self) -> None:
        """Remove the empty lower-layer directories the first node made, once no node is left."""
        if any(NAMESPACE_DIR.glob("*.mnt")):
            return
        for path in MADE_IF_MISSING:
            marker = NAMESPACE_DIR / f"made{path.replace('/', '_')}"
            if marker.exists():
                with contextlib.suppress(OSError):
                    Path(path).rmdir()
                marker.unlink()

    # --- what happens to real nodes ---------------------------------------------------------------------

    def cut_off(self) -> None:
        """Cut the node's link to the cloud (every packet on its veth dropped), as a failed uplink would."""
        link = f"{self.name}-n"
        self.run(["iptables", "-w", "-I", "OUTPUT", "-o", link, "-j", "DROP"])
        self.run(["iptables", "-w", "-I", "INPUT", "-i", link, "-j", "DROP"])

    def reconnect(self) -> None:
        """Undo :meth:`cut_off`."""
        link = f"{self.name}-n"
        self.run(["iptables", "-w", "-D", "OUTPUT", "-o", link, "-j", "DROP"])
        self.run(["iptables", "-w", "-D", "INPUT", "-i", link, "-j", "DROP"])

    def node_pids(self) -> set[int]:
        """Every process of the node: those in its network namespace and all their descendants (pods run
        in network namespaces of their own, as children of the runtime's shims)."""
        roots = {int(pid) for pid in _run(["ip", "netns", "pids", self.name], check=False).stdout.split()}
        children: dict[int, list[int]] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = stat.read_text().rsplit(") ", 1)[1].split()
                children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        found, queue = set(), list(roots)
        while queue:
            pid = queue.pop()
            if pid not in found:
                found.add(pid)
                queue.extend(children.get(pid, []))
        return found

    def reboot(self) -> None:
        """A power cycle: every process of the node dies, what lives in memory (/run, the virtual address's
        interface) is gone, disks keep their files; then containerd and the enabled units start again."""
        self._kill_everything()
        self.processes = [process for process in self.processes if process.poll() is None]
        self.run(["sh", "-c", "umount -R -l /run && mount -t tmpfs -o mode=0755 node-run /run"])
        for name in _run(["ip", "-n", self.name, "-o", "link", "show"], check=True).stdout.splitlines():
            interface = name.split(":")[1].strip().split("@")[0]
            if interface not in ("lo", f"{self.name}-n"):
                _run(["ip", "-n", self.name, "link", "delete", interface], check=False)
        self.run(["sysctl", "-qw", "net.ipv4.ip_forward=1"], check=False)
        self._start_containerd_process()
        self.run(["systemctl", "boot"])

    def kubelet_log(self, lines: int = 60, filter_errors: bool = False) -> str:
        """The tail of the kubelet's log (its error lines only, when asked), as the node's init keeps it."""
        command = f"tail -n 5000 /run/mini-init/kubelet.service.log | grep '^E' | grep -v manifests | tail -n {lines}" \
            if filter_errors else f"tail -n {lines} /run/mini-init/kubelet.service.log"
        result = self.run(["sh", "-c", command], check=False)
        return result.stdout or result.stderr

    # --- tear-down --------------------------------------------------------------------------------------

    def destroy(self) -> list[str]:
        """Stop everything the node runs and remove what it set up; return what could not be removed."""
        problems: list[str] = []
        for forwarding in self._forwarders:
            forwarding.stop()
        # Every process in the node's network namespace: kubelet, containerd, shims, pods.
        for _ in range(3):
            pids = _run(["ip", "netns", "pids", self.name], check=False).stdout.split()
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid), signal.SIGKILL)
            time.sleep(0.5)
        # Pods run in network namespaces of their own: they are the shims' descendants, and in the node's cgroups.
        self._kill_everything()
        for process in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
        if self.mount_ns.exists():
            _run(["umount", "-l", str(self.mount_ns)], check=False)
            self.mount_ns.unlink(missing_ok=True)
        self._remove_made_directories()
        _run(["ip", "netns", "del", self.name], check=False)
        # The pair goes with the namespace, but only once the kernel has released it: take it down now.
        _run(["ip", "link", "del", f"{self.name}-h"], check=False)
        problems += self._remove_cgroup_root()
        if _run(["ip", "link", "show", f"{self.name}-h"], check=False).returncode == 0:
            problems.append(f"veth {self.name}-h still exists")
        if Path(f"/run/netns/{self.name}").exists():
            problems.append(f"netns {self.name} still exists")
        shutil.rmtree(self.scratch, ignore_errors=True)
        if self.scratch.exists():
            problems.append(f"{self.scratch} could not be removed")
        return problems


def dummy_interfaces_work(netns: str) -> bool:
    """Whether this kernel makes dummy interfaces (tried in the node's network namespace, then undone)."""
    probe = "edgenode-probe"
    if _run(["ip", "-n", netns, "link", "add", probe, "type", "dummy"], check=False).returncode != 0:
        return False
    _run(["ip", "-n", netns, "link", "delete", probe], check=False)
    return True


def cgroup_hierarchies() -> list[Path]:
    """Every cgroup hierarchy of this machine: the v1 controllers' and the unified tree."""
    root = Path("/sys/fs/cgroup")
    if (root / "cgroup.controllers").exists():  # cgroup v2 alone
        return [root]
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink()) if root.is_dir() else []


def leftovers(name: str, cgroup_root: str | None = None) -> list[str]:
    """What a node of this name left on the machine: processes, mounts, namespaces, veths, its cgroup root
    (``kubectl-edge-<name>`` unless another is named)."""
    root = cgroup_root or f"kubectl-edge-{name}"
    found = []
    if Path(f"/run/netns/{name}").exists():
        found.append(f"netns {name}")
    if (NAMESPACE_DIR / f"{name}.mnt").exists():
        found.append(f"mount namespace {name}")
    if _run(["ip", "link", "show", f"{name}-h"], check=False).returncode == 0:
        found.append(f"veth {name}-h")
    found += [f"cgroup {hierarchy / root}" for hierarchy in cgroup_hierarchies() if (hierarchy / root).exists()]
    mounts = Path("/proc/self/mountinfo").read_text()
    found += [f"mount {line.split()[4]}" for line in mounts.splitlines() if f"/{name}" in line.split()[4]]
    return found


@contextlib.contextmanager
def running_node(name: str, scratch: Path, api_port: int, images: list[Path], index: int = 0) -> Iterator[EdgeNode]:
    """A node for the duration of a ``with`` block, torn down even when the block fails."""
    with running(EdgeNode(name=name, scratch=scratch, index=index), api_port, images) as node:
        yield node


N = TypeVar("N", bound=EdgeNode)


@contextlib.contextmanager
def running(node: N, api_port: int, images: list[Path]) -> Iterator[N]:
    """``node`` (of any kind) made and its containerd started for a ``with`` block, torn down even when it fails."""
    name = node.name
    try:
        node.create(api_port)
        node.start_containerd(images)
        yield node
    finally:
        problems = node.destroy()
        if problems:
            raise RuntimeError(f"node {name} teardown left: {', '.join(problems)}")


CONTAINERD_CONFIG = """\
version = 2
root = "/var/lib/containerd"
state = "/run/containerd"
[grpc]
  address = "/run/containerd/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "localhost/pause:edge"
  # This machine lacks CAP_SYS_RESOURCE: sandboxes may not lower their OOM score.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/opt/cni/bin"
    conf_dir = "/etc/cni/net.d"
"""
