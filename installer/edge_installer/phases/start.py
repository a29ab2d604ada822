"""Phase 7, start: start the services, then wait for kubelet's TLS bootstrap and the Node's registration.

systemd is reached only through :func:`edge_installer.system.systemctl`. What the started services write
(kubelet's certificates and state, lite-apiserver's cache) is journaled before they start, so reset
removes it too.
"""

from __future__ import annotations

import os
import ssl
import time

from edge_installer.apiclient import TransportError, request, trusting_context
from edge_installer.config import (
    DUMMY_INTERFACE,
    KUBELET_DIR,
    KUBELET_KUBECONFIG,
    LITE_APISERVER_CACHE,
)
from edge_installer.errors import WaitTimeout
from edge_installer.join import JoinContext
from edge_installer.kubeconfig import read_kubelet_kubeconfig

PHASE = "start"
_POLL = 2.0
_REPORT_EVERY = 10.0
_TROUBLESHOOT = ("see why with: systemctl status kubelet; journalctl -xeu kubelet (a missing container runtime is the "
                 "usual cause)")


def run(context: JoinContext) -> None:
    """Start lite-apiserver (with edge autonomy) and kubelet; wait until the node has joined."""
    changes = context.changes
    autonomy = context.autonomy()
    changes.expect_runtime_state(PHASE, [KUBELET_KUBECONFIG, KUBELET_DIR] +
                                 ([LITE_APISERVER_CACHE] if autonomy.on else []))
    changes.run_command(PHASE, ["systemctl", "daemon-reload"], [])
    if autonomy.on:
        changes.run_command(PHASE, ["systemctl", "enable", "lite-apiserver"],
                            [["systemctl", "disable", "lite-apiserver"]])
        changes.run_command(PHASE, ["systemctl", "restart", "lite-apiserver"],
                            [["systemctl", "stop", "lite-apiserver"], ["ip", "link", "delete", DUMMY_INTERFACE]])
    changes.run_command(PHASE, ["systemctl", "enable", "kubelet"], [["systemctl", "disable", "kubelet"]])
    changes.run_command(PHASE, ["systemctl", "restart", "kubelet"], [["systemctl", "stop", "kubelet"]])
    if context.options.dry_run:
        return
    _wait_for_bootstrap(context)
    _wait_for_node(context)


def _wait(context: JoinContext, what: str, started: float) -> None:
    elapsed = time.monotonic() - started
    if elapsed > context.options.timeout:
        raise WaitTimeout(f"timed out after {elapsed:.0f} s waiting for {what}", _TROUBLESHOOT)
    if int(elapsed // _REPORT_EVERY) != int((elapsed - _POLL) // _REPORT_EVERY):
        context.out.progress(PHASE, f"waiting for {what} ({elapsed:.0f} s)")
    time.sleep(_POLL)


def _wait_for_bootstrap(context: JoinContext) -> None:
    path = context.changes.host(KUBELET_KUBECONFIG)
    started = time.monotonic()
    context.out.progress(PHASE, f"waiting for kubelet's TLS bootstrap ({path})")
    while not os.path.exists(path):
        _wait(context, f"kubelet's TLS bootstrap ({path})", started)
    context.out.progress(PHASE, "kubelet has its client certificate")


def _wait_for_node(context: JoinContext) -> None:
    found = context.discovery()
    name = context.options.node_name
    started = time.monotonic()
    while True:
        with open(context.changes.host(KUBELET_KUBECONFIG), encoding="utf-8") as handle:
            fields = read_kubelet_kubeconfig(handle.read())
        certificate = fields.get("client-certificate")
        if certificate:
            tls = trusting_context(found.ca_pem)
            try:
                tls.load_cert_chain(context.changes.host(certificate), context.changes.host(fields.get("client-key")
                                                                                            or certificate))
                answer = request(found.host, found.port, f"/api/v1/nodes/{name}", tls, found.server_name)
                if answer.status == 200:
                    break
            except (OSError, ssl.SSLError, TransportError):
                pass  # kubelet is still writing its files, or the node is not registered yet
        _wait(context, f"the Node {name} to register", started)
    context.out.progress(PHASE, f"the Node {name} is registered")
    context.out.data("\nThis node has joined the cluster:\n"
                     "* Certificate signing request was sent to apiserver and a response was received.\n"
                     "* The Kubelet was informed of the new secure connection details.\n\n"
                     "Run 'kubectl get nodes' on the control-plane to see this node join the cluster.\n")
