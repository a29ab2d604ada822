"""Phase 7, start: start the services, then wait for kubelet's TLS bootstrap and the Node's registration.

systemd is reached only through :func:`edge_installer.system.systemctl`. What the started services write
(kubelet's certificates and state, lite-apiserver's cache) is journaled before they start, so reset
removes it too.
"""

from __future__ import annotations

import os
import ssl
from typing import Callable, List, Optional, TypeVar

from edge_installer import system
from edge_installer.apiclient import TransportError, request, trusting_context
from edge_installer.config import (
    DUMMY_INTERFACE,
    KUBELET_DIR,
    KUBELET_KUBECONFIG,
    LITE_APISERVER_CACHE,
    POD_LOG_DIRS,
    cri_endpoint,
)
from edge_installer.join import JoinContext
from edge_installer.kubeconfig import read_kubelet_kubeconfig
from edge_installer.poll import poll

T = TypeVar("T")
PHASE = "start"
_POLL = 0.5
_TROUBLESHOOT = ("see why with: systemctl status kubelet; journalctl -xeu kubelet (a missing container runtime is the "
                 "usual cause)")
_TROUBLESHOOT_AUTONOMY = ("kubelet talks to the API server through lite-apiserver: see why with systemctl status "
                          "lite-apiserver kubelet; journalctl -u lite-apiserver (its requests upstream, its cache "
                          "errors); journalctl -xeu kubelet")


def run(context: JoinContext) -> None:
    """Start lite-apiserver (with edge autonomy) and kubelet; wait until the node has joined."""
    changes = context.changes
    autonomy = context.autonomy()
    for directory in POD_LOG_DIRS:
        # kubelet makes them; made here first, they are journaled and reset removes them once empty.
        changes.ensure_dir(PHASE, directory)
    changes.expect_runtime_state(PHASE, [KUBELET_KUBECONFIG, KUBELET_DIR, *POD_LOG_DIRS] +
                                 ([LITE_APISERVER_CACHE] if autonomy.on else []))
    changes.run_command(PHASE, ["systemctl", "daemon-reload"], [])
    if autonomy.on:
        changes.run_command(PHASE, ["systemctl", "enable", "lite-apiserver"],
                            [["systemctl", "disable", "lite-apiserver"]])
        changes.run_command(PHASE, ["systemctl", "restart", "lite-apiserver"],
                            [["systemctl", "stop", "lite-apiserver"], *_interface_undo(context)])
    changes.run_command(PHASE, ["systemctl", "enable", "kubelet"], [["systemctl", "disable", "kubelet"]])
    # As kubeadm reset does: once kubelet is stopped, the pods it started are removed through the CRI.
    changes.run_command(PHASE, ["systemctl", "restart", "kubelet"],
                        [["systemctl", "stop", "kubelet"], remove_pods_argv(context.options.cri_socket)])
    if context.options.dry_run:
        return
    _wait_for_bootstrap(context)
    _wait_for_node(context)


def remove_pods_argv(cri_socket: str) -> List[str]:
    """crictl's command that stops and removes every pod sandbox (and its containers) of the runtime."""
    return ["crictl", "--runtime-endpoint", cri_endpoint(cri_socket), "rmp", "--all", "--force"]


def _interface_undo(context: JoinContext) -> List[List[str]]:
    """Undo for the virtual address: delete the interface lite-apiserver's unit makes, or only the address when
    the interface was there before join (never remove what edgeadm did not make)."""
    autonomy = context.autonomy()
    if context.options.dry_run or not system.interface_exists(DUMMY_INTERFACE):
        return [["ip", "link", "delete", DUMMY_INTERFACE]]
    prefix = 128 if ":" in (autonomy.virtual_address or "") else 32
    return [["ip", "addr", "delete", f"{autonomy.virtual_address}/{prefix}", "dev", DUMMY_INTERFACE]]


def _poll(context: JoinContext, check: Callable[[], Optional[T]], what: Callable[[], str]) -> T:
    """Wait for ``check`` up to ``--timeout``, saying every 10 s what is still awaited."""
    hint = _TROUBLESHOOT_AUTONOMY if context.autonomy().on else _TROUBLESHOOT
    return poll(check, context.options.timeout, _POLL, what=what, hint=hint,
                progress=lambda line: context.out.progress(PHASE, line))


def client_certificate(changes_host: Callable[[str], str], kubeconfig_path: str) -> Optional[str]:
    """The client certificate file ``kubelet.conf`` names, when both exist; else None.

    kubelet 1.37 writes ``kubelet.conf`` before its CSR is issued: only the certificate file proves the
    bootstrap finished.
    """
    try:
        with open(kubeconfig_path, encoding="utf-8") as handle:
            fields = read_kubelet_kubeconfig(handle.read())
    except OSError:
        return None
    named = fields.get("client-certificate")
    if not named:
        return None
    path = changes_host(named)
    return path if os.path.isfile(path) and os.path.getsize(path) > 0 else None


def _wait_for_bootstrap(context: JoinContext) -> None:
    path = context.changes.host(KUBELET_KUBECONFIG)
    context.out.progress(PHASE, f"waiting for kubelet's TLS bootstrap ({path} and the client certificate it names)")

    def what() -> str:
        if os.path.exists(path):
            return (f"kubelet's client certificate ({path} exists; the certificate it names does not yet: is the CSR "
                    "approved? kubectl get csr)")
        return f"kubelet's TLS bootstrap ({path})"

    certificate = _poll(context, lambda: client_certificate(context.changes.host, path), what)
    context.out.progress(PHASE, f"kubelet has its client certificate ({certificate})")


def _wait_for_node(context: JoinContext) -> None:
    found = context.discovery()
    name = context.options.node_name

    def registered() -> Optional[bool]:
        with open(context.changes.host(KUBELET_KUBECONFIG), encoding="utf-8") as handle:
            fields = read_kubelet_kubeconfig(handle.read())
        certificate = fields.get("client-certificate")
        if not certificate:
            return None
        tls = trusting_context(found.ca_pem)
        try:
            tls.load_cert_chain(context.changes.host(certificate), context.changes.host(fields.get("client-key")
                                                                                        or certificate))
            answer = request(found.host, found.port, f"/api/v1/nodes/{name}", tls, found.server_name)
        except (OSError, ssl.SSLError, TransportError):
            return None  # kubelet is still writing its files, or the node is not registered yet
        return True if answer.status == 200 else None

    _poll(context, registered, lambda: f"the Node {name} to register")
    context.out.progress(PHASE, f"the Node {name} is registered")
    context.out.data("\nThis node has joined the cluster:\n"
                     "* Certificate signing request was sent to apiserver and a response was received.\n"
                     "* The Kubelet was informed of the new secure connection details.\n\n"
                     "Run 'kubectl get nodes' on the control-plane to see this node join the cluster.\n")
