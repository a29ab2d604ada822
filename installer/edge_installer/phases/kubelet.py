"""Phase 6, kubelet: the files kubeadm's kubelet-start writes, so kubelet can TLS-bootstrap itself.

``/etc/kubernetes/bootstrap-kubelet.conf`` (server, CA, token; mode 0600), ``/etc/kubernetes/pki/ca.crt``,
``/var/lib/kubelet/config.yaml`` (the cluster's kubelet-config, byte for byte as the ConfigMap holds its
YAML: kubelet reads YAML, and edgeadm has no YAML library to re-encode it with), ``kubeadm-flags.env``
(runtime endpoint, node name, the labels of SPEC 1) and the systemd unit with kubeadm's drop-in.
"""

from __future__ import annotations

import shlex

from edge_installer.config import (
    BOOTSTRAP_KUBECONFIG,
    CA_CERT,
    KUBELET_BINARY,
    KUBELET_CONFIG,
    KUBELET_DROP_IN,
    KUBELET_FLAGS,
    KUBELET_KUBECONFIG,
    KUBELET_UNIT,
    cri_endpoint,
)
from edge_installer.join import JoinContext
from edge_installer.kubeconfig import bootstrap_kubeconfig
from edge_installer.kubeletca import KUBELET_CLIENT_CA, read_client_ca

PHASE = "kubelet"

UNIT = (
    "[Unit]\n"
    "Description=kubelet: The Kubernetes Node Agent\n"
    "Documentation=https://kubernetes.io/docs/\n"
    "Wants=network-online.target\n"
    "After=network-online.target\n"
    "\n"
    "[Service]\n"
    f"ExecStart={KUBELET_BINARY}\n"
    "Restart=always\n"
    "StartLimitInterval=0\n"
    "RestartSec=10\n"
    "\n"
    "[Install]\n"
    "WantedBy=multi-user.target\n"
)

DROP_IN = (
    "# Written by edgeadm join, as kubeadm writes it.\n"
    "[Service]\n"
    f'Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig={BOOTSTRAP_KUBECONFIG} '
    f'--kubeconfig={KUBELET_KUBECONFIG}"\n'
    f'Environment="KUBELET_CONFIG_ARGS=--config={KUBELET_CONFIG}"\n'
    f"EnvironmentFile=-{KUBELET_FLAGS}\n"
    "EnvironmentFile=-/etc/default/kubelet\n"
    "EnvironmentFile=-/etc/sysconfig/kubelet\n"
    "ExecStart=\n"
    f"ExecStart={KUBELET_BINARY} $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS "
    "$KUBELET_EXTRA_ARGS\n"
)


def flags(context: JoinContext, client_ca: bool = False) -> str:
    """``kubeadm-flags.env``: ``KUBELET_KUBEADM_ARGS`` with the runtime, the node name and the labels."""
    labels = ",".join(f"{key}={value}" for key, value in context.node_labels().items())
    args = [f"--container-runtime-endpoint={cri_endpoint(context.options.cri_socket)}",
            f"--hostname-override={context.options.node_name}", f"--node-labels={labels}"]
    if client_ca:
        # The cluster's client CA is not cluster-info's CA: the flag wins over kubelet-config's clientCAFile.
        args.append(f"--client-ca-file={KUBELET_CLIENT_CA}")
    autonomy = context.autonomy()
    if autonomy.on and autonomy.virtual_address:
        # SuperEdge's choice: pods on edge nodes resolve names with edge-coredns on the virtual address.
        args.append(f"--cluster-dns={autonomy.virtual_address}")
        gates = autonomy.kubelet_fit.flag()
        if gates:
            # Merged over the cluster's kubelet-config featureGates by kubelet itself; the flag wins.
            args.append(f"--feature-gates={gates}")
    return f'KUBELET_KUBEADM_ARGS="{" ".join(shlex.quote(arg) for arg in args)}"\n'


def run(context: JoinContext) -> None:
    """Write kubelet's bootstrap kubeconfig, CA, configuration, flags and unit files."""
    found = context.discovery()
    token = context.options.token
    changes = context.changes
    server = context.kubelet_server()
    kubeconfig = bootstrap_kubeconfig(server, found.ca_pem, token.value)
    changes.write_file(PHASE, BOOTSTRAP_KUBECONFIG, kubeconfig.encode(), 0o600,
                       shown=kubeconfig.replace(token.value, f"{token.id}.<secret hidden>"))
    changes.write_file(PHASE, CA_CERT, found.ca_pem.encode(), 0o644)
    client_ca = read_client_ca(found, token)
    if client_ca:
        changes.write_file(PHASE, KUBELET_CLIENT_CA, client_ca.encode(), 0o644)
        context.out.progress(PHASE, "the cluster's client CA is not its serving CA: kubelet trusts "
                                    f"{changes.host(KUBELET_CLIENT_CA)} (kube-system/kubectl-edge-kubelet-client-ca) "
                                    "for the API server's client certificate, so logs and exec work")
    changes.write_file(PHASE, KUBELET_CONFIG, found.kubelet_config.encode("utf-8"), 0o644)
    changes.write_file(PHASE, KUBELET_FLAGS, flags(context, bool(client_ca)).encode(), 0o644)
    changes.write_file(PHASE, KUBELET_UNIT, UNIT.encode(), 0o644)
    changes.write_file(PHASE, KUBELET_DROP_IN, DROP_IN.encode(), 0o644)
    if not context.options.dry_run:
        context.out.progress(PHASE, f"wrote {changes.host(BOOTSTRAP_KUBECONFIG)} (server {server}), the CA, "
                                    f"{changes.host(KUBELET_CONFIG)} from {found.kubelet_config_name}, the flags and "
                                    "the systemd unit")
